package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

const (
	testToken = "e2e-secret-token"
	sp        = emulator.DefaultProvider
)

// api is an emulator on a loopback port, the server of the end-to-end tests.
type api struct {
	*emulator.Emulator
	url string
	srv *httptest.Server
}

func startAPI(t *testing.T, o emulator.Options) *api {
	t.Helper()
	if o.StaticToken == "" {
		o.StaticToken = testToken
	}
	e, err := emulator.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	return &api{e, srv.URL, srv}
}

// seed creates associations directly in the emulator's state.
func (a *api) seed(t *testing.T, assoc map[string]string) {
	t.Helper()
	a.Put(sp, assoc)
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env []string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, env, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// sync runs "bulksync sync" against this emulator with fast retries.
func (a *api) sync(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return a.cmd(t, "sync", env, args...)
}

func (a *api) cmd(t *testing.T, command string, env []string, args ...string) result {
	t.Helper()
	full := append([]string{command, "--endpoint", a.url, "--service-provider-id", sp, "--rps", "2000",
		"--max-backoff", "20ms", "--max-retry-after", "20ms", "--log-format", "json"}, args...)
	return runCLI(t, append([]string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, env...), full...)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readReport returns the report's rows keyed by column name.
func readReport(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// byID indexes report rows by external_user_id (one row each expected).
func byID(t *testing.T, rows []map[string]string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, r := range rows {
		id := r["external_user_id"]
		if _, dup := out[id]; dup {
			t.Errorf("report has %s twice", id)
		}
		out[id] = r
	}
	return out
}

func writes(s emulator.Stats) int {
	return s.Count("association.create", "") + s.Count("association.update", "") + s.Count("association.delete", "")
}

// endEvent is the "run finished" event of a run's JSON logs; it fails the
// test unless there is exactly one, and it is the last line.
func endEvent(t *testing.T, stderr string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var ev map[string]any
	n := 0
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("stderr line %d is not JSON: %q", i+1, l)
		}
		if m["message"] == "run finished" {
			ev = m
			n++
			if k := repeatedKey(l); k != "" {
				t.Errorf("run finished has %q twice: %s", k, l)
			}
			if i != len(lines)-1 {
				t.Errorf("run finished is line %d of %d: want it last", i+1, len(lines))
			}
		}
	}
	if n != 1 {
		t.Fatalf("got %d run finished events, want 1:\n%s", n, stderr)
	}
	return ev
}

// repeatedKey is a key that a JSON object line has twice at its top level
// (which json.Unmarshal would quietly take the last of), or "".
func repeatedKey(line string) string {
	dec := json.NewDecoder(strings.NewReader(line))
	seen := map[string]bool{}
	depth := 0
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
			expectKey = depth == 1 && v != '['
			continue
		case string:
			if depth == 1 && expectKey {
				if seen[v] {
					return v
				}
				seen[v] = true
				expectKey = false
				continue
			}
		}
		expectKey = depth == 1
	}
}
