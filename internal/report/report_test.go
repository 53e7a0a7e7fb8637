package report

import (
	"bytes"
	"encoding/csv"
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
	w, err := NewWriter(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(Row{File: "rooms.csv", Line: 3, ServiceProviderID: "amzn1.comms.csp.id.x", ExternalUserID: "=cmd|' /C calc'!A0",
		AmazonID: "amzn1.p", AmazonIDType: "communication-profile", Action: ActCreate, Outcome: Created, Attempts: 1, Duration: 12 * time.Millisecond})
	w.Write(Row{ExternalUserID: "7209", PreviousAmazonID: "amzn1.old", Action: ActDelete, Outcome: Failed, HTTPStatus: 503,
		ErrorType: "SERVICE_UNAVAILABLE", ErrorMessage: "down, for now", Attempts: 8})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(Header, ",") {
		t.Fatalf("got %q", recs)
	}
	if got := strings.Join(recs[1], "|"); got != "rooms.csv|3|amzn1.comms.csp.id.x|'=cmd|' /C calc'!A0|amzn1.p|communication-profile||create|created||||1|12" {
		t.Errorf("row 1: got %s", got)
	}
	if got := strings.Join(recs[2], "|"); got != "|||7209|||amzn1.old|delete|failed|503|SERVICE_UNAVAILABLE|down, for now|8|0" {
		t.Errorf("pruned row: got %s", got)
	}
	if c := w.Counts(); c[Created] != 1 || c[Failed] != 1 {
		t.Errorf("counts: got %v", c)
	}
}

func TestSummary(t *testing.T) {
	s := NewSummary("sync", map[string]int{Created: 3, Unchanged: 2}, map[string]int{"query": 1, "create": 3}, 1, 0, 2*time.Second)
	if s.Rows != 5 || s.CallsPerSec != 2 {
		t.Errorf("got %+v", s)
	}
	var buf bytes.Buffer
	s.WriteText(&buf)
	if !strings.Contains(buf.String(), "5 rows: 3 created, 2 unchanged") || !strings.Contains(buf.String(), "API calls: 4 (3 create, 1 query), 1 retries") {
		t.Errorf("text: %s", buf.String())
	}
}
