package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

func TestPruneDeletesExactlyTheAbsent(t *testing.T) {
	a := startAPI(t, emulator.Options{PageSize: 10})
	existing := map[string]string{}
	var b strings.Builder
	b.WriteString("externalUserId,amazonId\n")
	for i := 0; i < 50; i++ {
		existing[fmt.Sprint(3000+i)] = "amzn1.p"
		if i < 45 {
			fmt.Fprintf(&b, "%d,amzn1.p\n", 3000+i) // 45 named, 5 vanished
		}
	}
	fmt.Fprintf(&b, "3999,\n") // an invalid row still protects its id
	existing["3999"] = "amzn1.keep"
	a.seed(t, existing)
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", b.String())
	rep := filepath.Join(dir, "report.csv")
	res := a.sync(t, nil, "--prune", "--report", rep, in)
	if res.code != 7 { // one invalid row
		t.Fatalf("exit %d, want 7:\n%s", res.code, res.stderr)
	}
	got := a.Associations(sp)
	for i := 0; i < 50; i++ {
		id := fmt.Sprint(3000 + i)
		if _, ok := got[id]; ok != (i < 45) {
			t.Errorf("%s present %v, want %v", id, ok, i < 45)
		}
	}
	if got["3999"] != "amzn1.keep" {
		t.Errorf("3999, named by an invalid row, was pruned")
	}
	pruned := 0
	for _, r := range readReport(t, rep) {
		if r["file"] == "" {
			pruned++
			if r["line"] != "" || r["action"] != "delete" || r["outcome"] != "deleted" || r["previous_amazon_id"] != "amzn1.p" {
				t.Errorf("pruned row: %v", r)
			}
		}
	}
	if pruned != 5 {
		t.Errorf("report: %d pruned rows, want 5", pruned)
	}
	// The listing is the cheaper strategy: ceil(51/10) = 6 list calls and no
	// query, against at least 2 queries (3 and 2 pages) plus the listing.
	s := a.Stats()
	listing := int(math.Ceil(51.0 / 10))
	queries := 3 + 2 + listing
	if got := s.Count("association.query", ""); got != min(listing, queries) {
		t.Errorf("query calls: got %d, want %d (listing) rather than %d (queries)", got, listing, queries)
	}
	if got := writes(s); got != 5 {
		t.Errorf("writes: got %d, want the 5 deletes", got)
	}
}

func TestPruneGuards(t *testing.T) {
	existing := map[string]string{}
	var b strings.Builder
	b.WriteString("externalUserId,amazonId\n")
	for i := 0; i < 40; i++ {
		existing[fmt.Sprint(4000+i)] = "amzn1.p"
		if i >= 5 {
			fmt.Fprintf(&b, "%d,amzn1.p\n", 4000+i) // 5 of 40 vanished: 12.5%
		}
	}
	for _, tt := range []struct {
		args []string
		code int
	}{
		{nil, 3},                              // default 10%: 5 > 4
		{[]string{"--max-deletes", "4"}, 3},   // count
		{[]string{"--max-deletes", "13%"}, 0}, // 5 <= 5.2
	} {
		a := startAPI(t, emulator.Options{})
		a.seed(t, existing)
		dir := t.TempDir()
		in := writeFile(t, dir, "rooms.csv", b.String())
		rep := filepath.Join(dir, "report.csv")
		res := a.sync(t, nil, append([]string{"--prune", "--report", rep, in}, tt.args...)...)
		if res.code != tt.code {
			t.Errorf("%v: exit %d, want %d:\n%s", tt.args, res.code, tt.code, res.stderr)
		}
		if tt.code == 3 {
			if n := writes(a.Stats()); n != 0 {
				t.Errorf("%v: a tripped guard made %d writes", tt.args, n)
			}
			skipped := 0
			for _, r := range readReport(t, rep) {
				if r["outcome"] == "skipped" && r["file"] == "" {
					skipped++
				}
			}
			if skipped != 5 {
				t.Errorf("%v: %d pruned rows reported skipped, want 5", tt.args, skipped)
			}
		}
	}
}

func TestSavedPlans(t *testing.T) {
	start := map[string]string{"5001": "amzn1.old", "5002": "amzn1.same", "5003": "amzn1.gone"}
	content := "externalUserId,amazonId\n5001,amzn1.new\n5002,amzn1.same\n5004,amzn1.fresh\n"
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", content)
	rep := filepath.Join(dir, "report.csv")

	// What sync does directly...
	direct := startAPI(t, emulator.Options{})
	direct.seed(t, start)
	if res := direct.sync(t, nil, "--prune", "--max-deletes", "-1", "--report", rep, in); res.code != 0 {
		t.Fatalf("sync: exit %d:\n%s", res.code, res.stderr)
	}

	// ...a reviewed plan does too, with only the planned writes. Under the
	// default guard (10%: none of 3) the plan says a sync would stop...
	a := startAPI(t, emulator.Options{})
	a.seed(t, start)
	planFile := filepath.Join(dir, "plan.json")
	res := a.cmd(t, "plan", nil, "--prune", "--detailed-exitcode", "--out", planFile, "--report", rep, in)
	if res.code != 3 || !strings.Contains(res.stderr, "a sync would stop before its first write: max-deletes 10%: the plan deletes 1 of the 3") {
		t.Fatalf("plan under the default guard: exit %d, want 3:\n%s", res.code, res.stderr)
	}
	// ...so it is reviewed with the deletes allowed, and applied as reviewed.
	res = a.cmd(t, "plan", nil, "--prune", "--max-deletes", "-1", "--out", planFile, "--report", rep, in)
	if res.code != 0 || !strings.Contains(res.stderr, `"create":1,"update":1,"delete":1,`) {
		t.Fatalf("plan: exit %d:\n%s", res.code, res.stderr)
	}
	if res := a.cmd(t, "sync", nil, "--plan", planFile, "--max-deletes", "0", "--report", rep); res.code != 3 ||
		!strings.Contains(res.stderr, "max-deletes 0: the plan deletes 1") || writes(a.Stats()) != 0 {
		t.Fatalf("a stricter limit at apply: exit %d with %d writes, want 3 and none:\n%s", res.code, writes(a.Stats()), res.stderr)
	}
	data, _ := os.ReadFile(planFile)
	if !strings.Contains(string(data), `"before": null`) || !strings.Contains(string(data), `"amazonId": "amzn1.old"`) {
		t.Errorf("plan file lacks the before-states:\n%s", data)
	}
	// The file alone never loosens the guard: without the limit it was
	// reviewed under, the default applies too.
	if res := a.cmd(t, "sync", nil, "--plan", planFile, "--report", rep); res.code != 3 || writes(a.Stats()) != 0 {
		t.Fatalf("sync --plan without --max-deletes: exit %d with %d writes, want 3 and none:\n%s", res.code, writes(a.Stats()), res.stderr)
	}
	a.ResetStats()
	if res := a.cmd(t, "sync", nil, "--plan", planFile, "--max-deletes", "-1", "--report", rep); res.code != 0 {
		t.Fatalf("sync --plan, under the limit it was reviewed under: exit %d:\n%s", res.code, res.stderr)
	}
	if got, want := a.Associations(sp), direct.Associations(sp); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("plan applied: %v; sync gave %v", got, want)
	}
	if n := writes(a.Stats()); n != 3 {
		t.Errorf("plan applied with %d writes, want 3", n)
	}

	// A plan whose ids changed since is refused whole.
	b := startAPI(t, emulator.Options{})
	b.seed(t, start)
	if res := b.cmd(t, "plan", nil, "--prune", "--max-deletes", "-1", "--out", planFile, "--report", rep, in); res.code != 0 {
		t.Fatalf("plan: exit %d:\n%s", res.code, res.stderr)
	}
	b.seed(t, map[string]string{"5001": "amzn1.someone-else"})
	b.ResetStats()
	res = b.cmd(t, "sync", nil, "--plan", planFile, "--max-deletes", "-1", "--report", rep)
	if res.code != 3 || !strings.Contains(res.stderr, "plan is stale: 1 of the ids") || !strings.Contains(res.stderr, "5001: planned from amzn1.old, now amzn1.someone-else") {
		t.Fatalf("stale plan: exit %d:\n%s", res.code, res.stderr)
	}
	if n := writes(b.Stats()); n != 0 {
		t.Errorf("stale plan made %d writes", n)
	}
	if rows := readReport(t, rep); len(rows) != 3 {
		t.Errorf("stale plan report: %d rows, want the 3 planned writes, skipped", len(rows))
	}
	if res := b.cmd(t, "sync", nil, "--plan", planFile, in); res.code != 2 {
		t.Errorf("--plan with files: exit %d, want 2", res.code)
	}
}

// Shards of an Indexed Job prune at the same time: one shard's deletes
// shift the offsets of another's listing. A run whose listing changed
// while it was read reads it again; one whose listing never settles exits
// 1 (the Job retries it), never 0.
func TestPruneWhileAnotherShardDeletes(t *testing.T) {
	for _, tt := range []struct {
		name    string
		disturb int
		code    int
	}{{"disturbed once", 1, 0}, {"never settles", 1000, 1}} {
		t.Run(tt.name, func(t *testing.T) {
			var a *api
			var pages, disturbed atomic.Int32
			var others []string // ids another shard deletes, one per disturbance
			a = startAPI(t, emulator.Options{PageSize: 10, OnAnswer: func(op, status string) {
				if op != "association.query" || pages.Add(1)%6 != 1 || int(disturbed.Load()) >= tt.disturb {
					return // only after the first page of each listing of 60
				}
				if n := int(disturbed.Add(1)); n <= len(others) {
					a.Remove(sp, others[n-1])
				}
			}})
			existing := map[string]string{}
			var b strings.Builder
			b.WriteString("externalUserId,amazonId\n")
			for i := 0; i < 50; i++ {
				id := fmt.Sprint(5000 + i)
				existing[id] = "amzn1.p"
				if i%5 != 0 {
					fmt.Fprintf(&b, "%s,amzn1.p\n", id) // every fifth vanished: 10 to prune
				}
			}
			for i := 0; i < 10; i++ { // what the other shard deletes, sorting before ours
				existing[fmt.Sprint(1000+i)] = "amzn1.other"
				others = append(others, fmt.Sprint(1000+i))
			}
			a.seed(t, existing)
			dir := t.TempDir()
			in := writeFile(t, dir, "rooms.csv", b.String())
			rep := filepath.Join(dir, "report.csv")
			res := a.sync(t, nil, "--prune", "--max-deletes", "-1", "--report", rep, in)
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d:\n%s", res.code, tt.code, res.stderr)
			}
			left := 0
			for id := range a.Associations(sp) {
				if n, _ := strconv.Atoi(id); n >= 5000 && (n-5000)%5 == 0 {
					left++
				}
			}
			if tt.code == 0 && left > 0 {
				t.Errorf("%d vanished rooms left after a run that exited 0", left)
			}
			if tt.code == 1 && !strings.Contains(res.stderr, "run again") {
				t.Errorf("stderr does not say to run again:\n%s", res.stderr)
			}
			for _, r := range readReport(t, rep) {
				if r["file"] != "" && r["outcome"] != "unchanged" {
					t.Errorf("input row %v", r)
				}
			}
		})
	}
}

// --prune --allow-empty with a header-only export says "wipe the provider":
// it does, through the guards.
func TestPruneEmptyExportWipesTheProvider(t *testing.T) {
	existing := map[string]string{}
	for i := 0; i < 30; i++ {
		existing[fmt.Sprint(6000+i)] = "amzn1.p"
	}
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n")
	rep := filepath.Join(dir, "report.csv")

	a := startAPI(t, emulator.Options{})
	a.seed(t, existing)
	if res := a.sync(t, nil, "--prune", "--allow-empty", "--report", rep, in); res.code != 3 ||
		!strings.Contains(res.stderr, "deletes 30 of the 30 associations") || len(a.Associations(sp)) != 30 {
		t.Errorf("guarded: exit %d with %d left, want 3 with 30:\n%s", res.code, len(a.Associations(sp)), res.stderr)
	}
	if res := a.sync(t, nil, "--prune", "--report", rep, in); res.code != 3 || !strings.Contains(res.stderr, "input has no valid row") {
		t.Errorf("without --allow-empty: exit %d:\n%s", res.code, res.stderr)
	}
	res := a.sync(t, nil, "--prune", "--allow-empty", "--max-deletes", "-1", "--report", rep, in)
	if res.code != 0 || len(a.Associations(sp)) != 0 {
		t.Fatalf("unguarded: exit %d with %d left, want 0 with none:\n%s", res.code, len(a.Associations(sp)), res.stderr)
	}
	if rows := readReport(t, rep); len(rows) != 30 || rows[0]["outcome"] != "deleted" || rows[0]["file"] != "" {
		t.Errorf("report: %d rows, first %v", len(rows), rows[0])
	}
}

// A saved plan whose run was killed part way is finished by running it
// again: the writes already made are reported unchanged ("already applied"),
// the rest are made; a write whose id changed otherwise still makes it stale.
func TestSavedPlanAppliedPartly(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n7203,amzn1.c\n")
	plan, rep := filepath.Join(dir, "plan.json"), filepath.Join(dir, "r.csv")
	if res := a.cmd(t, "plan", nil, "--out", plan, "--report", rep, in); res.code != 0 {
		t.Fatalf("plan: exit %d\n%s", res.code, res.stderr)
	}
	a.seed(t, map[string]string{"7201": "amzn1.a"}) // the killed run's one write
	if res := a.sync(t, nil, "--plan", plan, "--report", rep); res.code != 0 {
		t.Fatalf("sync --plan: exit %d\n%s", res.code, res.stderr)
	}
	rows := byID(t, readReport(t, rep))
	if r := rows["7201"]; r["outcome"] != "unchanged" || !strings.Contains(r["error_message"], "already applied") {
		t.Errorf("7201: %v, want unchanged, already applied", r)
	}
	if rows["7202"]["outcome"] != "created" || rows["7203"]["outcome"] != "created" {
		t.Errorf("the rest: %v %v, want created", rows["7202"], rows["7203"])
	}
	if got := a.Associations(sp); len(got) != 3 {
		t.Errorf("state: %v", got)
	}
}
