package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
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

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	header := []string{"file", "external_user_id", "outcome"}
	w, err := NewWriter(&buf, nil, header)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]string{"rooms.csv", "=cmd|' /C calc'!A0", Created.String()})
	w.Write([]string{"", "7209", Failed.String()})
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
	if got := strings.Join(recs[1], "|"); got != "rooms.csv|'=cmd|' /C calc'!A0|created" {
		t.Errorf("row 1: got %s", got)
	}
	if got := strings.Join(recs[2], "|"); got != "|7209|failed" {
		t.Errorf("row 2: got %s", got)
	}
}

// The writer reports a write that failed, at Close if not before.
func TestWriterReportsWriteErrors(t *testing.T) {
	w, err := NewWriter(&failAfter{n: 1}, nil, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]string{"x"})
	if err := w.Close(); err == nil {
		t.Errorf("Close after a failed write: want an error")
	}
}

type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

func TestOutcomesAndActions(t *testing.T) {
	var c Counts
	c.Add(Created)
	c.Add(Created)
	c.Add(Skipped)
	if c.Total() != 3 || fmt.Sprint(c.Map()) != "map[created:2 skipped:1]" {
		t.Errorf("counts: total %d, map %v", c.Total(), c.Map())
	}
	var zero Outcome
	if zero.String() != "unknown" || Outcome(200).String() != "unknown" {
		t.Errorf("an outcome never set must not pass for one: %q, %q", zero, Outcome(200))
	}
	for a, want := range map[Action]string{ActNone: "none", ActCreate: "create", ActUpdate: "update", ActDelete: "delete", Action(9): "none"} {
		if a.String() != want {
			t.Errorf("Action(%d): got %q, want %q", a, a, want)
		}
	}
}

func TestSummary(t *testing.T) {
	var c Counts
	for _, o := range []Outcome{Created, Unchanged, Created, Unchanged, Created} {
		c.Add(o)
	}
	s := NewSummary("sync", c, map[string]int{"query": 1, "create": 3}, 1, 0, 2*time.Second)
	if s.Rows != 5 || s.CallsPerSec != 2 {
		t.Errorf("got %+v", s)
	}
	var buf bytes.Buffer
	s.WriteText(&buf)
	if !strings.Contains(buf.String(), "5 rows: 3 created, 2 unchanged") || !strings.Contains(buf.String(), "API calls: 4 (3 create, 1 query), 1 retries") {
		t.Errorf("text: %s", buf.String())
	}
}
