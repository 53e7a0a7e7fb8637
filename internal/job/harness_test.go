package job

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// The end-to-end harness of the job tests: an emulator on a loopback port,
// sessions opened on it as the command line opens them, and the streams a
// run writes to, kept for the assertions.

const (
	apiToken = "job-test-token"
	demo     = emulator.DefaultProvider
)

// exitCodes is the command line's table (SPEC 6), so that a summary's exit
// code is the one a user sees.
var exitCodes = map[Verdict]int{Clean: 0, RowsFailed: 1, Usage: 2, Aborted: 3, Interrupted: 4, Changes: 5, OutputLost: 6, Refused: 7}

// at is the fixed clock of every run: durations are 0 and saved plans are
// stamped alike.
var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type api struct {
	*emulator.Emulator
	url string
	dir string // a directory of the test's own, for inputs and outputs
}

// newAPI starts an emulator on loopback for one test.
func newAPI(t *testing.T, o emulator.Options) *api {
	t.Helper()
	o.StaticToken = apiToken
	e, err := emulator.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	return &api{Emulator: e, url: srv.URL, dir: t.TempDir()}
}

// fastCalls are limits that never make a test wait: no pacing to speak of,
// and retries a millisecond apart.
func fastCalls() worker.Config {
	return worker.Config{RPS: 100000, Burst: 1000, Concurrency: 4, MaxAttempts: 3, BaseBackoff: time.Millisecond,
		MaxBackoff: time.Millisecond, MaxRetryAfter: time.Millisecond, RequestTimeout: 10 * time.Second}
}

// oneAtATime is fastCalls with one call in flight: what a run does next
// follows from what it did last.
func oneAtATime() worker.Config {
	c := fastCalls()
	c.Concurrency = 1
	return c
}

// session opens a session on the emulator as the command line does, with
// the token in the environment. A run's counts are its Caller's: one
// session per run.
func (a *api) session(t *testing.T, c Connect) *Session {
	t.Helper()
	c.Endpoint = a.url
	if c.Calls.RPS == 0 {
		c.Calls = fastCalls()
	}
	s, err := Open(c, map[string]string{"BULKSYNC_ACCESS_TOKEN": apiToken}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// file writes content to name in the test's directory and returns its path.
func (a *api) file(t *testing.T, name, content string) string {
	t.Helper()
	return writeFile(t, a.dir, name, content)
}

func (a *api) path(name string) string { return filepath.Join(a.dir, name) }

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writes counts the association writes the emulator answered.
func (a *api) writes() int {
	s := a.Stats()
	return s.Count("association.create", "") + s.Count("association.update", "") + s.Count("association.delete", "")
}

// lockedBuffer is a bytes.Buffer several goroutines may write to: a log.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// streams are what a run was handed, kept to be read after it.
type streams struct {
	stdout, stderr bytes.Buffer
	log            lockedBuffer
}

// io is a run's IO over these streams, JSON logs, and the fixed clock.
func (s *streams) io() IO {
	return IO{Stdin: strings.NewReader(""), Stdout: &s.stdout, Stderr: &s.stderr, JSONLogs: true,
		Log: zerolog.New(&s.log), ExitCodes: exitCodes, Now: func() time.Time { return at }}
}

// events are the log lines whose message is msg, as JSON objects.
func (s *streams) events(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(s.log.String()) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if ev["message"] == msg {
			out = append(out, ev)
		}
	}
	return out
}

// readReport reads a report as the header's column -> cell, one map a row.
func readReport(t *testing.T, data []byte) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("report: %v\n%s", err, data)
	}
	if len(recs) == 0 {
		t.Fatalf("report has no header")
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func readReportFile(t *testing.T, path string) []map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readReport(t, data)
}

// fates is a report as "KEY outcome" lines sorted, KEY being the column
// key names (external_user_id, product_id), with the error type when there
// is one.
func fates(rows []map[string]string, key string) string {
	var out []string
	for _, r := range rows {
		s := r[key] + " " + r["outcome"]
		if r["error_type"] != "" {
			s += " " + r["error_type"]
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// outcomes is a summary's outcomes as "N outcome" in a stable order.
func outcomes(m map[string]int) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+strconv.Itoa(m[k]))
	}
	return strings.Join(out, " ")
}

var nopLog = zerolog.Nop()
