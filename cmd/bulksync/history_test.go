package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
)

// runIDOf is the run_id of a run's JSON log lines; it fails the test
// unless every line carries the same one.
func runIDOf(t *testing.T, stderr string) string {
	t.Helper()
	id := ""
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		got, _ := m["run_id"].(string)
		if id == "" {
			id = got
		}
		if got == "" || got != id {
			t.Fatalf("log line with run_id %q, want %q on every line: %s", got, id, l)
		}
	}
	return id
}

// readCSV is a CSV file's records, header first; comma is its delimiter
// (0: a comma).
func readCSV(t *testing.T, path string, comma rune) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	if comma != 0 {
		r.Comma = comma
	}
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

func writeCSV(t *testing.T, path string, comma rune, recs [][]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Comma = comma
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// An export of providers of many pages is every association, sorted, and
// the same bytes twice; a sync of it (with --prune too) writes nothing.
func TestExportOfManyPagesSyncsBackWithNoWrite(t *testing.T) {
	a := startAPI(t, emulator.Options{PageSize: 3})
	const other = "amzn1.comms.csp.id.other"
	existing := map[string]string{"-5": "amzn1.minus", "=1+1": "amzn1.formula"} // read back as they are
	for i := range 46 {
		existing[fmt.Sprint(100+i)] = fmt.Sprintf("amzn1.p%d", i)
	}
	a.seed(t, existing)
	a.Put(other, map[string]string{"1": "amzn1.o1", "2": "amzn1.o2"})
	dir := t.TempDir()
	res := a.cmd(t, "export", nil, "--service-provider-id", other, "--out", filepath.Join(dir, "{run_id}.csv"))
	if res.code != 0 {
		t.Fatalf("export: exit %d:\n%s", res.code, res.stderr)
	}
	out := filepath.Join(dir, runIDOf(t, res.stderr)+".csv")
	recs := readCSV(t, out, 0)
	if got, want := strings.Join(recs[0], ","), "serviceProviderId,externalUserId,amazonId,amazonIdType"; got != want {
		t.Errorf("header %s, want %s", got, want)
	}
	var got []string
	for _, r := range recs[1:] {
		got = append(got, r[0]+"/"+r[1]+"="+r[2])
		if r[3] != "communication-profile" {
			t.Errorf("row %v: type %q", r, r[3])
		}
	}
	var want []string
	for id, amz := range existing {
		want = append(want, sp+"/"+id+"="+amz)
	}
	want = append(want, other+"/1=amzn1.o1", other+"/2=amzn1.o2")
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("export:\n got %v\nwant %v", got, want)
	}
	// Every page was read: 16 of the provider's 48, 1 of the other's.
	if n := a.Stats().Count("association.query", ""); n != 17 {
		t.Errorf("export made %d queries, want 17 (every page)", n)
	}
	again := a.cmd(t, "export", nil, "--service-provider-id", other)
	first, _ := os.ReadFile(out)
	if again.code != 0 || again.stdout != string(first) {
		t.Errorf("second export (stdout) exit %d differs from the first:\n%s\n---\n%s", again.code, again.stdout, first)
	}

	for _, flags := range [][]string{nil, {"--prune"}} {
		a.ResetStats()
		rep := filepath.Join(dir, "report.csv")
		res := a.sync(t, nil, append(flags, "--report", rep, out)...)
		if res.code != 0 {
			t.Fatalf("sync %v of the export: exit %d:\n%s", flags, res.code, res.stderr)
		}
		if n := writes(a.Stats()); n != 0 {
			t.Errorf("sync %v of the export made %d writes, want none", flags, n)
		}
		rows := readReport(t, rep)
		for _, r := range rows {
			if r["outcome"] != "unchanged" {
				t.Errorf("sync %v: row %v", flags, r)
			}
		}
		if len(rows) != len(want) {
			t.Errorf("sync %v: %d rows, want %d", flags, len(rows), len(want))
		}
	}
}

// A listing another client changes while it is read is read again; one
// that keeps changing writes nothing, and leaves --out as it was.
func TestExportOfAChangingListing(t *testing.T) {
	for _, tt := range []struct {
		name    string
		disturb int32
		code    int
	}{{"changed once", 1, 0}, {"keeps changing", 1000, 1}} {
		t.Run(tt.name, func(t *testing.T) {
			var a *api
			var disturbed atomic.Int32
			a = startAPI(t, emulator.Options{PageSize: 10, OnAnswer: func(op, status string) {
				if op == "association.query" && disturbed.Add(1) <= tt.disturb {
					a.Remove(sp, fmt.Sprint(100+disturbed.Load())) // another client deletes one
				}
			}})
			existing := map[string]string{}
			for i := range 100 {
				existing[fmt.Sprint(100+i)] = "amzn1.p"
			}
			a.seed(t, existing)
			out := writeFile(t, t.TempDir(), "export.csv", "left as it was\n")
			res := a.cmd(t, "export", nil, "--out", out)
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d:\n%s", res.code, tt.code, res.stderr)
			}
			data, _ := os.ReadFile(out)
			switch {
			case tt.code != 0 && (string(data) != "left as it was\n" || !strings.Contains(res.stderr, "kept changing")):
				t.Errorf("refused export: --out holds %q; stderr:\n%s", data, res.stderr)
			case tt.code == 0 && strings.Count(string(data), "\n") != 1+len(a.Associations(sp)):
				t.Errorf("export has %d lines, want the header and the %d associations", strings.Count(string(data), "\n"), len(a.Associations(sp)))
			}
			matches, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*tmp"))
			if len(matches) > 0 {
				t.Errorf("temporary files left: %v", matches)
			}
		})
	}
}

// A run of creates, updates, deletes and prunes, an outside edit, and an
// undo: the API is as before the run but for what was changed since,
// which is reported with what it holds. The undo's report undoes the undo.
func TestUndoRevertsARunButWhatChangedSince(t *testing.T) {
	a := startAPI(t, emulator.Options{PageSize: 4})
	before := map[string]string{"101": "amzn1.a", "102": "amzn1.b", "103": "amzn1.c", "104": "amzn1.d", "105": "amzn1.e", "-7": "amzn1.m"}
	a.seed(t, before)
	dir := t.TempDir()
	in := writeFile(t, dir, "change.csv", "externalUserId,amazonId,action\n"+
		"101,amzn1.a2,\n"+ // update
		"102,,delete\n"+ // delete
		"103,amzn1.c,\n"+ // unchanged: not in the undo
		"106,amzn1.f,\n"+ // create
		"107,amzn1.g,\n"+ // create
		"108,,\n"+ // invalid: not in the undo
		"-7,amzn1.m2,\n") // update of an id a spreadsheet would read as a formula
	r1 := filepath.Join(dir, "run.csv")
	if res := a.sync(t, nil, "--prune", "--max-deletes", "-1", "--report", r1, in); res.code != 7 {
		t.Fatalf("run: exit %d, want 7 (an invalid row):\n%s", res.code, res.stderr)
	}
	after := maps.Clone(a.Associations(sp))
	// Outside edits: a created association changed, an updated one deleted.
	a.Put(sp, map[string]string{"106": "amzn1.edited"})
	a.Remove(sp, "101")

	u1 := filepath.Join(dir, "undo.csv")
	a.ResetStats()
	res := a.sync(t, nil, "--max-deletes", "-1", "--report", u1, "--undo", r1)
	if res.code != 7 { // the rows changed since are left alone: no rerun undoes them
		t.Fatalf("undo: exit %d, want 7:\n%s", res.code, res.stderr)
	}
	want := maps.Clone(before)
	want["106"] = "amzn1.edited" // changed since: left alone
	delete(want, "101")          // deleted since: left alone
	if got := a.Associations(sp); !maps.Equal(got, want) {
		t.Errorf("after the undo:\n got %v\nwant %v", got, want)
	}
	rows := byID(t, readReport(t, u1))
	if len(rows) != 7 { // 101, 102, 104, 105 (pruned), 106, 107, -7
		t.Errorf("undo report has %d rows, want 7: %v", len(rows), rows)
	}
	for id, want := range map[string]string{"102": "created", "104": "created", "105": "created", "107": "deleted", "'-7": "updated",
		"106": "skipped", "101": "skipped"} {
		if got := rows[id]["outcome"]; got != want {
			t.Errorf("undo of %s: %s, want %s (%v)", id, got, want, rows[id])
		}
	}
	if r := rows["106"]; r["error_type"] != "CHANGED_SINCE" || !strings.Contains(r["error_message"], "amzn1.edited") ||
		!strings.Contains(r["error_message"], "amzn1.f") || r["previous_amazon_id"] != "amzn1.edited" || r["file"] != r1 {
		t.Errorf("edited row: %v", r)
	}
	if r := rows["101"]; r["error_type"] != "CHANGED_SINCE" || !strings.Contains(r["error_message"], "no association") {
		t.Errorf("deleted row: %v", r)
	}
	if n := strings.Count(res.stderr, `"level":"warn"`) - strings.Count(res.stderr, `"message":"run finished"`); n != 2 || !strings.Contains(res.stderr, "amzn1.edited") {
		t.Errorf("%d warnings, want one per association left alone:\n%s", n, res.stderr)
	}
	if n := a.Stats().Count("association.delete", ""); n != 1 { // 107 only: 106 was left alone
		t.Errorf("%d deletes, want 1", n)
	}

	// The undo's report undoes the undo: the run's state, but for what
	// changed since the run.
	res = a.sync(t, nil, "--max-deletes", "-1", "--report", filepath.Join(dir, "redo.csv"), "--undo", u1)
	if res.code != 0 {
		t.Fatalf("undo of the undo: exit %d:\n%s", res.code, res.stderr)
	}
	want = maps.Clone(after)
	want["106"] = "amzn1.edited"
	delete(want, "101")
	if got := a.Associations(sp); !maps.Equal(got, want) {
		t.Errorf("after the undo of the undo:\n got %v\nwant %v", got, want)
	}
}

// plan --undo shows the undo and saves it; sync --plan applies it, and
// refuses it whole when an id it touches changed since.
func TestUndoThroughASavedPlan(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	a.seed(t, map[string]string{"201": "amzn1.a", "202": "amzn1.b"})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n201,amzn1.a2\n203,amzn1.c\n")
	r1 := filepath.Join(dir, "run.csv")
	if res := a.sync(t, nil, "--report", r1, in); res.code != 0 {
		t.Fatalf("run: exit %d:\n%s", res.code, res.stderr)
	}
	a.ResetStats()
	plan := filepath.Join(dir, "undo-{run_id}.json")
	res := a.cmd(t, "plan", nil, "--undo", r1, "--out", plan, "--report", filepath.Join(dir, "plan.csv"), "--detailed-exitcode", "--max-deletes", "-1")
	if res.code != 5 || writes(a.Stats()) != 0 {
		t.Fatalf("plan --undo: exit %d with %d writes, want 5 and none:\n%s", res.code, writes(a.Stats()), res.stderr)
	}
	plan = filepath.Join(dir, "undo-"+runIDOf(t, res.stderr)+".json")
	if res := a.sync(t, nil, "--plan", plan, "--max-deletes", "-1", "--report", filepath.Join(dir, "apply.csv")); res.code != 0 {
		t.Fatalf("sync --plan: exit %d:\n%s", res.code, res.stderr)
	}
	if got, want := a.Associations(sp), map[string]string{"201": "amzn1.a", "202": "amzn1.b"}; !maps.Equal(got, want) {
		t.Errorf("after the undo: %v, want %v", got, want)
	}
	// Planned again, then an id changes: the plan is refused whole.
	if res := a.sync(t, nil, "--report", r1, in); res.code != 0 {
		t.Fatalf("run again: exit %d:\n%s", res.code, res.stderr)
	}
	plan = filepath.Join(dir, "undo.json")
	if res := a.cmd(t, "plan", nil, "--undo", r1, "--out", plan, "--report", filepath.Join(dir, "plan.csv"), "--max-deletes", "-1"); res.code != 0 {
		t.Fatalf("plan --undo: exit %d:\n%s", res.code, res.stderr)
	}
	a.Put(sp, map[string]string{"203": "amzn1.edited"})
	if res := a.sync(t, nil, "--plan", plan, "--max-deletes", "-1", "--report", filepath.Join(dir, "apply.csv")); res.code != 3 || !strings.Contains(res.stderr, "changed since") {
		t.Errorf("stale undo plan: exit %d, want 3:\n%s", res.code, res.stderr)
	}
	if got := a.Associations(sp)["201"]; got != "amzn1.a2" {
		t.Errorf("a stale plan wrote: 201 is %s", got)
	}
}

// An undo is a sync: its deletes are guarded; it reads reports of sharded,
// interrupted and other providers' runs; it refuses what is not a report.
func TestUndoGuardsAndReports(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	existing := map[string]string{}
	var b strings.Builder
	b.WriteString("externalUserId,amazonId\n")
	for i := range 20 {
		existing[fmt.Sprint(300+i)] = "amzn1.old"
		fmt.Fprintf(&b, "%d,amzn1.new\n", 400+i)
	}
	a.seed(t, existing)
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", b.String())
	var reports []string
	for i := range 2 {
		rep := filepath.Join(dir, fmt.Sprintf("shard-%d.csv", i))
		if res := a.sync(t, nil, "--shard", fmt.Sprintf("%d/2", i), "--report", rep, in); res.code != 0 {
			t.Fatalf("shard %d: exit %d:\n%s", i, res.code, res.stderr)
		}
		reports = append(reports, rep)
	}
	// 20 creates undone are 20 deletes of 40: over the default 10%.
	a.ResetStats()
	res := a.sync(t, nil, "--report", filepath.Join(dir, "u.csv"), "--undo", reports[0], "--undo", reports[1])
	if res.code != 3 || writes(a.Stats()) != 0 || !strings.Contains(res.stderr, "max-deletes") {
		t.Fatalf("guarded undo: exit %d with %d writes, want 3 and none:\n%s", res.code, writes(a.Stats()), res.stderr)
	}
	if res := a.sync(t, nil, "--max-deletes", "20", "--report", filepath.Join(dir, "u.csv"), "--undo", reports[0], "--undo", reports[1]); res.code != 0 {
		t.Fatalf("undo of both shards: exit %d:\n%s", res.code, res.stderr)
	}
	if got := a.Associations(sp); !maps.Equal(got, existing) {
		t.Errorf("after undoing both shards: %v", got)
	}

	// A report of an interrupted run of another provider: its rows that
	// were not sent (skipped) are not undone; the changes are, in its provider.
	const other = "amzn1.comms.csp.id.other"
	a.Put(other, map[string]string{"1": "amzn1.x", "2": "amzn1.y"})
	killed := writeFile(t, dir, "killed.csv", strings.Join([]string{
		"file,line,service_provider_id,external_user_id,amazon_id,amazon_id_type,previous_amazon_id,action,outcome,http_status,error_type,error_message,attempts,duration_ms,unit_id,profile",
		"in.csv,2," + other + ",1,amzn1.x,communication-profile,,create,created,201,,,1,5,,",
		"in.csv,3," + other + ",2,amzn1.y,communication-profile,amzn1.old,update,skipped,,SKIPPED,interrupted before this row was sent,0,0,,",
		"in.csv,4," + other + ",3,amzn1.z,communication-profile,,create,failed,500,INTERNAL,boom,8,9,,",
	}, "\n")+"\n")
	if res := a.sync(t, nil, "--report", filepath.Join(dir, "u2.csv"), "--max-deletes", "-1", "--undo", killed); res.code != 0 {
		t.Fatalf("undo of an interrupted run: exit %d:\n%s", res.code, res.stderr)
	}
	if got, want := a.Associations(other), map[string]string{"2": "amzn1.y"}; !maps.Equal(got, want) {
		t.Errorf("other provider after the undo: %v, want %v", got, want)
	}

	kept := readReportText(t, reports[0])
	if res := a.sync(t, nil, "--report", reports[0], "--undo", reports[0]); res.code != 2 || readReportText(t, reports[0]) != kept {
		t.Errorf("an undo's report over the report it undoes: exit %d, want 2 and the report kept:\n%s", res.code, res.stderr)
	}

	products := writeFile(t, dir, "products-report.csv", "file,line,skill_id,product_id,stage,action,outcome,http_status,error_type,error_message,attempts,duration_ms\n")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"an input file", []string{"--undo", in}, "not a bulksync rooms report: its header is externalUserId,amazonId"},
		{"a products report", []string{"--undo", products}, "undo it with bulksync products sync --undo"},
		{"files too", []string{"--undo", reports[0], in}, "give no FILE"},
		{"and prune", []string{"--undo", reports[0], "--prune"}, "prunes nothing"},
	} {
		a.ResetStats()
		res := a.sync(t, nil, append([]string{"--report", filepath.Join(dir, "u3.csv")}, tt.args...)...)
		if res.code != 2 || !strings.Contains(res.stderr, tt.want) || writes(a.Stats()) != 0 {
			t.Errorf("%s: exit %d, want 2 saying %q:\n%s", tt.name, res.code, tt.want, res.stderr)
		}
	}
}

// The rows that ended invalid or failed come back in their file's own
// columns (foreign headers, other columns, formulas defused), one rejects
// file per header; fixed, they are the retry.
func TestRejectsFixedAndFedAgain(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	const gone = "amzn1.comms.csp.id.notyet"
	dir := t.TempDir()
	in := writeFile(t, dir, "pms.csv", "Extension;communicationProfileId;Guest Name;Notes\n"+
		"501;amzn1.a;Ann;\n"+ // created
		"502;;Bob;\"=HYPERLINK(\"\"http://x\"\")\"\n"+ // invalid: no profile
		"503;wrong;\"Cy; Jr\";late\n"+ // invalid: not an id
		"-101;;Dee;\n") // invalid; an extension a spreadsheet reads as a number
	other := writeFile(t, dir, "annex.csv", "room,profileId,provider,floor\n601,amzn1.b,"+gone+",6\n")
	rej := filepath.Join(dir, "rejects.csv")
	res := a.sync(t, nil, "--rejects", rej, "--report", filepath.Join(dir, "report.csv"), in, other)
	if res.code != 7 {
		t.Fatalf("exit %d, want 7:\n%s", res.code, res.stderr)
	}
	want := [][]string{
		{"Extension", "communicationProfileId", "Guest Name", "Notes", "error_type", "error"},
		{"502", "", "Bob", `'=HYPERLINK("http://x")`, "INVALID_ROW", "amazonId is required for action upsert"},
		{"503", "wrong", "Cy; Jr", "late", "INVALID_ROW", `amazonId "wrong" does not start with amzn1.`},
		{"-101", "", "Dee", "", "INVALID_ROW", "amazonId is required for action upsert"},
	}
	// In the input's own delimiter, in the order rows finished.
	got := readCSV(t, rej, ';')
	slices.SortFunc(got[1:], func(x, y []string) int { return strings.Compare(x[2], y[2]) })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rejects:\n got %q\nwant %q", got, want)
	}
	annex := readCSV(t, filepath.Join(dir, "rejects-2.csv"), 0)
	if len(annex) != 2 || strings.Join(annex[0], ",") != "room,profileId,provider,floor,error_type,error" ||
		strings.Join(annex[1][:4], ",") != "601,amzn1.b,"+gone+",6" || annex[1][4] != "NOT_FOUND" {
		t.Errorf("rejects of the annex: %q", annex)
	}

	// Fixed: the profiles filled in (a cell left as it was stays wrong), the
	// provider onboarded; the rejects files are the retry.
	got[1][1], got[2][1] = "amzn1.b2", "amzn1.c3"
	writeCSV(t, rej, ';', got)
	a.Put(gone, map[string]string{})
	rej2 := filepath.Join(dir, "rejects-again.csv")
	res = a.sync(t, nil, "--rejects", rej2, "--report", filepath.Join(dir, "report2.csv"), rej, filepath.Join(dir, "rejects-2.csv"))
	if res.code != 7 {
		t.Fatalf("retry: exit %d, want 7 (-101 is still without a profile):\n%s", res.code, res.stderr)
	}
	if got, want := a.Associations(sp), map[string]string{"501": "amzn1.a", "502": "amzn1.b2", "503": "amzn1.c3"}; !maps.Equal(got, want) {
		t.Errorf("after the retry: %v, want %v", got, want)
	}
	if got := a.Associations(gone); got["601"] != "amzn1.b" {
		t.Errorf("annex after the retry: %v", got)
	}
	// A rejects file fed again keeps one pair of error columns.
	again := readCSV(t, rej2, ';')
	if len(again) != 2 || len(again[0]) != 6 || again[1][0] != "-101" {
		t.Errorf("rejects of the retry: %q", again)
	}

	// validate writes the same invalid rows, with no network.
	vrej := filepath.Join(dir, "validate-rejects.csv")
	res = runCLI(t, nil, "validate", "--service-provider-id", sp, "--rejects", vrej, in)
	if res.code != 7 {
		t.Fatalf("validate: exit %d:\n%s", res.code, res.stderr)
	}
	if v := readCSV(t, vrej, ';'); fmt.Sprint(v) != fmt.Sprint(want) {
		t.Errorf("validate rejects:\n got %q\nwant %q", v, want)
	}
}

// Two runs with {time}-{run_id} keep two reports and two summaries, each
// naming its run as its log lines do; no secret in the command line.
func TestEveryRunKeepsItsReport(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n701,amzn1.a\n702,\n")
	name := regexp.MustCompile(`^(\d{8}T\d{6}Z)-([0-9a-f]{12})\.(csv|json)$`)
	ids := map[string]bool{}
	for range 2 {
		start := time.Now().UTC().Truncate(time.Second)
		res := a.sync(t, nil, "--report", filepath.Join(dir, "{time}-{run_id}.csv"), "--summary", filepath.Join(dir, "{time}-{run_id}.json"),
			"--rejects", filepath.Join(dir, "rejects-{run_id}.csv"), "--pushgateway", "http://bulksync:s3cret-pass@127.0.0.1:1/", in)
		if res.code != 7 {
			t.Fatalf("exit %d, want 7:\n%s", res.code, res.stderr)
		}
		id := runIDOf(t, res.stderr)
		ids[id] = true
		var sum struct {
			RunID       string    `json:"run_id"`
			StartedAt   time.Time `json:"started_at"`
			FinishedAt  time.Time `json:"finished_at"`
			Version     string    `json:"version"`
			CommandLine string    `json:"command_line"`
			Report      string    `json:"report"`
			Rejects     []string  `json:"rejects"`
		}
		matches, _ := filepath.Glob(filepath.Join(dir, "*-"+id+".json"))
		if len(matches) != 1 {
			t.Fatalf("summaries of run %s: %v", id, matches)
		}
		data, _ := os.ReadFile(matches[0])
		if err := json.Unmarshal(data, &sum); err != nil {
			t.Fatal(err)
		}
		m := name.FindStringSubmatch(filepath.Base(matches[0]))
		if m == nil || sum.RunID != id || m[2] != id || sum.Report != strings.TrimSuffix(matches[0], ".json")+".csv" {
			t.Errorf("summary %s: run_id %q, report %q; log run_id %s", matches[0], sum.RunID, sum.Report, id)
		}
		if st, _ := time.Parse("20060102T150405Z", m[1]); st.Before(start) || sum.StartedAt.Truncate(time.Second) != st ||
			sum.FinishedAt.Before(sum.StartedAt) || sum.StartedAt.Location() != time.UTC {
			t.Errorf("summary %s: started %v, finished %v; name's time %s", matches[0], sum.StartedAt, sum.FinishedAt, m[1])
		}
		if sum.Version == "" || !strings.Contains(sum.CommandLine, "bulksync sync ") || !strings.Contains(sum.CommandLine, "{time}-{run_id}.csv") ||
			strings.Contains(sum.CommandLine, "s3cret") || !strings.Contains(sum.CommandLine, "bulksync:xxxxx@127.0.0.1") {
			t.Errorf("summary: version %q, command line %q", sum.Version, sum.CommandLine)
		}
		if strings.Contains(string(data), "s3cret") || strings.Contains(res.stderr, "s3cret") {
			t.Errorf("the Pushgateway password is printed")
		}
		if len(sum.Rejects) != 1 || filepath.Base(sum.Rejects[0]) != "rejects-"+id+".csv" {
			t.Errorf("summary rejects %v", sum.Rejects)
		}
		if _, err := os.Stat(strings.TrimSuffix(matches[0], ".json") + ".csv"); err != nil {
			t.Errorf("report of run %s: %v", id, err)
		}
	}
	if len(ids) != 2 {
		t.Errorf("run ids %v, want two", ids)
	}
	reports, _ := filepath.Glob(filepath.Join(dir, "*T*Z-*.csv"))
	if len(reports) != 2 {
		t.Errorf("reports %v, want two", reports)
	}
}

// Product associations export as products sync reads them, and a
// products sync is undone from its report.
func TestProductsExportAndUndo(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	ids := a.seedProducts(3)
	a.Associate("development", ids[0], skillN(1), skillN(2))
	a.Associate("development", ids[1], skillN(2))
	dir := t.TempDir()
	for _, by := range [][]string{{"--vendor-id", emulator.DefaultVendor}, {"--skill-id", skillN(1), "--skill-id", skillN(2)}} {
		out := filepath.Join(dir, "products.csv")
		res := a.products(t, "export", append(by, "--out", out)...)
		if res.code != 0 {
			t.Fatalf("products export %v: exit %d:\n%s", by, res.code, res.stderr)
		}
		data, _ := os.ReadFile(out)
		want := "skillId,productId\n" + skillN(1) + "," + ids[0] + "\n" + skillN(2) + "," + ids[0] + "\n" + skillN(2) + "," + ids[1] + "\n"
		if string(data) != want {
			t.Errorf("products export %v:\n%s\nwant\n%s", by, data, want)
		}
		a.ResetStats()
		if res := a.products(t, "sync", "--prune", "--report", filepath.Join(dir, "r.csv"), out); res.code != 0 || productWrites(a.Stats()) != 0 {
			t.Errorf("products sync of the export %v: exit %d with %d writes:\n%s", by, res.code, productWrites(a.Stats()), res.stderr)
		}
	}
	in := writeFile(t, dir, "change.csv", "skillId,productId,action\n"+skillN(1)+","+ids[2]+",\n"+skillN(2)+","+ids[1]+",disassociate\n")
	rep := filepath.Join(dir, "run.csv")
	before := a.state(ids)
	if res := a.products(t, "sync", "--max-deletes", "-1", "--report", rep, in); res.code != 0 {
		t.Fatalf("products sync: exit %d:\n%s", res.code, res.stderr)
	}
	if res := a.products(t, "sync", "--max-deletes", "-1", "--report", filepath.Join(dir, "undo.csv"), "--undo", rep); res.code != 0 {
		t.Fatalf("products undo: exit %d:\n%s", res.code, res.stderr)
	}
	if got := a.state(ids); !slices.Equal(got, before) {
		t.Errorf("after the undo: %v, want %v", got, before)
	}
	if res := a.products(t, "sync", "--report", filepath.Join(dir, "x.csv"), "--undo", filepath.Join(dir, "r.csv")); res.code != 0 {
		t.Errorf("undo of a run that changed nothing: exit %d:\n%s", res.code, res.stderr)
	}
	// Rejected product rows come back in their file's columns.
	bad := writeFile(t, dir, "bad.csv", "Skill;In-Skill Product ID;notes\n"+skillN(3)+";"+ids[2]+";fine\nskill-9;"+ids[2]+";=1+1\n")
	rej := filepath.Join(dir, "rejects.csv")
	if res := a.products(t, "sync", "--rejects", rej, "--report", filepath.Join(dir, "x.csv"), bad); res.code != 7 {
		t.Fatalf("products sync: exit %d:\n%s", res.code, res.stderr)
	}
	if got := readReportText(t, rej); !strings.HasPrefix(got, "Skill;In-Skill Product ID;notes;error_type;error\nskill-9;"+ids[2]+";'=1+1;INVALID_ROW;") ||
		strings.Count(got, "\n") != 2 {
		t.Errorf("products rejects:\n%s", got)
	}
	if res := a.products(t, "sync", "--report", filepath.Join(dir, "x.csv"), "--undo", filepath.Join(dir, "undo.csv"), "--undo", rep); res.code != 7 ||
		!strings.Contains(readReportText(t, filepath.Join(dir, "x.csv")), "undo one report at a time") {
		t.Errorf("two reports of one association: exit %d:\n%s", res.code, res.stderr)
	}
}

func readReportText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A rejects file that can't be written stops the run before it sends
// anything; one that names an input is refused.
func TestRejectsPathProblems(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n801,amzn1.a\n802,\n")
	notADir := writeFile(t, dir, "file.txt", "")
	for _, tt := range []struct {
		name, path string
		code       int
		want       string
	}{
		{"under a file", filepath.Join(notADir, "rejects.csv"), 6, "can't write the rejects"},
		{"a device", "/dev/null", 6, "can't write the rejects"},
		{"the input", in, 2, "the rejects " + in + " is the input"},
		{"stdout", "-", 2, "--rejects needs a file"},
	} {
		a.ResetStats()
		res := a.sync(t, nil, "--rejects", tt.path, "--report", filepath.Join(dir, "report.csv"), in)
		if res.code != tt.code || !strings.Contains(res.stderr, tt.want) || writes(a.Stats()) > 0 {
			t.Errorf("%s: exit %d with %d writes, want %d saying %q:\n%s", tt.name, res.code, writes(a.Stats()), tt.code, tt.want, res.stderr)
		}
		if strings.Count(res.stderr, tt.want) != 1 {
			t.Errorf("%s: said %d times, want once:\n%s", tt.name, strings.Count(res.stderr, tt.want), res.stderr)
		}
	}
	if got := readReportText(t, in); got != "externalUserId,amazonId\n801,amzn1.a\n802,\n" {
		t.Errorf("the input was overwritten: %q", got)
	}
}
