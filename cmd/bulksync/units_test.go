package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

// Rooms by unit, end to end: the sample on the emulator's demo units, the
// calls against the fewest possible, and what must never happen.

const unitsSample = "../../samples/rooms-by-unit.csv"

// reads are the operations that change nothing.
var reads = []string{"association.query", "profile.by_unit", "profile.get", "unit.get", "provider.get", "network.get"}

// logEvent is the one JSON log line of stderr with this message.
func logEvent(t *testing.T, stderr, msg string) map[string]any {
	t.Helper()
	var found map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["message"] == msg {
			if found != nil {
				t.Fatalf("%q twice:\n%s", msg, stderr)
			}
			found = m
		}
	}
	if found == nil {
		t.Fatalf("no %q event:\n%s", msg, stderr)
	}
	return found
}

// writeOps lists the calls of s that are not reads, with their counts.
func writeOps(s emulator.Stats) []string {
	var out []string
	for op := range s.Calls {
		if !slices.Contains(reads, op) {
			out = append(out, fmt.Sprintf("%s=%d", op, s.Count(op, "")))
		}
	}
	slices.Sort(out)
	return out
}

func TestSampleRoomsByUnit(t *testing.T) {
	a := startAPI(t, emulator.Options{}) // the demo units: 101-110 with a profile, 111-120 without
	dir := t.TempDir()
	rep := filepath.Join(dir, "report.csv")

	// plan shows the profiles sync would create, and creates none.
	res := a.cmd(t, "plan", nil, "--create-profiles", "--report", rep, unitsSample)
	if res.code != 7 {
		t.Fatalf("plan: exit %d, want 7 (the unknown unit's row): %s", res.code, res.stderr)
	}
	endEvent(t, res.stderr) // with JSON logs, every line is an event
	if ev := logEvent(t, res.stderr, "plan: communication profiles to create"); ev["profiles"] != 8.0 ||
		fmt.Sprint(ev["units"]) != "[amzn1.alexa.unit.did.AEDEMOROOM111 amzn1.alexa.unit.did.AEDEMOROOM112 amzn1.alexa.unit.did.AEDEMOROOM113 amzn1.alexa.unit.did.AEDEMOROOM114 amzn1.alexa.unit.did.AEDEMOROOM115]" {
		t.Errorf("plan does not tell the profiles to create: %v", ev)
	}
	// On the console, a list for people.
	con := runCLI(t, []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, "plan", "--endpoint", a.url, "--service-provider-id", sp,
		"--rps", "2000", "--log-format", "console", "--create-profiles", "--report", rep, unitsSample)
	if !strings.Contains(con.stderr, "plan: 8 communication profiles to create, for units that have none:\n  + "+emulator.DemoUnitPrefix+`111 "Room 111"`) {
		t.Errorf("plan does not list the profiles to create:\n%s", con.stderr)
	}
	if ops := writeOps(a.Stats()); len(ops) != 0 {
		t.Errorf("plan wrote: %v", ops)
	}
	if a.Units()[emulator.DemoUnitPrefix+"111"] != "" {
		t.Errorf("plan created a profile")
	}

	a.ResetStats()
	res = a.sync(t, nil, "--create-profiles", "--report", rep, unitsSample)
	if ev := endEvent(t, res.stderr); res.code != 7 || fmt.Sprint(ev["outcomes"]) != "map[created:19 failed:1]" {
		t.Fatalf("sync: exit %d, want 7 with 19 created and 1 failed: %s", res.code, res.stderr)
	}
	units, assoc := a.Units(), a.Associations(sp)
	rows := byID(t, readReport(t, rep))
	for room := 101; room <= 118; room++ {
		unit := fmt.Sprintf("%s%d", emulator.DemoUnitPrefix, room)
		r := rows[fmt.Sprint(8000+room)]
		wantProfile := "found"
		if room > 110 {
			wantProfile = "created"
		}
		if r["outcome"] != "created" || r["unit_id"] != unit || r["profile"] != wantProfile || r["amazon_id"] != units[unit] ||
			units[unit] == "" || assoc[fmt.Sprint(8000+room)] != units[unit] {
			t.Errorf("room %d: report %v; unit's profile %q, association %q", room, r, units[unit], assoc[fmt.Sprint(8000+room)])
		}
	}
	if a.ProfileName(emulator.DemoUnitPrefix+"111") != "Room 111" {
		t.Errorf("created profile's name: %q", a.ProfileName(emulator.DemoUnitPrefix+"111"))
	}
	if r := rows["8199"]; r["outcome"] != "failed" || r["error_type"] != "UNKNOWN_UNIT" || r["http_status"] != "404" ||
		!strings.Contains(r["error_message"], "amzn1.alexa.unit.did.AEDEMOROOM199 is not a unit the API knows") || assoc["8199"] != "" {
		t.Errorf("unknown unit: %v", r)
	}
	if r := rows["8000"]; r["outcome"] != "created" || r["unit_id"] != "" || r["profile"] != "" {
		t.Errorf("a row with an amazonId and no unit: %v", r)
	}
	// The fewest calls: one read per distinct unit (19), one unit read per
	// unit without a profile (8, and the unknown one), one batch for the 8
	// profiles, one query for the 20 rooms, one write per room.
	s := a.Stats()
	want := map[string]int{"profile.by_unit": 19, "unit.get": 9, "profile.batch": 1, "association.query": 1, "association.create": 19}
	for op, n := range want {
		if got := s.Count(op, ""); got != n {
			t.Errorf("%s: %d calls, want %d", op, got, n)
		}
	}
	if s.Total != 49 {
		t.Errorf("calls: %d, want 49: %v", s.Total, s.Calls)
	}

	// The rerun: reads only, and the unknown unit fails again.
	a.ResetStats()
	res = a.sync(t, nil, "--create-profiles", "--report", rep, unitsSample)
	if ev := endEvent(t, res.stderr); res.code != 7 || fmt.Sprint(ev["outcomes"]) != "map[failed:1 unchanged:19]" {
		t.Fatalf("rerun: exit %d: %s", res.code, res.stderr)
	}
	if ops := writeOps(a.Stats()); len(ops) != 0 {
		t.Errorf("rerun wrote: %v", ops)
	}
	rows = byID(t, readReport(t, rep))
	if rows["8111"]["profile"] != "found" || rows["8199"]["error_type"] != "UNKNOWN_UNIT" {
		t.Errorf("rerun: %v, %v", rows["8111"], rows["8199"])
	}
	if s := a.Stats(); s.Count("profile.by_unit", "") != 19 || s.Count("unit.get", "") != 1 {
		t.Errorf("rerun reads: %v", s.Calls)
	}
}

// The README's walk-through of the sample, with the emulator in the
// process and its state kept between runs.
func TestSampleRoomsByUnitEmulated(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "emulator.json")
	run := func(args ...string) (result, map[string]any) {
		sum := filepath.Join(dir, "summary.json")
		full := append([]string{"sync", "--emulate", "--emulate-state", state, "--rps", "1000", "--log-format", "json",
			"--report", filepath.Join(dir, "r.csv"), "--summary", sum}, args...)
		res := runCLI(t, nil, full...)
		var s map[string]any
		b, err := os.ReadFile(sum)
		if err != nil || json.Unmarshal(b, &s) != nil {
			t.Fatalf("summary: %v %s", err, b)
		}
		return res, s
	}
	res, sum := run("--create-profiles", unitsSample)
	if res.code != 7 || fmt.Sprint(sum["outcomes"]) != "map[created:19 failed:1]" {
		t.Fatalf("first run: exit %d, %v: %s", res.code, sum["outcomes"], res.stderr)
	}
	if calls := sum["calls"].(map[string]any); calls["profile_batch"] != 1.0 || calls["create"] != 19.0 {
		t.Errorf("first run calls: %v", calls)
	}
	res, sum = run("--create-profiles", unitsSample)
	if res.code != 7 || fmt.Sprint(sum["outcomes"]) != "map[failed:1 unchanged:19]" {
		t.Fatalf("rerun: exit %d, %v: %s", res.code, sum["outcomes"], res.stderr)
	}
	var kinds []string
	for k := range sum["calls"].(map[string]any) {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	if fmt.Sprint(kinds) != "[profile_get query unit_get]" {
		t.Errorf("rerun made calls of kinds %v, want reads only", kinds)
	}
}

// A larger property: 1,000 rooms, 600 units with a profile, 395 without,
// 5 unknown. Calls are counted against the fewest the API allows, on the
// first run and on the rerun (which writes nothing), with the batch answer
// read (the emulator's default) and with one no reading can read (flat
// ids: one batch is tried, then one create per unit).
func TestUnitsCallCounts(t *testing.T) {
	const pageSize = 10
	const with, without, unknown = 600, 395, 5
	const n = with + without + unknown
	seed := map[string]string{}
	var b strings.Builder
	b.WriteString("room,unitId,name\n")
	for i := range n {
		unit := fmt.Sprintf("amzn1.alexa.unit.did.LARGE%04d", i)
		switch {
		case i < with:
			seed[unit] = fmt.Sprintf("amzn1.alexa.communications.profile.did.LARGE%04d", i)
		case i < with+without:
			seed[unit] = ""
		}
		fmt.Fprintf(&b, "%d,%s,Room %d\n", 10000+i, unit, i)
	}
	queries := func(found func(i int) bool) int {
		q := 0
		for start := 0; start < n; start += 30 {
			f := 0
			for i := start; i < min(start+30, n); i++ {
				if found(i) {
					f++
				}
			}
			q += max(1, int(math.Ceil(float64(f)/pageSize)))
		}
		return q
	}
	rerun := map[string]int{
		"profile.by_unit":   n,
		"unit.get":          unknown,
		"association.query": queries(func(i int) bool { return i < with+without }),
	}
	tests := []struct {
		batch           string
		batches, single int
	}{
		{emulator.BatchResults, int(math.Ceil(float64(without+unknown) / 100)), 0},
		{emulator.BatchFlat, 1, without},
	}
	for _, tt := range tests {
		t.Run(tt.batch, func(t *testing.T) {
			units := map[string]string{}
			for k, v := range seed {
				units[k] = v
			}
			a := startAPI(t, emulator.Options{PageSize: pageSize, Profiles: emulator.ProfileOptions{Units: units, Batch: tt.batch}})
			dir := t.TempDir()
			in := writeFile(t, dir, "large.csv", b.String())
			first := map[string]int{
				"profile.by_unit":    n,                                        // one per distinct unit
				"unit.get":           without + unknown,                        // one per unit without a profile
				"profile.batch":      tt.batches,                               // 100 units a batch
				"profile.create":     tt.single,                                // one by one only when the batch can't be read
				"association.query":  queries(func(int) bool { return false }), // 30 ids a query
				"association.create": with + without,                           // one per room
			}
			for run, want := range []map[string]int{first, rerun} {
				a.ResetStats()
				res := a.sync(t, nil, "--create-profiles", "--report", filepath.Join(dir, "r.csv"), in)
				if ev := endEvent(t, res.stderr); res.code != 7 || ev["outcomes"].(map[string]any)["failed"] != float64(unknown) {
					t.Fatalf("run %d: exit %d: %s", run+1, res.code, res.stderr)
				}
				s := a.Stats()
				total := 0
				for op, w := range want {
					total += w
					if got := s.Count(op, ""); got != w {
						t.Errorf("run %d: %s: %d calls, want %d", run+1, op, got, w)
					}
				}
				if s.Total != total {
					t.Errorf("run %d: %d calls in all, want %d: %v", run+1, s.Total, total, s.Calls)
				}
				t.Logf("run %d: %d calls %v", run+1, s.Total, want)
			}
		})
	}
}

// A row whose unit could not be resolved keeps its room's association from
// --prune: a transient failure must never delete a room.
func TestPruneKeepsRoomsWhoseUnitFailed(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	a.seed(t, map[string]string{"8101": "amzn1.kept", "8199": "amzn1.kept.too", "9999": "amzn1.stale"})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "room,unitId\n8101,"+emulator.DemoUnitPrefix+"111\n8199,"+emulator.DemoUnitPrefix+"199\n")
	rep := filepath.Join(dir, "r.csv")
	res := a.sync(t, nil, "--prune", "--max-deletes", "-1", "--report", rep, in)
	if res.code != 7 { // no profile, no such unit: refused, not worth a rerun
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if got := a.Associations(sp); fmt.Sprint(got) != "map[8101:amzn1.kept 8199:amzn1.kept.too]" {
		t.Errorf("after prune: %v, want the failed rows' rooms kept and 9999 deleted", got)
	}
	rows := byID(t, readReport(t, rep))
	if r := rows["8101"]; r["outcome"] != "failed" || r["error_type"] != "NO_PROFILE" || r["profile"] != "missing" || r["http_status"] != "404" {
		t.Errorf("unit without a profile, creation off: %v", r)
	}
	if r := rows["8199"]; r["outcome"] != "failed" || r["error_type"] != "NO_PROFILE" || !strings.Contains(r["error_message"], "not found") {
		t.Errorf("unknown unit, creation off: %v", r)
	}
	if rows["9999"]["outcome"] != "deleted" {
		t.Errorf("pruned: %v", rows["9999"])
	}
	if ops := writeOps(a.Stats()); fmt.Sprint(ops) != "[association.delete=1]" {
		t.Errorf("writes: %v, want the one prune", ops)
	}
}

func TestProfileScopeRefusedStopsTheRun(t *testing.T) {
	a := startAPI(t, emulator.Options{Faults: "403:1"})
	dir := t.TempDir()
	rep := filepath.Join(dir, "r.csv")
	res := a.sync(t, nil, "--create-profiles", "--report", rep, unitsSample)
	if res.code != 3 || !strings.Contains(res.stderr, "alexa::enterprise:management") {
		t.Fatalf("exit %d, want 3 naming the scope: %s", res.code, res.stderr)
	}
	for _, r := range readReport(t, rep) {
		if r["outcome"] != "skipped" || !strings.Contains(r["error_message"], "authentication refused") {
			t.Errorf("row %s: %s %q, want skipped with why", r["external_user_id"], r["outcome"], r["error_message"])
		}
	}
	// The calls in flight when the first was refused finish; none starts after.
	if n := a.Stats().Total; n > 8 {
		t.Errorf("calls: %d, want at most the 8 in flight (--concurrency)", n)
	}
}

func TestUnitUsageAndOfflineChecks(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.csv", "room,unitId\n8101,"+emulator.DemoUnitPrefix+"111\n8102,amzn1.alexa.org.did.X\n")
	// --strict with an invalid row: nothing is called, no profile created.
	res := a.sync(t, nil, "--strict", "--create-profiles", "--report", filepath.Join(dir, "r.csv"), bad)
	if res.code != 2 || a.Stats().Total != 0 {
		t.Errorf("strict: exit %d after %d calls, want 2 and none: %s", res.code, a.Stats().Total, res.stderr)
	}
	// A saved plan can't create profiles.
	if res := a.cmd(t, "plan", nil, "--create-profiles", "--out", filepath.Join(dir, "p.json"), unitsSample); res.code != 2 ||
		!strings.Contains(res.stderr, "a saved plan can't hold profiles to create") {
		t.Errorf("plan --out --create-profiles: exit %d: %s", res.code, res.stderr)
	}
	// validate checks the unit id's form offline.
	res = runCLI(t, nil, "validate", "--service-provider-id", sp, bad)
	if res.code != 7 || !strings.Contains(res.stdout, bad+`:3: unitId "amzn1.alexa.org.did.X" is not an Alexa unit id starting amzn1.alexa.unit.did.`) {
		t.Errorf("validate: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
	if res := runCLI(t, nil, "validate", "--service-provider-id", sp, unitsSample); res.code != 0 {
		t.Errorf("validate of the sample: exit %d: %s%s", res.code, res.stdout, res.stderr)
	}
}
