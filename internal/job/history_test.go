package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/storage"
)

const roomHeader = "file,line,service_provider_id,external_user_id,amazon_id,amazon_id_type,previous_amazon_id,action,outcome,http_status,error_type,error_message,attempts,duration_ms,unit_id,profile"

// roomUndo reads rooms reports as an undo does.
func roomUndo(paths ...string) ([]reconcile.Row[reconcile.Profile], error) {
	return readUndo(context.Background(), storage.New(storage.Options{}), paths, nil, rooms(&Session{}, Options{}).undo)
}

// Each row a run changed is reverted by a conditional row: created is
// deleted where the API holds what was created, updated set back where it
// holds the update, deleted created again where nothing is there. Rows the
// run did not change are not read.
func TestUndoRowsInvertTheReport(t *testing.T) {
	const p = "amzn1.comms.csp.id.p"
	dir := t.TempDir()
	path := filepath.Join(dir, "r.csv")
	os.WriteFile(path, []byte(roomHeader+"\n"+
		"in.csv,2,"+p+",101,amzn1.new,communication-profile,,create,created,201,,,1,5,,\n"+
		"in.csv,3,"+p+",'-102,amzn1.v2,communication-profile,amzn1.v1,update,updated,200,,,1,5,,\n"+
		"in.csv,4,"+p+",103,,,amzn1.old,delete,deleted,200,,,1,5,,\n"+
		","+","+p+",104,,,amzn1.pruned,delete,deleted,200,,,1,5,,\n"+
		"in.csv,6,"+p+",105,amzn1.x,communication-profile,amzn1.x,none,unchanged,,,,0,0,,\n"+
		"in.csv,7,"+p+",106,,,,none,invalid,,INVALID_ROW,amazonId is required,0,0,,\n"+
		"in.csv,8,"+p+",107,amzn1.y,communication-profile,,create,failed,500,INTERNAL,boom,8,5,,\n"+
		"in.csv,9,"+p+",108,amzn1.y,communication-profile,,create,skipped,,SKIPPED,interrupted,0,0,,\n"+
		"in.csv,10,"+p+",109,amzn1.y,communication-profile,,create,planned,,,,0,0,,\n"+
		"in.csv,11,"+p+",110,amzn1.z,communication-profile,,update,updated,200,,,1,5,,\n"+ // no before: not undoable
		"in.csv,12,"+p+",111,amzn1.z,communication-profile,,create,created,201,,,1,5,,\n"), 0o644)
	rows, err := roomUndo(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		expect := "nothing"
		if r.Expect != nil {
			expect = r.Expect.AmazonID
		}
		got = append(got, fmt.Sprintf("%d %s del=%v want=%s expect=%s cond=%v %v %s", r.Src.Line, r.Key.ID, r.Delete, r.Want.AmazonID, expect,
			r.Conditional, r.Verdict, r.ErrType))
		if r.Src.File != path || r.Key.Group != p {
			t.Errorf("row %+v: want file %s and provider %s", r, path, p)
		}
	}
	want := []string{
		"2 101 del=true want=amzn1.new expect=amzn1.new cond=true unknown ",
		"3 -102 del=false want=amzn1.v1 expect=amzn1.v2 cond=true unknown ",
		"4 103 del=false want=amzn1.old expect=nothing cond=true unknown ",
		"5 104 del=false want=amzn1.pruned expect=nothing cond=true unknown ",
		"11 110 del=false want= expect=nothing cond=true skipped NOT_UNDOABLE",
		"12 111 del=true want=amzn1.z expect=amzn1.z cond=true unknown ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("undo rows:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rows[2].Want.AmazonIDType != "communication-profile" {
		t.Errorf("a deleted association comes back with type %q", rows[2].Want.AmazonIDType)
	}
}

// A file that is not a rooms report is refused, saying why; two reports
// that revert one association differently revert it in neither.
func TestUndoReadsOnlyReports(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	for _, tt := range []struct {
		name, content, want string
	}{
		{"input", "externalUserId,amazonId\n1,amzn1.x\n", "not a bulksync rooms report: its header is externalUserId,amazonId"},
		{"products", strings.Join(report.Header[productReport](), ",") + "\n", "undo it with bulksync products sync --undo"},
		{"empty", "", "the file is empty"},
		{"broken", roomHeader + "\n\"a,1\n", "r.csv:2"},
	} {
		_, err := roomUndo(write("r.csv", tt.content))
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want a usage error saying %q", tt.name, err, tt.want)
		}
	}
	if _, err := roomUndo(filepath.Join(dir, "none.csv")); VerdictOf(err) != Usage {
		t.Errorf("missing report: %v", err)
	}
	// The report of before the unit columns is one too.
	old := strings.Join(strings.Split(roomHeader, ",")[:14], ",")
	if rows, err := roomUndo(write("old.csv", old+"\nin.csv,2,amzn1.comms.csp.id.p,1,amzn1.x,communication-profile,,create,created,201,,,1,5\n")); err != nil || len(rows) != 1 {
		t.Errorf("old report: %v, %d rows", err, len(rows))
	}

	row := "in.csv,2,amzn1.comms.csp.id.p,1,amzn1.x,communication-profile,,create,created,201,,,1,5,,\n"
	a, b := write("a.csv", roomHeader+"\n"+row), write("b.csv", roomHeader+"\n"+row)
	c := write("c.csv", roomHeader+"\nin.csv,2,amzn1.comms.csp.id.p,1,amzn1.y,communication-profile,amzn1.x,update,updated,200,,,1,5,,\n")
	rows, err := roomUndo(a, b)
	if err != nil || len(rows) != 2 || rows[0].Verdict != reconcile.Valid || rows[1].Verdict != reconcile.Duplicate {
		t.Errorf("one report twice: %v %+v", err, rows)
	}
	rows, err = roomUndo(a, c)
	if err != nil || len(rows) != 2 || rows[0].Verdict != reconcile.Invalid || rows[1].Verdict != reconcile.Invalid ||
		!strings.Contains(rows[0].Reason, "undo one report at a time, the latest first") {
		t.Errorf("two runs of one association: %v %+v", err, rows)
	}
}

// A report cell reads back as it was before it was defused.
func TestUnsafeCell(t *testing.T) {
	for _, v := range []string{"=1+1", "-101", "+49", "@x", "\tx", "101", "'quoted", "", "'"} {
		if got := unsafeCell(report.SafeCell(v)); got != v {
			t.Errorf("unsafeCell(SafeCell(%q)) = %q", v, got)
		}
	}
}

// Rejected rows go to one file per distinct header of the input, in input
// order, with error_type and error; rows without cells to a file of the
// plain columns. Nothing is at a path until the end.
func TestRejectsFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rejects.csv")
	os.WriteFile(path, []byte("the previous run's\n"), 0o644)
	headers := []inputHeader{
		{"a.csv", []string{"Room", "Profile", "Notes"}, ';'},
		{"b.csv", []string{"room", "profile"}, ','},
		{"c.csv", []string{"Room", "Profile", "Notes"}, ';'},
		{"d.csv", []string{"Room", "Profile", "Notes", "error_type", "error"}, ';'}, // a rejects file fed again
		{"e.csv", []string{"Room", "Profile", "Notes"}, '\t'},                       // another delimiter: another file
	}
	store := storage.New(storage.Options{})
	create := func(p string) (*storage.Writer, error) { return createOutput(context.Background(), store, p) }
	r, err := newRejects(path, roomColumns, headers, create, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.add("a.csv", []string{"1", "", "=cmd"}, nil, "INVALID_ROW", "amazonId is required")
	r.add("b.csv", []string{"2", "x", "extra cell"}, nil, "INVALID_ROW", "bad")
	r.add("c.csv", []string{"-3"}, nil, "NOT_FOUND", "no such provider")
	r.add("d.csv", []string{"4", "", "", "INVALID_ROW", "old reason"}, nil, "INVALID_ROW", "new reason")
	r.add("e.csv", []string{"6", "", "x y"}, nil, "INVALID_ROW", "tab")
	r.add("plan.json", nil, []string{"p", "5", "amzn1.x", "communication-profile", "upsert"}, "INTERNAL", "boom")
	if data, _ := os.ReadFile(path); string(data) != "the previous run's\n" {
		t.Errorf("rejects.csv changed before the end: %q", data)
	}
	paths, err := r.close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{path, filepath.Join(dir, "rejects-2.csv"), filepath.Join(dir, "rejects-3.csv"), filepath.Join(dir, "rejects-4.csv")}; fmt.Sprint(paths) != fmt.Sprint(want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
	for p, want := range map[string]string{
		path: "Room;Profile;Notes;error_type;error\n1;;'=cmd;INVALID_ROW;amazonId is required\n-3;;;NOT_FOUND;no such provider\n" +
			"4;;;INVALID_ROW;new reason\n",
		filepath.Join(dir, "rejects-2.csv"): "room,profile,error_type,error\n2,x,INVALID_ROW,bad\n",
		filepath.Join(dir, "rejects-3.csv"): "Room\tProfile\tNotes\terror_type\terror\n6\t\tx y\tINVALID_ROW\ttab\n",
		filepath.Join(dir, "rejects-4.csv"): "serviceProviderId,externalUserId,amazonId,amazonIdType,action,error_type,error\np,5,amzn1.x,communication-profile,upsert,INTERNAL,boom\n",
	} {
		if data, _ := os.ReadFile(p); string(data) != want {
			t.Errorf("%s:\n got %q\nwant %q", filepath.Base(p), data, want)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// Dropped, the path keeps what it had.
	r, err = newRejects(path, roomColumns, headers, create, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.add("a.csv", []string{"9"}, nil, "INVALID_ROW", "x")
	r.abort()
	if data, _ := os.ReadFile(path); !strings.HasPrefix(string(data), "Room;Profile;Notes;error_type;error\n1;") {
		t.Errorf("an aborted rejects file replaced the last one: %q", data)
	}
	if err := os.WriteFile(filepath.Join(dir, "no"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newRejects(filepath.Join(dir, "no", "such", "dir.csv"), roomColumns, headers, create, nil); err == nil {
		t.Errorf("a path that can't be written is accepted")
	}
}

// Cells are defused as a report's are, but plain numbers come back as they
// were: an extension -101 must not be fed again as '-101.
func TestSafeReject(t *testing.T) {
	for v, want := range map[string]string{"-101": "-101", "+49": "+49", "=1+1": "'=1+1", "-": "'-", "@a": "'@a", "- 1": "'- 1", "abc": "abc"} {
		if got := safeReject(v); got != want {
			t.Errorf("safeReject(%q) = %q, want %q", v, got, want)
		}
	}
}

func TestExpandPath(t *testing.T) {
	at := time.Date(2026, 12, 2, 4, 15, 0, 0, time.FixedZone("CET", 3600))
	if got, want := expandPath("/r/{time}-{run_id}.csv", "abc123", at), "/r/20261202T031500Z-abc123.csv"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := expandPath("report.csv", "abc", at); got != "report.csv" {
		t.Errorf("got %s", got)
	}
}

// The command line of a summary hides a URL's password, and quotes what a
// shell would need quoted.
func TestCommandLine(t *testing.T) {
	got := CommandLine([]string{"sync", "--pushgateway", "https://ops:hunter2@pg.example:9091/x", "--pushgateway=http://u:p%40ss@h/",
		"--endpoint", "https://api.example/", "--report", "/r/{time}.csv", "my rooms.csv"})
	want := "bulksync sync --pushgateway https://ops:xxxxx@pg.example:9091/x --pushgateway=http://u:xxxxx@h/ --endpoint https://api.example/ " +
		"--report '/r/{time}.csv' 'my rooms.csv'"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// An output through a symlink replaces the file it names, and leaves the
// link a link; a device is written in place.
func TestOutputFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.csv")
	os.WriteFile(target, []byte("old"), 0o644)
	link := filepath.Join(dir, "link.csv")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	ctx, store := context.Background(), storage.New(storage.Options{})
	if err := writeOutput(ctx, store, link, nil, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is no longer a link: %v", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "new" {
		t.Errorf("target holds %q", data)
	}
	if err := writeOutput(ctx, store, os.DevNull, nil, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); !errors.Is(err, storage.ErrNotRegular) {
		t.Errorf("%s: got %v, want it refused: it is not a regular file", os.DevNull, err)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode().IsRegular() {
		t.Errorf("%s was replaced", os.DevNull)
	}
	failing := errors.New("no")
	os.WriteFile(target, []byte("kept"), 0o644)
	if err := writeOutput(ctx, store, target, nil, func(io.Writer) error { return failing }); !errors.Is(err, failing) {
		t.Errorf("got %v", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "kept" {
		t.Errorf("a failed write replaced the file: %q", data)
	}
}

// The summary names its run: its id, its start and end in UTC, what ran.
func TestSummaryNamesTheRun(t *testing.T) {
	at := time.Date(2026, 12, 2, 4, 15, 0, 0, time.FixedZone("CET", 3600))
	o := Options{Command: "sync", IO: IO{RunID: "5f2a9c01d3e4", Version: "v1.2.3", CommandLine: "bulksync sync rooms.csv",
		Now: func() time.Time { return at }}}
	res, err := (&ending{o: o, start: at.Add(-time.Minute)}).finish(context.Background(), reconcile.Counts{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := res.Summary.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"run_id": "5f2a9c01d3e4"`, `"started_at": "2026-12-02T03:14:00Z"`, `"finished_at": "2026-12-02T03:15:00Z"`,
		`"version": "v1.2.3"`, `"command_line": "bulksync sync rooms.csv"`, `"duration_ms": 60000`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %s:\n%s", want, b.String())
		}
	}
}
