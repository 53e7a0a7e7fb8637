package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/report"
)

// With JSON logs every line of stderr is JSON and the last is the one
// "run finished" event, however the run ends; the console keeps the text.
func TestRunEndsWithOneEvent(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.new\n7202,amzn1.b\n7203,\n")
	rep := filepath.Join(dir, "report.csv")
	tests := []struct {
		name string
		args []string
		code int
		want map[string]any // fields of the event, compared with fmt.Sprint
	}{
		{"rows refused", []string{"--report", rep, in}, 7, map[string]any{
			"level": "warn", "command": "sync", "rows": 3, "exit_code": 7, "report": rep, "retries": 0, "throttled": 0,
			"outcomes": map[string]any{"created": 1, "updated": 1, "invalid": 1},
			"calls":    map[string]any{"query": 1, "create": 1, "update": 1},
			"statuses": map[string]any{"query": map[string]any{"2xx": 1}, "create": map[string]any{"2xx": 1}, "update": map[string]any{"2xx": 1}}}},
		{"guard tripped", []string{"--prune", "--max-deletes", "0", "--report", rep, in}, 3, map[string]any{
			"level": "error", "exit_code": 3, "outcomes": map[string]any{"invalid": 1, "skipped": 3},
			"hint": "if these deletes are meant, raise --max-deletes (-1: no limit)"}},
		{"missing input", []string{"--report", rep, filepath.Join(dir, "nope.csv")}, 2, map[string]any{
			"level": "error", "exit_code": 2, "rows": 0, "calls": map[string]any{}}},
		{"bad flag value", []string{"--rps", "NaN", in}, 2, map[string]any{
			"level": "error", "exit_code": 2, "error": "--rps must be a finite number of calls per second, got NaN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startAPI(t, emulator.Options{})
			a.seed(t, map[string]string{"7201": "amzn1.old", "7299": "amzn1.gone"})
			res := a.sync(t, nil, tt.args...) // --log-format json
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d:\n%s", res.code, tt.code, res.stderr)
			}
			ev := endEvent(t, res.stderr) // every line JSON, one event, the last
			for k, want := range tt.want {
				if got := ev[k]; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: got %v, want %v", k, got, want)
				}
			}
			for _, k := range []string{"duration_ms", "calls_per_second", "outcomes", "calls", "statuses", "run_id"} {
				if _, ok := ev[k]; !ok {
					t.Errorf("event lacks %s: %v", k, ev)
				}
			}
			if tt.code > 1 && tt.code < 7 && ev["error"] == nil { // 2 to 6: the run stopped
				t.Errorf("event of a run that stopped lacks its error: %v", ev)
			}
		})
	}

	// An error the job finds before its run starts (a products sync of the
	// live stage) ends the same way.
	a := startAPI(t, emulator.Options{})
	res := a.products(t, "sync", "--stage", "live", in)
	if ev := endEvent(t, res.stderr); res.code != 2 || ev["exit_code"] != 2.0 || !strings.Contains(fmt.Sprint(ev["error"]), "development stage") {
		t.Errorf("products sync --stage live: exit %d, event %v", res.code, ev)
	}

	res = a.sync(t, nil, "--log-format", "console", "--report", rep, in)
	if res.code != 7 || !strings.Contains(res.stderr, "sync: 3 rows: 2 created, 1 invalid") || strings.Contains(res.stderr, "run finished") {
		t.Errorf("console: exit %d, want 7 with the summary as text:\n%s", res.code, res.stderr)
	}
}

// An output that can't be written exits 6, never 0 or 1: up front (nothing
// is sent), mid-run (the run stops as on SIGTERM) or at the end.
func TestOutputFailures(t *testing.T) {
	help := runCLI(t, nil, "sync", "--help").stdout
	if !strings.Contains(strings.Join(strings.Fields(help), " "), "6 an output (--report, --summary, stdout) could not be written") {
		t.Errorf("sync --help does not tell exit 6:\n%s", help)
	}
	h := newHotel(200)
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", h.csv)
	notADir := writeFile(t, dir, "file.txt", "")
	tests := []struct {
		name   string
		args   []string
		stdout func(started chan struct{}) *failingWriter
		sent   bool   // API calls were made
		msg    string // in the closing event's error
	}{
		{"report on a device", []string{"--report", "/dev/full"}, nil, false,
			"can't write the report to /dev/full: /dev/full is a character device, not a regular file; it is left as it is; nothing was sent"},
		{"report in no directory", []string{"--report", filepath.Join(notADir, "r.csv")}, nil, false, "can't write the report to"},
		{"report to a closed stdout", []string{"--report", "-"}, func(chan struct{}) *failingWriter { return &failingWriter{} }, false,
			"can't write the report to standard output: write |1: file already closed; nothing was sent"},
		{"report to a pipe that closes mid-run", []string{"--report", "-"}, func(c chan struct{}) *failingWriter {
			return &failingWriter{ok: 1, failed: c}
		}, true, "can't write the report to standard output: write |1: broken pipe"},
		{"summary on a device", []string{"--summary", "/dev/full"}, nil, false, "can't write the summary to /dev/full: /dev/full is a character device"},
		{"summary in no directory", []string{"--summary", filepath.Join(notADir, "s.json")}, nil, false, "can't write the summary to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Midway through the writes, answers wait until the report has
			// failed, so that the failure comes while calls remain.
			failed := make(chan struct{})
			var once sync.Once
			hook, reached := writesReached(20)
			a := startAPI(t, emulator.Options{OnAnswer: func(op, status string) {
				hook(op, status)
				select {
				case <-reached:
					if tt.stdout != nil && tt.sent {
						<-failed
					}
				default:
				}
			}})
			a.seed(t, h.existing)
			a.ResetStats()
			var stdout, stderr strings.Builder
			args := append([]string{"sync", "--endpoint", a.url, "--service-provider-id", sp, "--rps", "2000", "--concurrency", "4",
				"--max-deletes", "-1", "--log-format", "json"}, tt.args...)
			if !strings.Contains(strings.Join(tt.args, " "), "--report") {
				args = append(args, "--report", filepath.Join(t.TempDir(), "r.csv"))
			}
			sum := filepath.Join(t.TempDir(), "summary.json")
			if !strings.Contains(strings.Join(tt.args, " "), "--summary") {
				args = append(args, "--summary", sum)
			}
			var out io.Writer = &stdout
			if tt.stdout != nil {
				fw := tt.stdout(failed)
				fw.once = &once
				out = fw
			}
			code := run(context.Background(), append(args, in), []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, out, &stderr)
			if code != 6 {
				t.Fatalf("exit %d, want 6:\n%s", code, stderr.String())
			}
			ev := endEvent(t, stderr.String())
			if msg, _ := ev["error"].(string); !strings.Contains(msg, tt.msg) || ev["exit_code"] != 6.0 {
				t.Errorf("closing event: error %q, exit_code %v; want %q and 6", msg, ev["exit_code"], tt.msg)
			}
			calls := a.Stats().Total
			switch {
			case !tt.sent && calls != 0:
				t.Errorf("%d API calls, want none", calls)
			case tt.sent && calls == 0:
				t.Errorf("no API call, want the run to have worked")
			}
			if tt.stdout == nil || !tt.sent {
				return
			}
			// Stopped as on SIGTERM: the rest skipped, the summary written.
			if w := writes(a.Stats()); w >= h.rows/2 {
				t.Errorf("%d of %d writes made: the run went on after its report failed", w, h.rows)
			}
			var s report.Summary
			b, err := os.ReadFile(sum)
			if err != nil || json.Unmarshal(b, &s) != nil {
				t.Fatalf("summary: %v: %s", err, b)
			}
			if s.ExitCode != 6 || s.Outcomes["skipped"] == 0 || s.Rows != h.rows {
				t.Errorf("summary: exit %d, %d rows %v; want exit 6 and all %d rows, some skipped", s.ExitCode, s.Rows, s.Outcomes, h.rows)
			}
		})
	}
}

// failingWriter is a standard output whose reader went away after ok
// writes (a closed pipe), or that was closed from the start (ok 0).
type failingWriter struct {
	mu     sync.Mutex
	ok     int
	failed chan struct{} // closed at the first failure
	once   *sync.Once
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ok > 0 {
		w.ok--
		return len(p), nil
	}
	if w.failed == nil {
		return 0, &os.PathError{Op: "write", Path: "|1", Err: os.ErrClosed}
	}
	w.once.Do(func() { close(w.failed) })
	return 0, &os.PathError{Op: "write", Path: "|1", Err: syscall.EPIPE}
}

// plan --out that can't be written exits 6, not 2: the plan was made.
func TestPlanOutFailure(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	notADir := writeFile(t, dir, "file.txt", "")
	res := a.cmd(t, "plan", nil, "--out", filepath.Join(notADir, "plan.json"), "--report", filepath.Join(dir, "r.csv"), in)
	if ev := endEvent(t, res.stderr); res.code != 6 || !strings.Contains(fmt.Sprint(ev["error"]), "can't write the plan to") {
		t.Errorf("exit %d, want 6 naming the plan:\n%s", res.code, res.stderr)
	}
}

// A management command whose answer can't be printed exits 6: the call was
// made, its answer (a new provider's id) is lost.
func TestAnswerToAClosedStdout(t *testing.T) {
	var stderr strings.Builder
	code := run(context.Background(), []string{"provider", "create", "--emulate", "--emulate-state", filepath.Join(t.TempDir(), "e.json"),
		"--logical-id", "grand-hotel", "--display-name", "Grand Hotel"}, nil, &failingWriter{}, &stderr)
	if code != 6 || !strings.Contains(stderr.String(), "can't write the answer to standard output") {
		t.Errorf("exit %d, want 6 naming the answer:\n%s", code, stderr.String())
	}
}

// asBulksync is this test binary run as bulksync (see TestMain), not
// started yet.
func asBulksync(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "BULKSYNC_TEST_AS_MAIN=1", "BULKSYNC_ACCESS_TOKEN="+testToken)
	return cmd
}

// A standard output closed from the start is an output that can't be
// written, though the Go runtime quietly opens /dev/null in its place.
func TestReportToAClosedStdout(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	in := writeFile(t, t.TempDir(), "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	// The shell closes fd 1 (>&-), then becomes bulksync.
	cmd := asBulksync("/bin/sh", "-c", `exec "$0" "$@" >&-`, os.Args[0], "sync", "--endpoint", a.url, "--service-provider-id", sp,
		"--report", "-", "--log-format", "console", in)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 6 || !strings.Contains(stderr.String(), "standard output is closed; nothing was sent") {
		t.Errorf("exit %d (%v), want 6 saying stdout is closed:\n%s", code, err, stderr.String())
	}
	if n := a.Stats().Total; n != 0 {
		t.Errorf("%d API calls, want none", n)
	}
	// A stdout sent to /dev/null on purpose is not closed.
	cmd = asBulksync("/bin/sh", "-c", `exec "$0" "$@" >/dev/null`, os.Args[0], "sync", "--endpoint", a.url, "--service-provider-id", sp,
		"--report", "-", "--log-format", "console", in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf(">/dev/null: %v:\n%s", err, out)
	}
}

// --report - | head: the reader goes away mid-run. bulksync must not die by
// SIGPIPE: it stops as on SIGTERM, tells the summary and exits 6.
func TestReportIntoAPipeThatCloses(t *testing.T) {
	h := newHotel(200)
	hook, reached := writesReached(20)
	a := startAPI(t, emulator.Options{OnAnswer: hook})
	a.seed(t, h.existing)
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", h.csv)
	sum := filepath.Join(dir, "summary.json")
	cmd := asBulksync(os.Args[0], "sync", "--endpoint", a.url, "--service-provider-id", sp, "--max-deletes", "-1", "--rps", "50",
		"--report", "-", "--summary", sum, "--log-format", "json", in)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	header, err := bufio.NewReader(pipe).ReadString('\n')
	if err != nil || !strings.HasPrefix(header, "file,line,") {
		t.Fatalf("first line: %q, %v", header, err)
	}
	waitOrFail(t, reached, "20 writes")
	pipe.Close() // as head does once it has its lines
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 6 {
		t.Fatalf("exit %d (%v), want 6:\n%s", code, err, stderr.String())
	}
	ev := endEvent(t, stderr.String())
	if !strings.Contains(fmt.Sprint(ev["error"]), "broken pipe") {
		t.Errorf("closing event: %v", ev)
	}
	var s report.Summary
	b, err := os.ReadFile(sum)
	if err != nil || json.Unmarshal(b, &s) != nil {
		t.Fatalf("summary: %v: %s", err, b)
	}
	if s.ExitCode != 6 || s.Rows != h.rows || s.Outcomes["skipped"] == 0 {
		t.Errorf("summary: exit %d, %d rows %v; want 6, all %d rows, some skipped", s.ExitCode, s.Rows, s.Outcomes, h.rows)
	}
}

// Absurd numbers are refused up front, with the reason, before any call.
// Without the refusal such a run never ends; here its first call stops it,
// so a missing check fails the test instead of hanging it.
func TestAbsurdNumbers(t *testing.T) {
	dir := t.TempDir()
	rooms := filepath.Join("..", "..", "samples", "rooms.csv") // 120 rows: 4 queries at the least
	one := writeFile(t, dir, "one.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{"--rps", "NaN", one}, "--rps must be a finite number of calls per second, got NaN"},
		{[]string{"--rps", "Inf", one}, "--rps must be a finite number of calls per second, got +Inf"},
		{[]string{"--rps", "-inf", one}, "--rps must be a finite number of calls per second, got -Inf"},
		{[]string{"--rps", "0", one}, "--rps must be above 0"},
		{[]string{"--rps", "1e-9", one}, "--rps 1e-09 is less than one call a day: no run could finish within a day"},
		{[]string{"--rps", "2e-5", rooms}, "at 2e-05 calls per second, the 4 calls this input needs at the least would take 41h40m0s"},
		{[]string{"--progress-interval", "0s", one}, "progress interval must be above 0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:2], " "), func(t *testing.T) {
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			a := startAPI(t, emulator.Options{OnAnswer: func(string, string) { stop() }})
			a.seed(t, map[string]string{"7201": "amzn1.a"})
			rep := filepath.Join(t.TempDir(), "r.csv")
			args := append([]string{"sync", "--endpoint", a.url, "--service-provider-id", sp, "--log-format", "console", "--report", rep}, tt.args...)
			var stdout, stderr strings.Builder
			code := run(ctx, args, []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.msg) {
				t.Errorf("exit %d, want 2 with %q:\n%s", code, tt.msg, stderr.String())
			}
			if n := a.Stats().Total; n != 0 {
				t.Errorf("%d API calls, want none", n)
			}
			if _, err := os.Stat(rep); err == nil {
				t.Errorf("the report was written")
			}
		})
	}
	// A slow rate the input can bear still runs: one query, no write.
	a := startAPI(t, emulator.Options{})
	a.seed(t, map[string]string{"7201": "amzn1.a"})
	if res := a.sync(t, nil, "--rps", "2e-5", "--report", filepath.Join(dir, "r.csv"), one); res.code != 0 {
		t.Errorf("one row at 2e-5 calls/s: exit %d, want 0:\n%s", res.code, res.stderr)
	}
}

// An output path that names an input or another output is refused (exit 2)
// before anything is read or written; paths are compared as files.
func TestOutputPathCollisions(t *testing.T) {
	const content = "externalUserId,amazonId\n7201,amzn1.a\n"
	tests := []struct {
		name    string
		command string
		args    func(dir, in string) []string
		msg     string
	}{
		{"report is the input", "sync", func(dir, in string) []string { return []string{"--report", in, in} },
			"the report " + "%IN%" + " is the input"},
		{"relative and absolute", "sync", func(dir, in string) []string {
			rel, _ := filepath.Rel(mustGetwd(t), in)
			return []string{"--report", rel, in}
		}, "is the input"},
		{"through a symlink", "sync", func(dir, in string) []string {
			link := filepath.Join(dir, "link.csv")
			mustDo(t, os.Symlink(in, link))
			return []string{"--report", link, in}
		}, "is the input"},
		{"a hard link", "sync", func(dir, in string) []string {
			hard := filepath.Join(dir, "hard.csv")
			mustDo(t, os.Link(in, hard))
			return []string{"--report", hard, in}
		}, "is the input"},
		{"summary is the input", "sync", func(dir, in string) []string {
			return []string{"--report", filepath.Join(dir, "r.csv"), "--summary", in, in}
		}, "the summary " + "%IN%" + " is the input"},
		{"summary is the report, neither made yet", "sync", func(dir, in string) []string {
			return []string{"--report", filepath.Join(dir, "out", "..", "r.csv"), "--summary", filepath.Join(dir, "r.csv"), in}
		}, "is the report"},
		{"summary through a dangling symlink to the report", "sync", func(dir, in string) []string {
			link := filepath.Join(dir, "s.json")
			mustDo(t, os.Symlink("r.csv", link))
			return []string{"--report", filepath.Join(dir, "r.csv"), "--summary", link, in}
		}, "is the report"},
		{"plan out is the input", "plan", func(dir, in string) []string {
			return []string{"--report", filepath.Join(dir, "r.csv"), "--out", in, in}
		}, "the plan " + "%IN%" + " is the input"},
		{"plan out is the report", "plan", func(dir, in string) []string {
			return []string{"--report", filepath.Join(dir, "p.json"), "--out", filepath.Join(dir, "p.json"), in}
		}, "the plan"},
		{"report is the saved plan", "sync", func(dir, in string) []string {
			p := writeFile(t, dir, "plan.json", `{"version":2}`)
			return []string{"--plan", p, "--report", p}
		}, "is the saved plan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startAPI(t, emulator.Options{})
			dir := t.TempDir()
			in := writeFile(t, dir, "rooms.csv", content)
			args := tt.args(dir, in)
			before := listDir(t, dir) // with what the case made
			res := a.cmd(t, tt.command, nil, append([]string{"--log-format", "console"}, args...)...)
			msg := strings.ReplaceAll(tt.msg, "%IN%", in)
			if res.code != 2 || !strings.Contains(res.stderr, msg) || !strings.Contains(res.stderr, "refusing to overwrite a file with an output: ") {
				t.Errorf("exit %d, want 2 with %q:\n%s", res.code, msg, res.stderr)
			}
			if b, _ := os.ReadFile(in); string(b) != content {
				t.Errorf("the input was overwritten: %q", b)
			}
			if after := listDir(t, dir); after != before {
				t.Errorf("files changed:\nbefore %s\nafter  %s", before, after)
			}
			if n := a.Stats().Total; n != 0 {
				t.Errorf("%d API calls, want none", n)
			}
		})
	}
	// An output is a regular file: /dev/null is refused, never replaced;
	// --report '' writes no report.
	a := startAPI(t, emulator.Options{})
	in := writeFile(t, t.TempDir(), "rooms.csv", content)
	if res := a.sync(t, nil, "--report", "/dev/null", in); res.code != 6 || a.Stats().Total != 0 {
		t.Errorf("--report /dev/null: exit %d, want 6 and no call:\n%s", res.code, res.stderr)
	}
	if fi, err := os.Stat("/dev/null"); err != nil || fi.Mode().IsRegular() {
		t.Errorf("/dev/null was replaced: %v", err)
	}
	if res := a.sync(t, nil, "--report", "", in); res.code != 0 {
		t.Errorf("--report '': exit %d, want 0:\n%s", res.code, res.stderr)
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	mustDo(t, err)
	return wd
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// listDir is the names, sizes and modes of dir's files, for "nothing
// touched".
func listDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	mustDo(t, err)
	var out []string
	for _, e := range entries {
		fi, err := os.Lstat(filepath.Join(dir, e.Name()))
		mustDo(t, err)
		out = append(out, fmt.Sprintf("%s:%d:%v", e.Name(), fi.Size(), fi.Mode()))
	}
	return strings.Join(out, " ")
}

// A report or summary whose folder does not exist yet gets one.
func TestReportFolderIsMade(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	rep, sum := filepath.Join(dir, "reports", "night1", "r.csv"), filepath.Join(dir, "summaries", "s.json")
	if res := a.sync(t, nil, "--report", rep, "--summary", sum, in); res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	if rows := readReport(t, rep); len(rows) != 1 {
		t.Errorf("report: %v", rows)
	}
	if _, err := os.Stat(sum); err != nil {
		t.Errorf("summary: %v", err)
	}
}
