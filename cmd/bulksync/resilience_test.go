package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/report"
)

// TestMain lets a test run this test binary as bulksync itself, so the
// signal tests exercise the real main, signals and process exit.
func TestMain(m *testing.M) {
	if os.Getenv("BULKSYNC_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// hotel is a desired state and the file that asks for it: n rooms, a third
// of them already associated (half of those with a stale profile), and ten
// deletes of rooms that exist.
type hotel struct {
	existing, desired map[string]string
	csv               string
	rows              int
}

func newHotel(n int) hotel {
	h := hotel{existing: map[string]string{}, desired: map[string]string{}}
	var b strings.Builder
	b.WriteString("externalUserId,amazonId,action\n")
	for i := 0; i < n; i++ {
		id := fmt.Sprint(10000 + i)
		want := fmt.Sprintf("amzn1.alexa.communications.profile.did.%d", i)
		if i%3 == 0 {
			h.existing[id] = want
			if i%2 == 0 {
				h.existing[id] = want + ".stale"
			}
		}
		h.desired[id] = want
		fmt.Fprintf(&b, "%s,%s,\n", id, want)
		h.rows++
	}
	for i := 0; i < 10; i++ {
		id := fmt.Sprint(20000 + i)
		h.existing[id] = "amzn1.alexa.communications.profile.did.old"
		fmt.Fprintf(&b, "%s,,delete\n", id)
		h.rows++
	}
	h.csv = b.String()
	return h
}

func sameState(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("final state: got %d associations, want %d", len(got), len(want))
	}
	bad := 0
	for id, w := range want {
		if got[id] != w && bad < 5 {
			bad++
			t.Errorf("final state: %s -> %q, want %q", id, got[id], w)
		}
	}
}

func TestFaultMatrix(t *testing.T) {
	faults := []string{"500:0.1", "503:0.1", "429:0.05", "reset:0.05", "commit500:0.1", "slow:0.03", "garbage:0.25",
		"500:0.05,503:0.05,429:0.02,reset:0.01,commit500:0.02,slow:0.01"}
	for _, spec := range faults {
		t.Run(spec, func(t *testing.T) {
			h := newHotel(300)
			a := startAPI(t, emulator.Options{Faults: spec, Seed: 42, SlowDelay: time.Second})
			a.seed(t, h.existing)
			a.ResetStats()
			dir := t.TempDir()
			in := writeFile(t, dir, "rooms.csv", h.csv)
			rep, sum := filepath.Join(dir, "report.csv"), filepath.Join(dir, "summary.json")
			res := a.sync(t, nil, "--max-deletes", "-1", "--request-timeout", "150ms", "--max-attempts", "15",
				"--report", rep, "--summary", sum, in)
			a.srv.Close() // waits for answers still being written, so the counts are final
			if res.code != 0 {
				t.Fatalf("exit %d, want 0:\n%s", res.code, res.stderr)
			}
			sameState(t, a.Associations(sp), h.desired)
			rows := readReport(t, rep)
			if len(rows) != h.rows {
				t.Errorf("report: got %d rows, want %d", len(rows), h.rows)
			}
			counts := map[string]int{}
			for _, r := range rows {
				counts[r["outcome"]]++
			}
			if counts["failed"] > 0 || counts["skipped"] > 0 {
				t.Errorf("outcomes: %v, want no failed or skipped row", counts)
			}
			var s report.Summary
			b, err := os.ReadFile(sum)
			if err != nil || json.Unmarshal(b, &s) != nil {
				t.Fatalf("summary: %v", err)
			}
			for o, n := range counts {
				if s.Outcomes[o] != n {
					t.Errorf("summary says %d %s, report has %d", s.Outcomes[o], o, n)
				}
			}
			st := a.Stats()
			for kind, op := range map[string]string{"query": "association.query", "create": "association.create",
				"update": "association.update", "delete": "association.delete"} {
				// A call the client saw fail with no answer ("none": a reused
				// connection the server had already closed, say) may never have
				// reached the emulator; every other call must match exactly.
				got, answered, unanswered := s.Calls[kind], st.Count(op, ""), s.Statuses[kind]["none"]
				if got < answered || got > answered+unanswered {
					t.Errorf("%s calls: summary says %d (%d without an answer), emulator answered %d", kind, got, unanswered, answered)
				}
			}
		})
	}
}

// bulksyncProcess starts this test binary as bulksync.
func bulksyncProcess(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), append([]string{"BULKSYNC_TEST_AS_MAIN=1", "BULKSYNC_ACCESS_TOKEN=" + testToken}, env...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// writesReached returns an emulator option and a channel closed once n
// writes have been answered.
func writesReached(n int64) (func(op, status string), chan struct{}) {
	var count atomic.Int64
	reached := make(chan struct{})
	return func(op, status string) {
		if op == "association.create" || op == "association.update" || op == "association.delete" {
			if count.Add(1) == n {
				close(reached)
			}
		}
	}, reached
}

func waitOrFail(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestKilledRunConverges(t *testing.T) {
	h := newHotel(200)
	hook, reached := writesReached(40)
	a := startAPI(t, emulator.Options{OnAnswer: hook, Faults: "commit500:0.05", Seed: 3})
	a.seed(t, h.existing)
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", h.csv)
	rep := filepath.Join(dir, "report.csv")
	args := []string{"sync", "--endpoint", a.url, "--service-provider-id", sp, "--max-deletes", "-1", "--rps", "100",
		"--concurrency", "4", "--max-backoff", "20ms", "--report", rep, "--log-format", "json", in}
	cmd, _ := bulksyncProcess(t, nil, args...)
	waitOrFail(t, reached, "40 writes")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killedRows := readReport(t, rep) // fails the test unless every line is whole after kill -9
	t.Logf("report after kill -9 has %d of %d rows", len(killedRows), h.rows)
	res := a.sync(t, nil, "--max-deletes", "-1", "--report", rep, in)
	if res.code != 0 {
		t.Fatalf("rerun: exit %d:\n%s", res.code, res.stderr)
	}
	sameState(t, a.Associations(sp), h.desired)
	a.ResetStats()
	if res := a.sync(t, nil, "--report", rep, in); res.code != 0 || writes(a.Stats()) != 0 {
		t.Errorf("third run: exit %d with %d writes, want 0 and 0", res.code, writes(a.Stats()))
	}
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	h := newHotel(200)
	hook, reached := writesReached(20)
	a := startAPI(t, emulator.Options{OnAnswer: hook})
	a.seed(t, h.existing)
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", h.csv)
	rep := filepath.Join(dir, "report.csv")
	cmd, stderr := bulksyncProcess(t, nil, "sync", "--endpoint", a.url, "--service-provider-id", sp, "--max-deletes", "-1",
		"--rps", "50", "--report", rep, "--log-format", "json", in)
	waitOrFail(t, reached, "20 writes")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 4 {
		t.Fatalf("exit: got %d (%v), want 4:\n%s", code, err, stderr)
	}
	rows := readReport(t, rep)
	seen := map[string]int{}
	skipped := 0
	for _, r := range rows {
		seen[r["file"]+":"+r["line"]]++
		if r["outcome"] == "skipped" {
			skipped++
		}
	}
	if len(rows) != h.rows || len(seen) != h.rows {
		t.Errorf("report: %d rows, %d distinct lines; want each of %d input rows exactly once", len(rows), len(seen), h.rows)
	}
	if skipped == 0 {
		t.Errorf("no skipped rows after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "interrupted by terminated") || !strings.Contains(stderr.String(), "skipped") {
		t.Errorf("stderr lacks the interruption and the summary:\n%s", stderr)
	}
	// What was done is done; a rerun finishes the rest.
	if res := a.sync(t, nil, "--max-deletes", "-1", "--report", rep, in); res.code != 0 {
		t.Fatalf("rerun: exit %d:\n%s", res.code, res.stderr)
	}
	sameState(t, a.Associations(sp), h.desired)
}
