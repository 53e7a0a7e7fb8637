package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

// SIGHUP (an ssh session dropping) and SIGQUIT stop a run as SIGTERM does:
// exit 4, the summary told, every row in the report. Left to Go, SIGHUP
// exits 129 with a partial report and SIGQUIT 2, "nothing written".
func TestHangupAndQuitStopARunAsTerminateDoes(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			h := newHotel(200)
			hook, reached := writesReached(20)
			a := startAPI(t, emulator.Options{OnAnswer: hook})
			a.seed(t, h.existing)
			dir := t.TempDir()
			in := writeFile(t, dir, "rooms.csv", h.csv)
			rep, sum := filepath.Join(dir, "report.csv"), filepath.Join(dir, "summary.json")
			cmd, stderr := bulksyncProcess(t, nil, "sync", "--endpoint", a.url, "--service-provider-id", sp, "--max-deletes", "-1",
				"--rps", "50", "--report", rep, "--summary", sum, "--log-format", "json", in)
			waitOrFail(t, reached, "20 writes")
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != 4 {
				t.Fatalf("exit: got %d (%v), want 4:\n%s", code, err, stderr)
			}
			if rows := readReport(t, rep); len(rows) != h.rows {
				t.Errorf("report: %d rows, want all %d", len(rows), h.rows)
			}
			b, err := os.ReadFile(sum)
			if err != nil || !strings.Contains(string(b), `"exit_code": 4`) || !strings.Contains(string(b), `"skipped"`) {
				t.Errorf("summary: %v\n%s", err, b)
			}
			if !strings.Contains(stderr.String(), `"message":"run finished"`) {
				t.Errorf("stderr lacks the closing event:\n%s", stderr)
			}
		})
	}
}
