package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

// Shards 0..N-1 of one input, with --prune, do together what one run does:
// every input row reported by exactly one shard, every vanished id deleted
// by exactly one, and the final state the desired one.
func TestShardsPartitionTheRun(t *testing.T) {
	h := newHotel(200)
	a := startAPI(t, emulator.Options{})
	a.seed(t, h.existing)
	vanished := map[string]string{}
	for i := 0; i < 12; i++ {
		vanished[fmt.Sprint(30000+i)] = "amzn1.vanished"
	}
	a.seed(t, vanished)
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", h.csv)
	const n = 3
	lines := map[string]int{}
	pruned := map[string]int{}
	for i := 0; i < n; i++ {
		rep := filepath.Join(dir, fmt.Sprintf("report-%d.csv", i))
		var res result
		if i == 0 {
			res = a.sync(t, nil, "--shard", "0/3", "--prune", "--max-deletes", "-1", "--report", rep, in)
		} else { // as an Indexed Job sets it
			res = a.sync(t, []string{fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i), "BULKSYNC_SHARD_COUNT=3"},
				"--prune", "--max-deletes", "-1", "--report", rep, in)
		}
		if res.code != 0 {
			t.Fatalf("shard %d: exit %d:\n%s", i, res.code, res.stderr)
		}
		rows := readReport(t, rep)
		if len(rows) == 0 || len(rows) >= h.rows {
			t.Errorf("shard %d reported %d of %d rows: not a share", i, len(rows), h.rows)
		}
		for _, r := range rows {
			if r["file"] == "" {
				pruned[r["external_user_id"]]++
			} else {
				lines[r["line"]]++
			}
		}
	}
	if len(lines) != h.rows {
		t.Errorf("shards reported %d distinct input rows, want %d", len(lines), h.rows)
	}
	for l, c := range lines {
		if c != 1 {
			t.Errorf("line %s reported by %d shards", l, c)
		}
	}
	if len(pruned) != len(vanished) {
		t.Errorf("pruned %d ids, want %d", len(pruned), len(vanished))
	}
	for id, c := range pruned {
		if c != 1 {
			t.Errorf("%s pruned by %d shards", id, c)
		}
	}
	sameState(t, a.Associations(sp), h.desired)
	if res := a.sync(t, nil, "--shard", "3/3", in); res.code != 2 {
		t.Errorf("--shard 3/3: exit %d, want 2", res.code)
	}
}
