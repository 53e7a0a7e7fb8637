package csvmodel

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const sp = "amzn1.comms.csp.id.demo"

// reportHeader is the rooms report's header, as internal/job passes it.
var reportHeader = strings.Split("file,line,service_provider_id,external_user_id,amazon_id,amazon_id_type,previous_amazon_id,action,outcome,http_status,error_type,error_message,attempts,duration_ms", ",")

func read(t *testing.T, files ...string) (*Reader, error) {
	t.Helper()
	return readWith(t, Options{DefaultProvider: sp}, files...)
}

func readWith(t *testing.T, o Options, files ...string) (*Reader, error) {
	t.Helper()
	r, err := NewReader(o)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { r.Close() })
	for i, f := range files {
		if err := r.Read(fmt.Sprintf("f%d.csv", i+1), strings.NewReader(f)); err != nil {
			return r, err
		}
	}
	return r, nil
}

// rows is every row of the second pass.
func rows(t *testing.T, r *Reader) []Checked {
	t.Helper()
	var out []Checked
	for c, err := range r.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
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
			for _, c := range rows(t, r) {
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
		{"72\x0101,amzn1.p,", "f1.csv:2: externalUserId contains a control character, U+0001 (character 3); retype the id"},
		{"7201,profile-1,", `f1.csv:2: amazonId "profile-1" does not start with amzn1.`},
		{"7201,amzn1.p,amzn1.comms.csp.id.a/b", `f1.csv:2: serviceProviderId "amzn1.comms.csp.id.a/b" contains '/', which can't go into a URL path`},
		{"7201,amzn1.p,amzn1.comms.csp.id.a?b", `f1.csv:2: serviceProviderId "amzn1.comms.csp.id.a?b" contains '?', which can't go into a URL path`},
		{"7201,amzn1.p,amzn1.comms.csp.id.a b", `f1.csv:2: serviceProviderId "amzn1.comms.csp.id.a b" contains ' ', which can't go into a URL path`},
		{"7201,amzn1.p,acme", `f1.csv:2: serviceProviderId "acme" is not an ACI starting amzn1.comms.csp.id.`},
		{"\ufeff7202,amzn1.p,", "f1.csv:2: externalUserId contains an invisible character, U+FEFF ZERO WIDTH NO-BREAK SPACE (character 1); retype the id"},
		{"7201\u200b,amzn1.p,", "f1.csv:2: externalUserId contains an invisible character, U+200B ZERO WIDTH SPACE (character 5); retype the id"},
		{"72\u00a001,amzn1.p,", "f1.csv:2: externalUserId contains a space other than a plain space, U+00A0 NO-BREAK SPACE (character 3); retype the id"},
		{"7201,amzn1.\u2060p,", "f1.csv:2: amazonId contains an invisible character, U+2060 WORD JOINER (character 7); retype the id"},
		{"7201,amzn1.p,amzn1.comms.csp.id.\u200dx", "f1.csv:2: serviceProviderId contains an invisible character, U+200D ZERO WIDTH JOINER (character 20); retype the id"},
	}
	for _, tt := range tests {
		r, err := read(t, "externalUserId,amazonId,serviceProviderId\n"+tt.line+"\n")
		if err != nil {
			t.Fatal(err)
		}
		c := rows(t, r)[0]
		if got := c.Where() + ": " + c.Reason; c.Status != Invalid || got != tt.want {
			t.Errorf("line %q: got %v %q, want %q", tt.line, c.Status, got, tt.want)
		}
	}
	// Ids are exact after trimming plain spaces and tabs: fullwidth digits
	// and a leading zero are other ids, not errors.
	r, _ := read(t, "externalUserId,amazonId\n\uff17\uff12\uff10\uff11,amzn1.p\n07201,amzn1.p\n \t7201\t ,amzn1.p\n")
	var ids []string
	for _, c := range rows(t, r) {
		if c.Status != Valid {
			t.Errorf("%s: %s", c.Where(), c.Reason)
		}
		ids = append(ids, c.ExternalUserID)
	}
	if fmt.Sprint(ids) != "[７２０１ 07201 7201]" {
		t.Errorf("ids: %q", ids)
	}
	// amazonIdType is checked offline: the API takes one type, and a case
	// variant would read as a change.
	r, _ = read(t, "externalUserId,amazonId,amazonIdType\n1,amzn1.p,Communication-Profile\n2,amzn1.p,communication-profile\n3,amzn1.p,\n")
	got := rows(t, r)
	if got[0].Reason != `amazonIdType "Communication-Profile" is not communication-profile, the only type the API takes (values are case-sensitive)` ||
		got[1].Status != Valid || got[2].Status != Valid || got[2].AmazonIDType != DefaultAmazonIDType {
		t.Errorf("amazonIdType: %+v", got)
	}
	r, _ = read(t, "externalUserId,amazonId,action\n7201,amzn1.p,replace\n")
	if c := rows(t, r)[0]; c.Reason != `action "replace" is not upsert or delete` {
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
	rows := rows(t, r)
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
	for _, c := range rows(t, r) {
		if c.Status != Invalid {
			t.Errorf("%s: got %v, want invalid", c.Where(), c.Status)
		}
	}
}

func TestRejectedFiles(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"missing column", "room,guest\n7201,Jane\n", "f1.csv:1: required column amazonId (or communicationProfileId, profileId) is missing (it may be left out when the file has a column action or unitId); the header has room, guest"},
		{"missing id column", "amazonId\namzn1.a\n", "f1.csv:1: required column externalUserId (or extension, roomExtension, room) is missing; the header has amazonId"},
		{"empty", "", "f1.csv: file is empty: a header row is required"},
		{"binary", "PK\x03\x04\x00\x00binary", "f1.csv: file is not text (it contains NUL bytes); is it a spreadsheet (.xlsx) rather than CSV?"},
		{"utf-16", "\xff\xfee\x00x\x00", "f1.csv: file is UTF-16 text; export it as UTF-8 (CSV UTF-8 in spreadsheet programs)"},
		{"unclosed quote", "externalUserId,amazonId\n7201,amzn1.a\n\"7202,amzn1.b\n7203,amzn1.c\n", "f1.csv:3: a quoted field is never closed (unbalanced \")"},
		{"bare quote", "externalUserId,amazonId\n72\"01,amzn1.a\n", "f1.csv:2: a \" appears inside an unquoted field; quote the field and double the \""},
		{"latin-1 in a column read", "Room,amazonId\nChambre \xe9t\xe9,amzn1.a\n", "f1.csv:2: not UTF-8 text in column \"Room\" (externalUserId): byte 0xE9 at character 9; export the file as UTF-8"},
		{"latin-1 in a canonical column", "amazonId,externalUserId\namzn1.\xff,1\n", "f1.csv:2: not UTF-8 text in column \"amazonId\": byte 0xFF at character 7; export the file as UTF-8"},
		{"a bulksync report", "file,line,service_provider_id,external_user_id,amazon_id,amazon_id_type,previous_amazon_id,action,outcome,http_status,error_type,error_message,attempts,duration_ms\nrooms.csv,2,p,7201,amzn1.a,communication-profile,,create,created,201,,,1,3\n",
			"f1.csv:1: this is a bulksync report, not an export: its header is the report's; keep reports out of the input files"},
		{"two columns for one", "room,extension,amazonId\n", "f1.csv:1: columns \"room\" and \"extension\" both mean externalUserId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readWith(t, Options{DefaultProvider: sp, Reports: [][]string{reportHeader}}, tt.in)
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

// The first pass (OnRow, then Problems: what validate prints) and the
// second (Rows: what sync runs) agree on every verdict.
func TestFirstPassMatchesRows(t *testing.T) {
	files := []string{
		"externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n7203,amzn1.c\n7204,\n",
		"externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.OTHER\n7203,amzn1.c\n7203,amzn1.c\n7201,amzn1.Z\n",
	}
	got := map[string]string{}
	r, err := readWith(t, Options{DefaultProvider: sp, OnRow: func(c Checked) {
		if c.Status != Valid {
			got[c.Where()] = fmt.Sprint(c.Status, c.Reason)
		}
	}}, files...)
	if err != nil {
		t.Fatal(err)
	}
	for c, err := range r.Problems() {
		if err != nil {
			t.Fatal(err)
		}
		got[c.Where()] = fmt.Sprint(c.Status, c.Reason)
	}
	want := map[string]string{}
	for _, c := range rows(t, r) {
		if c.Status != Valid {
			want[c.Where()] = fmt.Sprint(c.Status, c.Reason)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(want) != 8 {
		t.Errorf("first pass: %v\nrows: %v", got, want)
	}
}
