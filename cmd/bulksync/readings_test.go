package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

// A query answer without amazonIdType, or with another spelling of the one
// type the API takes, is that type: a second run makes no write.
func TestListedTypeIsNotAChange(t *testing.T) {
	for _, reading := range []string{emulator.FieldOmitted, "COMMUNICATION_PROFILE"} {
		t.Run(reading, func(t *testing.T) {
			a := startAPI(t, emulator.Options{QueryAmazonIDType: reading})
			h := newHotel(60)
			a.seed(t, h.existing)
			dir := t.TempDir()
			in := writeFile(t, dir, "rooms.csv", h.csv)
			for _, args := range [][]string{nil, {"--prune"}} {
				if res := a.sync(t, nil, append(args, "--max-deletes", "-1", "--report", filepath.Join(dir, "r.csv"), in)...); res.code != 0 {
					t.Fatalf("sync %v: exit %d:\n%s", args, res.code, res.stderr)
				}
				a.ResetStats()
				if res := a.sync(t, nil, append(args, "--report", filepath.Join(dir, "r.csv"), in)...); res.code != 0 || writes(a.Stats()) != 0 {
					t.Errorf("second sync %v: exit %d with %d writes, want 0 and none:\n%s", args, res.code, writes(a.Stats()), res.stderr)
				}
			}
		})
	}
}

// An in-skill product listed with an empty (or no) id is checked as input
// is: never sent as DELETE /v1/inSkillProducts//skills/S, and, where
// --prune would delete it, reported failed.
func TestBlankListedProductIsNeverSent(t *testing.T) {
	for _, reading := range []string{emulator.FieldEmpty, emulator.FieldOmitted} {
		t.Run(reading, func(t *testing.T) {
			a := startAPI(t, emulator.Options{ISPBlankID: reading})
			ids := a.seedProducts(4)
			a.Associate("development", ids[0], skillN(1))
			a.Associate("development", ids[1], skillN(1))
			dir := t.TempDir()
			in := writeFile(t, dir, "p.csv", "skillId,productId\n"+skillN(1)+","+ids[1]+"\n")
			rep := filepath.Join(dir, "r.csv")
			res := a.products(t, "sync", "--prune", "--max-deletes", "-1", "--report", rep, in)
			if res.code != 7 {
				t.Errorf("exit %d, want 7 (an association no rerun can check):\n%s", res.code, res.stderr)
			}
			st := a.Stats()
			if n := st.Count("unrouted", ""); n != 0 {
				t.Errorf("%d calls to a path with an empty segment", n)
			}
			found := false
			for _, r := range readReport(t, rep) {
				if r["error_type"] == "INVALID_LISTING" {
					found = r["outcome"] == "failed" && r["product_id"] == "" && strings.Contains(r["error_message"], "productId is empty")
				}
			}
			if !found {
				t.Errorf("no failed INVALID_LISTING row for the blank product:\n%s", res.stderr)
			}
		})
	}
}

// A listing that never ends is stopped by what its answers said: once it
// holds the associations its total promised, the next page that brings
// nothing new ends it, and the rows say it could not be read.
func TestEndlessListingsEnd(t *testing.T) {
	for _, mode := range []string{emulator.PagesEmpty, emulator.PagesRepeat, emulator.PagesSameToken} {
		t.Run("rooms/"+mode, func(t *testing.T) {
			a := startAPI(t, emulator.Options{EndlessPages: mode, PageSize: 10})
			h := newHotel(25)
			a.seed(t, h.existing)
			in := writeFile(t, t.TempDir(), "rooms.csv", h.csv)
			res := a.sync(t, nil, "--prune", "--max-deletes", "-1", "--report", filepath.Join(t.TempDir(), "r.csv"), in)
			if res.code != 1 || writes(a.Stats()) != 0 {
				t.Errorf("exit %d with %d writes, want 1 and none:\n%s", res.code, writes(a.Stats()), res.stderr)
			}
			// 35 associations, 4 pages, and at most one more to see the end
			// is not coming; a repeated token ends it at once.
			if n := a.Stats().Count("association.query", ""); n > 5 {
				t.Errorf("%d list calls, want at most 5", n)
			}
		})
		t.Run("products/"+mode, func(t *testing.T) {
			a := startAPI(t, emulator.Options{EndlessPages: mode, ISPPageSize: 2})
			ids := a.seedProducts(3)
			for _, p := range ids {
				a.Associate("development", p, skillN(1))
			}
			in := writeFile(t, t.TempDir(), "p.csv", "skillId,productId\n"+skillN(1)+","+ids[0]+"\n")
			res := a.products(t, "sync", "--prune", "--max-deletes", "-1", "--report", filepath.Join(t.TempDir(), "r.csv"), in)
			if res.code != 1 || productWrites(a.Stats()) != 0 {
				t.Errorf("exit %d with %d writes, want 1 and none:\n%s", res.code, productWrites(a.Stats()), res.stderr)
			}
			if n := a.Stats().Count("skill.products", ""); n > 2+10 {
				t.Errorf("%d list calls, want at most 12", n)
			}
		})
	}
}

// An API message's control characters are escaped before they reach the
// report or a terminal, and so are the ids and values an API lists.
func TestControlCharactersFromTheAPIAreEscaped(t *testing.T) {
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"type":"BAD_REQUEST\u001b[7m","message":"no \u001b[2J\u001b]0;owned\u0007\u202e thanks"}`)
	}))
	defer hostile.Close()
	a := startAPI(t, emulator.Options{})
	a.seed(t, map[string]string{"7201": "amzn1.a", "72\x1b[2J02": "amzn1.b\x1b[31m"})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	for _, tc := range []struct {
		name, endpoint string
		args           []string
	}{
		{"an API message", hostile.URL, nil},
		{"a listed id", a.url, []string{"--prune", "--max-deletes", "-1"}},
	} {
		for _, format := range []string{"console", "json"} {
			rep := filepath.Join(dir, "r.csv")
			res := runCLI(t, []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, append([]string{"sync", "--endpoint", tc.endpoint, "--service-provider-id", sp,
				"--max-attempts", "1", "--log-format", format, "--log-level", "debug", "--report", rep, in}, tc.args...)...)
			// A 400, and an id no row could name, are refused for good.
			if res.code != 7 {
				t.Errorf("%s, %s logs: exit %d, want 7:\n%s", tc.name, format, res.code, res.stderr)
			}
			b, _ := os.ReadFile(rep)
			for name, out := range map[string]string{"report": string(b), "stderr": res.stderr, "stdout": res.stdout} {
				// The console's own colours are ESC sequences; the API's are not
				// among them.
				if strings.ContainsAny(out, "\x07\u202e") || strings.Contains(out, "\x1b[2J") || strings.Contains(out, "\x1b]0;") ||
					strings.Contains(out, "\x1b[7m") || strings.Contains(out, "\x1b[31m") && format == "json" {
					t.Errorf("%s, %s logs: the %s holds a raw control character:\n%q", tc.name, format, name, out)
				}
			}
			if !strings.Contains(string(b), `\x1b[2J`) {
				t.Errorf("%s: the report does not show the escaped text:\n%s", tc.name, b)
			}
		}
	}
	// A plan shows what the API had: escaped too.
	p := startAPI(t, emulator.Options{})
	p.seed(t, map[string]string{"7201": "amzn1.old\x1b[7m"})
	res := p.cmd(t, "plan", nil, "--log-format", "console", "--report", filepath.Join(dir, "r.csv"), in)
	if res.code != 0 || !strings.Contains(res.stderr, `amzn1.old\x1b[7m -> amzn1.a`) {
		t.Errorf("plan: exit %d, want 0 showing the escaped previous value:\n%q", res.code, res.stderr)
	}
}

// Small exits: which code wins, where - goes, what an Indexed Job's
// environment must say, what an endpoint must name.
func TestSmallExits(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	t.Chdir(dir)
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n7202,\n")
	rep := filepath.Join(dir, "r.csv")
	// A change and an invalid row: the change is not hidden behind exit 7.
	if res := a.cmd(t, "plan", nil, "--detailed-exitcode", "--report", rep, in); res.code != 5 {
		t.Errorf("plan --detailed-exitcode with a change and an invalid row: exit %d, want 5:\n%s", res.code, res.stderr)
	}
	res := a.cmd(t, "plan", nil, "--summary", "-", "--report", rep, in)
	if res.code != 7 || !strings.Contains(res.stdout, `"command": "plan"`) || !strings.Contains(res.stdout, `"exit_code": 7`) {
		t.Errorf("--summary -: exit %d, stdout %q", res.code, res.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
		t.Errorf("--summary - wrote a file named -")
	}
	if res := a.cmd(t, "plan", nil, "--summary", "-", "--report", "-", in); res.code != 2 || res.stdout != "" {
		t.Errorf("--summary - with --report -: exit %d, stdout %q; want 2 and nothing", res.code, res.stdout)
	}
	for _, env := range [][]string{{"JOB_COMPLETION_INDEX=1"}, {"BULKSYNC_SHARD_COUNT=4"}} {
		if res := a.sync(t, env, "--report", rep, in); res.code != 2 || writes(a.Stats()) != 0 {
			t.Errorf("%v alone: exit %d with %d writes, want 2 and none", env, res.code, writes(a.Stats()))
		}
	}
	if res := runCLI(t, []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, "sync", "--endpoint", "http://127.0.0.1:", "--service-provider-id", sp, in); res.code != 2 ||
		!strings.Contains(res.stderr, "empty port") {
		t.Errorf("--endpoint http://127.0.0.1: : exit %d, want 2:\n%s", res.code, res.stderr)
	}
}
