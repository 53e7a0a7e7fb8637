package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/rs/zerolog"
)

func TestSafeCell(t *testing.T) {
	tests := map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+1":                "'+1",
		"-2":                "'-2",
		"@SUM(A1)":          "'@SUM(A1)",
		"\tx":               "'\tx",
		"\rx":               "'\rx",
		"7201":              "7201",
		"":                  "",
		"a=b":               "a=b",
	}
	for in, want := range tests {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q): got %q, want %q", in, got, want)
		}
	}
}

// testRow is a report row as a resource declares one: csv tags name the
// columns, in order; BlankZero leaves a zero empty.
type testRow struct {
	File    string    `csv:"file"`
	Line    BlankZero `csv:"line"`
	ID      string    `csv:"external_user_id"`
	Outcome string    `csv:"outcome"`
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	header := []string{"file", "line", "external_user_id", "outcome"}
	if got := Header[testRow](); strings.Join(got, ",") != strings.Join(header, ",") {
		t.Fatalf("Header: got %q, want %q", got, header)
	}
	w, err := NewWriter[testRow](&buf, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(testRow{"rooms.csv", 2, "=cmd|' /C calc'!A0", reconcile.Created.String()})
	w.Write(testRow{"", 0, "7209", reconcile.Failed.String()})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(header, ",") {
		t.Fatalf("got %q", recs)
	}
	if got := strings.Join(recs[1], "|"); got != "rooms.csv|2|'=cmd|' /C calc'!A0|created" {
		t.Errorf("row 1: got %s", got)
	}
	if got := strings.Join(recs[2], "|"); got != "||7209|failed" {
		t.Errorf("row 2: got %s", got)
	}
}

// The writer reports the first write that fails, at once to onErr and
// again at Close, and writes nothing after it: a report with a gap would
// pass for a whole one.
func TestWriterReportsWriteErrors(t *testing.T) {
	out := &failAfter{n: 1}
	var heard []error
	w, err := NewWriter[oneColumn](out, nil, func(err error) { heard = append(heard, err) })
	if err != nil {
		t.Fatal(err)
	}
	w.Write(oneColumn{"x"})
	w.Flush()
	if len(heard) != 1 || !errors.Is(heard[0], errDiskFull) {
		t.Fatalf("onErr after a failed flush: got %v, want once with %v", heard, errDiskFull)
	}
	out.n = 100 // the disk has room again
	w.Write(oneColumn{"y"})
	if err := w.Close(); !errors.Is(err, errDiskFull) {
		t.Errorf("Close after a failed write: got %v, want %v", err, errDiskFull)
	}
	if len(heard) != 1 || out.wrote != "a\n" {
		t.Errorf("after the failure: onErr heard %d times, the file holds %q; want once and only the header", len(heard), out.wrote)
	}
}

// A header that can't be written is NewWriter's error.
func TestWriterHeaderError(t *testing.T) {
	if _, err := NewWriter[oneColumn](&failAfter{}, nil, nil); !errors.Is(err, errDiskFull) {
		t.Errorf("got %v, want %v", err, errDiskFull)
	}
}

var errDiskFull = errors.New("no space left on device")

type oneColumn struct {
	A string `csv:"a"`
}

type twoColumns struct {
	A string `csv:"a"`
	B string `csv:"b"`
}

type failAfter struct {
	n     int
	wrote string
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errDiskFull
	}
	f.n--
	f.wrote += string(p)
	return len(p), nil
}

// A disk that fills up in the middle of a write leaves the report ending in
// a whole record, not half of one.
func TestWriterCutsOffAHalfWrittenRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	full := &fillingFile{File: f, room: len("a,b\n1,2\n") + 3}
	w, err := NewWriter[twoColumns](full, full, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(twoColumns{"1", "2"})
	w.Flush()
	w.Write(twoColumns{"3", "4"}) // only "3,4" fits: the disk fills mid-record
	if err := w.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close: got %v, want ENOSPC", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "a,b\n1,2\n"; got != want {
		t.Errorf("report after a full disk: got %q, want %q", got, want)
	}
}

// fillingFile is a file on a disk with room bytes left: a write beyond
// them writes what fits and fails, as write(2) does.
type fillingFile struct {
	*os.File
	room int
}

func (f *fillingFile) Write(p []byte) (int, error) {
	if len(p) <= f.room {
		f.room -= len(p)
		return f.File.Write(p)
	}
	n, _ := f.File.Write(p[:f.room])
	f.room = 0
	return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

func TestSummary(t *testing.T) {
	var c reconcile.Counts
	for _, o := range []reconcile.Outcome{reconcile.Created, reconcile.Unchanged, reconcile.Created, reconcile.Unchanged, reconcile.Created} {
		c.Add(o)
	}
	s := NewSummary("sync", c, map[string]int{"query": 1, "create": 3}, map[string]int{"query 2xx": 1, "create 2xx": 2, "create 503": 1}, 1, 0, 2*time.Second)
	if s.Rows != 5 || s.CallsPerSec != 2 {
		t.Errorf("got %+v", s)
	}
	var buf bytes.Buffer
	s.WriteText(&buf)
	if !strings.Contains(buf.String(), "5 rows: 3 created, 2 unchanged") || !strings.Contains(buf.String(), "API calls: 4 (3 create, 1 query), 1 retries") {
		t.Errorf("text: %s", buf.String())
	}
}

// The closing event is one JSON line with the summary's figures as fields.
func TestSummaryEvent(t *testing.T) {
	var c reconcile.Counts
	c.Add(reconcile.Created)
	c.Add(reconcile.Failed)
	s := NewSummary("sync", c, map[string]int{"query": 1, "create": 2}, map[string]int{"query 2xx": 1, "create 2xx": 1, "create 503": 1}, 1, 0, 1500*time.Millisecond)
	s.ExitCode, s.Report, s.Message, s.Hint = 1, "out/report.csv", "something failed", "do this"
	var buf bytes.Buffer
	s.Log(zerolog.New(&buf), zerolog.WarnLevel)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want one event:\n%s", len(lines), buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, lines[0])
	}
	want := map[string]any{
		"level": "warn", "message": "run finished", "rows": 2.0,
		"outcomes": map[string]any{"created": 1.0, "failed": 1.0}, "calls": map[string]any{"query": 1.0, "create": 2.0},
		"statuses": map[string]any{"query": map[string]any{"2xx": 1.0}, "create": map[string]any{"2xx": 1.0, "503": 1.0}},
		"retries":  1.0, "throttled": 0.0, "duration_ms": 1500.0, "calls_per_second": 2.0, "exit_code": 1.0,
		"report": "out/report.csv", "error": "something failed", "hint": "do this",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("event:\n got %v\nwant %v", got, want)
	}
}
