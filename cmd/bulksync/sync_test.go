package main

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

func TestSyncMix(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	a.seed(t, map[string]string{"7201": "amzn1.same", "7202": "amzn1.old", "7204": "amzn1.gone"})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", `externalUserId,amazonId,action
7201,amzn1.same,
7202,amzn1.new,upsert
7203,amzn1.fresh,
7204,,delete
7205,,delete
`)
	rep := filepath.Join(dir, "report.csv")
	res := a.sync(t, nil, "--max-deletes", "1", "--report", rep, in)
	if res.code != 0 {
		t.Fatalf("exit %d, want 0: %s", res.code, res.stderr)
	}
	want := map[string]string{"7201": "amzn1.same", "7202": "amzn1.new", "7203": "amzn1.fresh"}
	if got := a.Associations(sp); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("final state: got %v, want %v", got, want)
	}
	rows := byID(t, readReport(t, rep))
	expect := []struct{ id, line, action, outcome, prev, status string }{
		{"7201", "2", "none", "unchanged", "amzn1.same", ""},
		{"7202", "3", "update", "updated", "amzn1.old", "200"},
		{"7203", "4", "create", "created", "", "201"},
		{"7204", "5", "delete", "deleted", "amzn1.gone", "200"},
		{"7205", "6", "none", "unchanged", "", ""},
	}
	if len(rows) != len(expect) {
		t.Errorf("report: got %d rows, want %d", len(rows), len(expect))
	}
	for _, e := range expect {
		r := rows[e.id]
		if r["line"] != e.line || r["action"] != e.action || r["outcome"] != e.outcome || r["previous_amazon_id"] != e.prev || r["http_status"] != e.status || r["file"] != in {
			t.Errorf("row %s: got %v, want line %s %s/%s prev %q status %q", e.id, r, e.line, e.action, e.outcome, e.prev, e.status)
		}
	}
	if ev := endEvent(t, res.stderr); fmt.Sprint(ev["outcomes"]) != "map[created:1 deleted:1 unchanged:2 updated:1]" || ev["rows"] != 5.0 {
		t.Errorf("closing event: %v", ev)
	}

	a.ResetStats()
	if res := a.sync(t, nil, "--max-deletes", "1", "--report", rep, in); res.code != 0 {
		t.Fatalf("second run: exit %d: %s", res.code, res.stderr)
	}
	if n := writes(a.Stats()); n != 0 {
		t.Errorf("second run made %d writes, want 0", n)
	}
}

// The fewest calls: ⌈ids/30⌉ queries per provider, plus the pages the
// server's page limit forces, and exactly one write per change. Two
// providers, so batches never mix them.
func TestMinimalCalls(t *testing.T) {
	const pageSize = 10
	a := startAPI(t, emulator.Options{PageSize: pageSize})
	providers := []string{sp, "amzn1.comms.csp.id.second"}
	existing := map[string]map[string]string{}
	var b strings.Builder
	b.WriteString("serviceProviderId,externalUserId,amazonId\n")
	changes := 0
	wantQueries := 0
	for pi, p := range providers {
		existing[p] = map[string]string{}
		n := 95 - 40*pi // 95 rooms, then 55
		for i := 0; i < n; i += 3 {
			existing[p][fmt.Sprint(8000+i)] = "amzn1.old"
		}
		a.Put(p, existing[p])
		for i := 0; i < n; i++ {
			id := fmt.Sprint(8000 + i)
			amz := "amzn1.old"
			if i%2 == 0 {
				amz = "amzn1.new"
			}
			if existing[p][id] != amz {
				changes++
			}
			fmt.Fprintf(&b, "%s,%s,%s\n", p, id, amz)
		}
		// Each batch of 30 ids costs one query, plus a page per further 10 found.
		for start := 0; start < n; start += 30 {
			found := 0
			for i := start; i < min(start+30, n); i++ {
				if _, ok := existing[p][fmt.Sprint(8000+i)]; ok {
					found++
				}
			}
			wantQueries += max(1, int(math.Ceil(float64(found)/pageSize)))
		}
	}
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", b.String())
	if res := a.sync(t, nil, "--report", filepath.Join(dir, "r.csv"), in); res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	s := a.Stats()
	if got := s.Count("association.query", ""); got != wantQueries {
		t.Errorf("queries: got %d, want %d", got, wantQueries)
	}
	if got := writes(s); got != changes {
		t.Errorf("writes: got %d, want %d (one per change)", got, changes)
	}
	if s.Total != wantQueries+changes {
		t.Errorf("total calls: got %d, want %d", s.Total, wantQueries+changes)
	}
	for _, p := range providers {
		for id, amz := range a.Associations(p) {
			if i, _ := strconv.Atoi(id); (i-8000)%2 == 0 && amz != "amzn1.new" {
				t.Errorf("%s %s: %s, want amzn1.new", p, id, amz)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name, content string
		code          int
		stderr        []string
		applied       map[string]string
		invalid       int
	}{
		{"missing column", "room,guest\n7201,Jane\n", 2,
			[]string{"rooms.csv:1: required column amazonId (or communicationProfileId, profileId) is missing"}, map[string]string{}, 0},
		{"bad ids, valid rows still apply", "externalUserId,amazonId\n7201,amzn1.ok\n7202,\n7203,profile-x\n,amzn1.y\n", 7,
			nil, map[string]string{"7201": "amzn1.ok"}, 3},
		{"conflicting duplicates", "externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n7201,amzn1.c\n7202,amzn1.b\n", 7,
			nil, map[string]string{"7202": "amzn1.b"}, 2},
		{"semicolon with BOM and CRLF", "\ufeffExtension;Profile ID\r\n7201;amzn1.a\r\n7202;amzn1.b\r\n", 0,
			nil, map[string]string{"7201": "amzn1.a", "7202": "amzn1.b"}, 0},
		{"binary file", "PK\x03\x04\x14\x00\x00\x00\x08\x00", 2,
			[]string{"rooms.csv: file is not text"}, map[string]string{}, 0},
		{"unclosed quote", "externalUserId,amazonId\n7201,amzn1.a\n\"7202,amzn1.b\n", 2,
			[]string{"rooms.csv:3: a quoted field is never closed"}, map[string]string{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startAPI(t, emulator.Options{})
			dir := t.TempDir()
			in := writeFile(t, dir, "rooms.csv", tt.content)
			rep := filepath.Join(dir, "report.csv")
			res := a.sync(t, nil, "--report", rep, in)
			if res.code != tt.code {
				t.Fatalf("exit: got %d, want %d\n%s", res.code, tt.code, res.stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(res.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, res.stderr)
				}
			}
			if got := a.Associations(sp); fmt.Sprint(got) != fmt.Sprint(tt.applied) {
				t.Errorf("state: got %v, want %v", got, tt.applied)
			}
			if tt.code == 2 {
				if s := a.Stats(); s.Total != 0 {
					t.Errorf("a rejected input made %d calls, want 0", s.Total)
				}
				return
			}
			invalid := 0
			for _, r := range readReport(t, rep) {
				if r["outcome"] == "invalid" {
					invalid++
					if r["error_message"] == "" || r["line"] == "" || r["file"] != in {
						t.Errorf("invalid row without file, line and reason: %v", r)
					}
				}
			}
			if invalid != tt.invalid {
				t.Errorf("invalid rows: got %d, want %d", invalid, tt.invalid)
			}
		})
	}
}

func TestInvalidRowMessage(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n7202,\n7203,amzn1.c\n7203,amzn1.c\n")
	res := runCLI(t, nil, "validate", "--log-format", "console", "--service-provider-id", sp, in)
	if res.code != 7 || !strings.Contains(res.stdout, in+":3: amazonId is required for action upsert") {
		t.Errorf("validate: exit %d, stdout %q", res.code, res.stdout)
	}
	if !strings.Contains(res.stdout, in+":5: duplicate, same as "+in+":4") || !strings.Contains(res.stderr, "4 rows: 2 valid, 1 duplicate, 1 invalid") {
		t.Errorf("validate: stdout %q, stderr %q", res.stdout, res.stderr)
	}
	clean := writeFile(t, dir, "clean.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	if res := runCLI(t, nil, "validate", "--service-provider-id", sp, clean); res.code != 0 || res.stdout != "" {
		t.Errorf("clean file: exit %d, stdout %q", res.code, res.stdout)
	}
	if res := runCLI(t, nil, "validate", "--service-provider-id", "nope", clean); res.code != 2 {
		t.Errorf("bad provider: exit %d, want 2: %s", res.code, res.stderr)
	}
	// With JSON logs, stderr is JSON lines only: the counts are an event.
	res = runCLI(t, nil, "validate", "--log-format", "json", "--service-provider-id", sp, in)
	for _, line := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Errorf("JSON mode: a line that is not JSON: %q", line)
		}
	}
	if !strings.Contains(res.stderr, `"rows":4,"valid":2,"duplicate":1,"invalid":1`) || res.code != 7 {
		t.Errorf("JSON mode: exit %d, stderr %s", res.code, res.stderr)
	}
	res = runCLI(t, nil, "validate", "--log-format", "json", "--service-provider-id", sp, filepath.Join(dir, "missing.csv"))
	if res.code != 2 || strings.Contains(res.stderr, "bulksync: ") || !strings.Contains(res.stderr, `"exit_code":2`) {
		t.Errorf("JSON mode, unreadable file: exit %d, stderr %s", res.code, res.stderr)
	}
}

func TestGuards(t *testing.T) {
	seedIDs := map[string]string{}
	var deletes strings.Builder
	deletes.WriteString("externalUserId,action\n")
	for i := 0; i < 20; i++ {
		seedIDs[fmt.Sprint(9000+i)] = "amzn1.x"
		if i < 3 {
			fmt.Fprintf(&deletes, "%d,delete\n", 9000+i)
		}
	}
	tests := []struct {
		name    string
		content string
		args    []string
		code    int
		msg     string
	}{
		{"max-deletes share", deletes.String(), nil, 3, "max-deletes 10%: the plan deletes 3 of the 20 associations"},
		{"max-deletes count", deletes.String(), []string{"--max-deletes", "2"}, 3, "max-deletes 2: the plan deletes 3"},
		{"max-deletes off", deletes.String(), []string{"--max-deletes", "-1"}, 0, `"deleted":3`},
		{"empty input", "externalUserId,amazonId\n", nil, 3, "input has no valid row"},
		{"strict", "externalUserId,amazonId\n9100,amzn1.a\n9101,\n", []string{"--strict"}, 2, "strict mode: 1 invalid row; nothing was sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startAPI(t, emulator.Options{})
			a.seed(t, seedIDs)
			dir := t.TempDir()
			in := writeFile(t, dir, "rooms.csv", tt.content)
			rep := filepath.Join(dir, "report.csv")
			res := a.sync(t, nil, append(tt.args, "--report", rep, in)...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.msg) {
				t.Fatalf("got exit %d, want %d with %q:\n%s", res.code, tt.code, tt.msg, res.stderr)
			}
			if tt.code != 0 {
				if n := writes(a.Stats()); n != 0 {
					t.Errorf("a tripped guard made %d writes", n)
				}
				for _, r := range readReport(t, rep) {
					if r["outcome"] != "skipped" && r["outcome"] != "invalid" && r["outcome"] != "unchanged" {
						t.Errorf("row %v: want skipped", r)
					}
				}
			}
		})
	}
}

func TestAuthRefused(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	rep := filepath.Join(dir, "report.csv")
	res := runCLI(t, []string{"BULKSYNC_ACCESS_TOKEN=not-the-right-one"}, "sync", "--endpoint", a.url,
		"--service-provider-id", sp, "--report", rep, in)
	if res.code != 3 || !strings.Contains(res.stderr, "authentication refused") {
		t.Fatalf("got exit %d, want 3:\n%s", res.code, res.stderr)
	}
	if strings.Contains(res.stderr, "not-the-right-one") {
		t.Errorf("the token was printed")
	}
	if rows := readReport(t, rep); len(rows) != 1 || rows[0]["outcome"] != "skipped" && rows[0]["outcome"] != "failed" {
		t.Errorf("report: %v", rows)
	}
}

func TestNoCredentials(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	res := runCLI(t, nil, "sync", "--service-provider-id", sp, "--report", filepath.Join(dir, "r.csv"), in)
	if res.code != 2 || !strings.Contains(res.stderr, "BULKSYNC_ACCESS_TOKEN") || !strings.Contains(res.stderr, "BULKSYNC_LWA_REFRESH_TOKEN") {
		t.Errorf("got exit %d, want 2 naming the variables:\n%s", res.code, res.stderr)
	}
}

func TestEnvBindingAndFlagPrecedence(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	rep := filepath.Join(dir, "from-env.csv")
	env := []string{"BULKSYNC_ACCESS_TOKEN=" + testToken, "BULKSYNC_ENDPOINT=" + a.url, "BULKSYNC_SERVICE_PROVIDER_ID=" + sp,
		"BULKSYNC_REPORT=" + rep, "BULKSYNC_MAX_DELETES=oops"}
	if res := runCLI(t, env, "sync", in); res.code != 2 || !strings.Contains(res.stderr, "max-deletes") {
		t.Errorf("bad BULKSYNC_MAX_DELETES: got exit %d:\n%s", res.code, res.stderr)
	}
	if res := runCLI(t, env, "sync", "--max-deletes", "5", in); res.code != 0 {
		t.Fatalf("flag over env: exit %d:\n%s", res.code, res.stderr)
	}
	if rows := readReport(t, rep); len(rows) != 1 || rows[0]["outcome"] != "created" {
		t.Errorf("report named by BULKSYNC_REPORT: %v", rows)
	}
}

func TestHelpAndVersion(t *testing.T) {
	res := runCLI(t, nil, "sync", "--help")
	for _, s := range []string{"BULKSYNC_MAX_DELETES", "10%", "--rps=10", "Example:", "bulksync sync --emulate samples/rooms.csv"} {
		if !strings.Contains(res.stdout, s) {
			t.Errorf("sync --help lacks %q", s)
		}
	}
	if res.code != 0 {
		t.Errorf("--help: exit %d", res.code)
	}
	if res := runCLI(t, nil, "version"); res.code != 0 || !strings.HasPrefix(res.stdout, "bulksync ") {
		t.Errorf("version: %d %q", res.code, res.stdout)
	}
	if res := runCLI(t, nil, "sync", "--no-such-flag", "x.csv"); res.code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", res.code)
	}
	if res := runCLI(t, nil, "sync", "--endpoint", "http://api.example.com", "--service-provider-id", sp, "x.csv"); res.code != 2 || !strings.Contains(res.stderr, "plain http is allowed only to a loopback host") {
		t.Errorf("http endpoint: exit %d %s", res.code, res.stderr)
	}
}

func TestPlanWritesNothing(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	a.seed(t, map[string]string{"7201": "amzn1.old"})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.new\n7202,amzn1.b\n")
	rep := filepath.Join(dir, "report.csv")
	res := a.cmd(t, "plan", nil, "--detailed-exitcode", "--report", rep, in)
	if res.code != 5 {
		t.Fatalf("exit %d, want 5:\n%s", res.code, res.stderr)
	}
	if n := writes(a.Stats()); n != 0 {
		t.Errorf("plan made %d writes", n)
	}
	if !strings.Contains(res.stderr, `"create":1,"update":1,"delete":0,`) {
		t.Errorf("plan summary:\n%s", res.stderr)
	}
	for _, r := range readReport(t, rep) {
		if r["outcome"] != "planned" {
			t.Errorf("row %v: want planned", r)
		}
	}
}

// Exit 1 says a rerun may fix what failed (a Job retries it); exit 7 that
// only rows no rerun will fix were refused (the Job gives up). 1 wins when
// both happen.
func TestExitCodesTellARerunFromARefusal(t *testing.T) {
	dir := t.TempDir()
	valid := writeFile(t, dir, "valid.csv", "externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n")
	mixed := writeFile(t, dir, "mixed.csv", "externalUserId,amazonId\n7201,amzn1.a\n7202,\n")
	tests := []struct {
		name   string
		faults string
		in     string
		code   int
	}{
		{"a 503 that outlasts the attempts", "503:1", valid, 1},
		{"a 503 and an invalid row", "503:1", mixed, 1},
		{"an invalid row only", "", mixed, 7},
		{"a 400 the API refuses", "400:1", valid, 7},
		{"every row in its state", "", valid, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startAPI(t, emulator.Options{Faults: tt.faults, Seed: 1})
			res := a.sync(t, nil, "--max-attempts", "2", "--report", filepath.Join(dir, "r.csv"), tt.in)
			if res.code != tt.code {
				t.Errorf("exit %d, want %d:\n%s", res.code, tt.code, res.stderr)
			}
			if ev := endEvent(t, res.stderr); ev["exit_code"] != float64(tt.code) {
				t.Errorf("closing event's exit_code %v, want %d", ev["exit_code"], tt.code)
			}
		})
	}
}

// Rows that are all invalid for want of a provider say so: the way out is
// --service-provider-id, not --allow-empty.
func TestNoProviderHint(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	res := runCLI(t, []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, "sync", "--endpoint", a.url, "--log-format", "json",
		"--report", filepath.Join(dir, "r.csv"), in)
	if ev := endEvent(t, res.stderr); res.code != 3 || !strings.Contains(fmt.Sprint(ev["hint"]), "--service-provider-id") {
		t.Errorf("exit %d, hint %v; want 3 and a hint naming --service-provider-id", res.code, ev["hint"])
	}
}
