package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/rs/zerolog"
)

// What a summary tells a person, for each shape of run.
func TestSummaryText(t *testing.T) {
	var some reconcile.Counts
	some.Add(reconcile.Created)
	some.Add(reconcile.Skipped)
	tests := []struct {
		name   string
		sum    Summary
		report string
		blank  int
		want   string
	}{
		{"no rows, no calls", NewSummary("sync", reconcile.Counts{}, nil, nil, 0, 0, 0), "", 0,
			"\nsync: 0 rows: no rows\nAPI calls: none\ntook 0s (0.0 calls/s)\n"},
		{"blank rows, a report file", NewSummary("plan", some, map[string]int{"query": 2}, nil, 0, 1, 4*time.Second), "out/report.csv", 3,
			"\nplan: 2 rows: 1 created, 1 skipped; 3 blank rows skipped\nAPI calls: 2 (2 query), 0 retries, 1 throttled\ntook 4s (0.5 calls/s); report: out/report.csv\n"},
		{"the report on standard output", NewSummary("sync", some, map[string]int{"create": 1}, nil, 0, 0, time.Second), "-", 0,
			"\nsync: 2 rows: 1 created, 1 skipped\nAPI calls: 1 (1 create), 0 retries, 0 throttled\ntook 1s (1.0 calls/s); report: standard output\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.sum.Report, tt.sum.BlankRows = tt.report, tt.blank
			var buf bytes.Buffer
			tt.sum.WriteText(&buf)
			if buf.String() != tt.want {
				t.Errorf("got:\n%q\nwant:\n%q", buf.String(), tt.want)
			}
		})
	}
}

// The summary file is the summary as JSON, with what is empty left out;
// a run with nothing to count still has objects, not nulls, in its event.
func TestSummaryJSONAndEmptyEvent(t *testing.T) {
	s := NewSummary("validate", reconcile.Counts{}, nil, nil, 0, 0, 0)
	s.BlankRows = 2
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"statuses", "message", "hint", "report"} {
		if _, ok := back[absent]; ok {
			t.Errorf("summary file has %s: %s", absent, buf.String())
		}
	}
	if back["command"] != "validate" || back["blank_rows"] != 2.0 || !strings.HasPrefix(buf.String(), "{\n  \"command\"") {
		t.Errorf("summary file: %s", buf.String())
	}
	buf.Reset()
	s.Outcomes = nil
	s.Log(zerolog.New(&buf), zerolog.InfoLevel)
	var ev map[string]any
	if err := json.Unmarshal(buf.Bytes(), &ev); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"outcomes", "calls", "statuses"} {
		if m, ok := ev[field].(map[string]any); !ok || len(m) != 0 {
			t.Errorf("event %s: %v, want {}", field, ev[field])
		}
	}
	if ev["blank_rows"] != 2.0 || ev["level"] != "info" {
		t.Errorf("event: %s", buf.String())
	}
	for _, absent := range []string{"report", "error", "hint"} {
		if _, ok := ev[absent]; ok {
			t.Errorf("event has %s: %s", absent, buf.String())
		}
	}
}

// Once a run is stopping, each row reaches the file as it is written: a
// second signal may end the process at any moment.
func TestWriterFlushEach(t *testing.T) {
	var out bytes.Buffer
	w, err := NewWriter[oneColumn](&out, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(oneColumn{"1"}) // buffered, for the flusher to write within a second
	w.FlushEach()
	if got := out.String(); got != "a\n1\n" {
		t.Errorf("FlushEach: %q, want what was buffered written", got)
	}
	w.Write(oneColumn{"-2"})
	if got := out.String(); got != "a\n1\n'-2\n" {
		t.Errorf("a row after FlushEach: %q, want it written at once", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Errorf("report: %q, %v", recs, err)
	}
}
