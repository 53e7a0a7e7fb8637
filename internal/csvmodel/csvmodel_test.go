package csvmodel

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const sp = "amzn1.comms.csp.id.demo"

func read(t *testing.T, files ...string) (*Reader, error) {
	t.Helper()
	r := NewReader(Options{DefaultProvider: sp})
	for i, f := range files {
		if err := r.Read(fmt.Sprintf("f%d.csv", i+1), strings.NewReader(f)); err != nil {
			return r, err
		}
	}
	return r, nil
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Row
	}{
		{"plain", "externalUserId,amazonId\n7201,amzn1.p.1\n",
			[]Row{{File: "f1.csv", Line: 2, ServiceProviderID: sp, ExternalUserID: "7201", AmazonID: "amzn1.p.1", AmazonIDType: DefaultAmazonIDType, Action: ActionUpsert}}},
		{"semicolon, BOM, CRLF, aliases", "\ufeffRoom Extension;Profile_ID;Provider\r\n7201;amzn1.p.1;amzn1.comms.csp.id.x\r\n",
			[]Row{{File: "f1.csv", Line: 2, ServiceProviderID: "amzn1.comms.csp.id.x", ExternalUserID: "7201", AmazonID: "amzn1.p.1", AmazonIDType: DefaultAmazonIDType, Action: ActionUpsert}}},
		{"tab, blank lines, trimmed, other columns", "room\tguest\tcommunication-profile-id\n\n 7201 \tJane\t amzn1.p.1 \n",
			[]Row{{File: "f1.csv", Line: 3, ServiceProviderID: sp, ExternalUserID: "7201", AmazonID: "amzn1.p.1", AmazonIDType: DefaultAmazonIDType, Action: ActionUpsert}}},
		{"quoted field across lines keeps physical lines", "extension,amazonId,note\n\"7201\",amzn1.p.1,\"two\nlines\"\n7202,amzn1.p.2,x\n",
			[]Row{
				{File: "f1.csv", Line: 2, ServiceProviderID: sp, ExternalUserID: "7201", AmazonID: "amzn1.p.1", AmazonIDType: DefaultAmazonIDType, Action: ActionUpsert},
				{File: "f1.csv", Line: 4, ServiceProviderID: sp, ExternalUserID: "7202", AmazonID: "amzn1.p.2", AmazonIDType: DefaultAmazonIDType, Action: ActionUpsert}}},
		{"delete rows need no amazonId", "externalUserId,action\n7201,DELETE\n",
			[]Row{{File: "f1.csv", Line: 2, ServiceProviderID: sp, ExternalUserID: "7201", Action: ActionDelete}}},
		{"short row", "externalUserId,amazonId,amazonIdType\n7201,amzn1.p.1\n",
			[]Row{{File: "f1.csv", Line: 2, ServiceProviderID: sp, ExternalUserID: "7201", AmazonID: "amzn1.p.1", AmazonIDType: DefaultAmazonIDType, Action: ActionUpsert}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := read(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []Row
			for _, c := range r.Rows() {
				if c.Status != Valid {
					t.Errorf("%s: got %v %q, want valid", c.Where(), c.Status, c.Reason)
				}
				got = append(got, c.Row)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestRowChecks(t *testing.T) {
	long := strings.Repeat("9", 256)
	tests := []struct{ line, want string }{
		{"7201,,", "f1.csv:2: amazonId is required for action upsert"},
		{",amzn1.p,", "f1.csv:2: externalUserId is empty"},
		{long + ",amzn1.p,", "f1.csv:2: externalUserId is 256 characters long; at most 255"},
		{"72\x0101,amzn1.p,", "f1.csv:2: externalUserId contains a control character"},
		{"7201,profile-1,", `f1.csv:2: amazonId "profile-1" does not start with amzn1.`},
		{"7201,amzn1.p,amzn1.comms.csp.id.a/b", `f1.csv:2: serviceProviderId "amzn1.comms.csp.id.a/b" contains '/', which can't go into a URL path`},
		{"7201,amzn1.p,amzn1.comms.csp.id.a?b", `f1.csv:2: serviceProviderId "amzn1.comms.csp.id.a?b" contains '?', which can't go into a URL path`},
		{"7201,amzn1.p,amzn1.comms.csp.id.a b", `f1.csv:2: serviceProviderId "amzn1.comms.csp.id.a b" contains ' ', which can't go into a URL path`},
		{"7201,amzn1.p,acme", `f1.csv:2: serviceProviderId "acme" is not an ACI starting amzn1.comms.csp.id.`},
	}
	for _, tt := range tests {
		r, err := read(t, "externalUserId,amazonId,serviceProviderId\n"+tt.line+"\n")
		if err != nil {
			t.Fatal(err)
		}
		c := r.Rows()[0]
		if got := c.Where() + ": " + c.Reason; c.Status != Invalid || got != tt.want {
			t.Errorf("line %q: got %v %q, want %q", tt.line, c.Status, got, tt.want)
		}
	}
	r, _ := read(t, "externalUserId,amazonId,action\n7201,amzn1.p,replace\n")
	if c := r.Rows()[0]; c.Reason != `action "replace" is not upsert or delete` {
		t.Errorf("bad action: got %q", c.Reason)
	}
}

func TestDuplicatesAcrossFiles(t *testing.T) {
	r, err := read(t,
		"externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n7203,amzn1.c\n",
		"externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.OTHER\n7203,amzn1.c\n7203,amzn1.c\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		where  string
		status Status
	}{
		{"f1.csv:2", Valid}, {"f1.csv:3", Invalid}, {"f1.csv:4", Valid},
		{"f2.csv:2", Duplicate}, {"f2.csv:3", Invalid}, {"f2.csv:4", Duplicate}, {"f2.csv:5", Duplicate},
	}
	rows := r.Rows()
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		if rows[i].Where() != w.where || rows[i].Status != w.status {
			t.Errorf("row %d: got %s %v (%s), want %s %v", i, rows[i].Where(), rows[i].Status, rows[i].Reason, w.where, w.status)
		}
	}
	if got := rows[1].Reason; got != "externalUserId 7202 is given conflicting values at f1.csv:3 and f2.csv:3" {
		t.Errorf("conflict reason: got %q", got)
	}
	if v, d, i := r.Counts(); v != 2 || d != 3 || i != 2 {
		t.Errorf("counts: got %d valid %d duplicate %d invalid, want 2 3 2", v, d, i)
	}
}

func TestConflictAfterDuplicateInvalidatesAll(t *testing.T) {
	r, _ := read(t, "externalUserId,amazonId\n7201,amzn1.a\n7201,amzn1.a\n7201,amzn1.b\n")
	for _, c := range r.Rows() {
		if c.Status != Invalid {
			t.Errorf("%s: got %v, want invalid", c.Where(), c.Status)
		}
	}
}

func TestRejectedFiles(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"missing column", "room,guest\n7201,Jane\n", "f1.csv:1: required column amazonId (or communicationProfileId, profileId) is missing; the header has room, guest"},
		{"missing id column", "amazonId\namzn1.a\n", "f1.csv:1: required column externalUserId (or extension, roomExtension, room) is missing; the header has amazonId"},
		{"empty", "", "f1.csv: file is empty: a header row is required"},
		{"binary", "PK\x03\x04\x00\x00binary", "f1.csv: file is not text (it contains NUL bytes); is it a spreadsheet (.xlsx) rather than CSV?"},
		{"utf-16", "\xff\xfee\x00x\x00", "f1.csv: file is UTF-16 text; export it as UTF-8 (CSV UTF-8 in spreadsheet programs)"},
		{"unclosed quote", "externalUserId,amazonId\n7201,amzn1.a\n\"7202,amzn1.b\n7203,amzn1.c\n", "f1.csv:3: a quoted field is never closed (unbalanced \")"},
		{"bare quote", "externalUserId,amazonId\n72\"01,amzn1.a\n", "f1.csv:2: a \" appears inside an unquoted field; quote the field and double the \""},
		{"latin-1", "externalUserId,amazonId\nChambre \xe9t\xe9,amzn1.a\n", "f1.csv:2: not UTF-8 text; export the file as UTF-8"},
		{"two columns for one", "room,extension,amazonId\n", "f1.csv:1: columns \"room\" and \"extension\" both mean externalUserId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := read(t, tt.in)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FileError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %q\nwant %q", err.Error(), tt.want)
			}
		})
	}
}

func TestSniffDelimiter(t *testing.T) {
	tests := map[string]rune{
		"a,b,c\n":            ',',
		"a;b;c\n":            ';',
		"a\tb\tc\n":          '\t',
		`"x;y",b,c` + "\n":   ',',
		"a;b,c;d\n1,2,3,4\n": ';',
		"single\n":           ',',
	}
	for in, want := range tests {
		if got := sniffDelimiter([]byte(in)); got != want {
			t.Errorf("sniffDelimiter(%q): got %q, want %q", in, got, want)
		}
	}
}

// Streaming (validate) and collecting (sync) agree on every verdict.
func TestStreamingMatchesCollecting(t *testing.T) {
	files := []string{
		"externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n7203,amzn1.c\n7204,\n",
		"externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.OTHER\n7203,amzn1.c\n7203,amzn1.c\n7201,amzn1.Z\n",
	}
	collect, _ := read(t, files...)
	want := map[string]Status{}
	for _, c := range collect.Rows() {
		want[c.Where()] = c.Status
	}
	got := map[string]Status{}
	s := NewReader(Options{DefaultProvider: sp, OnRow: func(c Checked) { got[c.Where()] = c.Status }})
	for i, f := range files {
		if err := s.Read(fmt.Sprintf("f%d.csv", i+1), strings.NewReader(f)); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("streaming: %v\ncollecting: %v", got, want)
	}
	v1, d1, i1 := collect.Counts()
	v2, d2, i2 := s.Counts()
	if v1 != v2 || d1 != d2 || i1 != i2 || len(s.Rows()) != 0 {
		t.Errorf("counts: streaming %d/%d/%d, collecting %d/%d/%d", v2, d2, i2, v1, d1, i1)
	}
}
