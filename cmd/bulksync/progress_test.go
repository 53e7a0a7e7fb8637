package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
)

// stderr here is a buffer, not a terminal: progress must come as log lines,
// never as a bar.
func TestProgressLogsWhenNotATerminal(t *testing.T) {
	a := startAPI(t, emulator.Options{Latency: 30 * time.Millisecond})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", newHotel(40).csv)
	res := a.sync(t, nil, "--concurrency", "2", "--max-deletes", "-1", "--progress-interval", "20ms", "--report", filepath.Join(dir, "r.csv"), in)
	if res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	lines := 0
	for _, l := range strings.Split(res.stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["message"] != "progress" {
			continue
		}
		lines++
		if m["total"].(float64) != 50 || m["run_id"] == "" || m["calls_per_second"] == nil {
			t.Errorf("progress line lacks fields: %s", l)
		}
	}
	if lines == 0 {
		t.Errorf("no progress log line in a run of %d rows at 30 ms a call:\n%s", 50, res.stderr)
	}
	if strings.Contains(res.stderr, "\r") || strings.Contains(res.stderr, "█") {
		t.Errorf("a bar was drawn on a non-terminal")
	}
	res = a.sync(t, nil, "--progress", "off", "--progress-interval", "1ms", "--max-deletes", "-1", "--report", filepath.Join(dir, "r.csv"), in)
	if strings.Contains(res.stderr, `"message":"progress"`) {
		t.Errorf("--progress off still logged progress")
	}
}
