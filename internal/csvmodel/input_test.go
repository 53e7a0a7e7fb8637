package csvmodel

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Rows whose every field is empty or spaces (what a spreadsheet leaves
// after a deleted block) are skipped and counted, not reported.
func TestBlankRows(t *testing.T) {
	r, err := read(t, "externalUserId;amazonId;notes\n7201;amzn1.a;x\n;;\n ; ;\t\n\"\";;\n7202;amzn1.b;\n;;\n")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range rows(t, r) {
		got = append(got, fmt.Sprintf("%d:%v", c.Line, c.Status))
	}
	if fmt.Sprint(got) != "[2:0 6:0]" {
		t.Errorf("rows: got %v, want lines 2 and 6, valid", got)
	}
	if v, d, i := r.Counts(); v != 2 || d != 0 || i != 0 || r.Blank() != 4 {
		t.Errorf("counts: %d valid %d duplicate %d invalid %d blank, want 2 0 0 4", v, d, i, r.Blank())
	}
}

// Only the columns bulksync reads must be UTF-8: a Latin-1 note is fine.
func TestBytesOutsideTheColumnsRead(t *testing.T) {
	r, err := read(t, "Room;Notizen f\xfcr G\xe4ste;amazonId\n7201;G\xe4ste \xfcber Nacht;amzn1.a\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(t, r); len(got) != 1 || got[0].Status != Valid || got[0].ExternalUserID != "7201" {
		t.Errorf("got %+v", got)
	}
}

// Old Mac exports end lines with a bare CR: read, with physical lines.
func TestBareCRLineEnds(t *testing.T) {
	r, err := read(t, "externalUserId,amazonId\r7201,amzn1.a\r\r7202,\r")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range rows(t, r) {
		got = append(got, c.Where()+" "+c.Reason)
	}
	if fmt.Sprint(got) != "[f1.csv:2  f1.csv:4 amazonId is required for action upsert]" {
		t.Errorf("got %q", got)
	}
}

func TestColumnChoice(t *testing.T) {
	both := "Room;Extension;Profile ID\n101;7101;amzn1.a\n"
	tests := []struct {
		name    string
		choices []string
		in      string
		want    string // the first row's externalUserId and amazonId, or the error
	}{
		{"both mean externalUserId", nil, both, `f1.csv:1: columns "Room" and "Extension" both mean externalUserId`},
		{"choose Extension", []string{"externalUserId=Extension"}, both, "7101 amzn1.a"},
		{"choose Room, names matched loosely", []string{"external_user_id= room "}, both, "101 amzn1.a"},
		{"a choice wins over an alias of another field", []string{"amazonId=Room", "externalUserId=Extension"}, "Room;Extension;Profile ID\namzn1.r;7101;amzn1.a\n", "7101 amzn1.r"},
		{"a header with spaces", []string{"externalUserId=Room Ext"}, "Room Ext,Extension,amazonId\n7,8,amzn1.a\n", "7 amzn1.a"},
		{"chosen header missing", []string{"externalUserId=Zimmer"}, both, `f1.csv:1: no column "Zimmer", chosen for externalUserId; the header has Room, Extension, Profile ID`},
		{"unknown field", []string{"room=Room"}, both, `bad column choice "room=Room": room is not a field of this input; the fields are externalUserId, amazonId, amazonIdType, serviceProviderId, action, unitId, name`},
		{"no =", []string{"externalUserId"}, both, `bad column choice "externalUserId": want FIELD=HEADER, e.g. externalUserId="Room Ext"`},
		{"chosen twice", []string{"externalUserId=Room", "externalUserId=Extension"}, both, `bad column choice "externalUserId=Extension": a header for externalUserId is already chosen`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := readWith(t, Options{DefaultProvider: sp, Columns: tt.choices}, tt.in)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				c := rows(t, r)[0]
				got = c.ExternalUserID + " " + c.AmazonID
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	_, err := read(t, both)
	if !errors.Is(err, ErrAmbiguousColumn) {
		t.Errorf("two columns for one field: %v is not ErrAmbiguousColumn", err)
	}
	if _, err := NewReader(Options{Columns: []string{"x=y"}}); !errors.Is(err, ErrColumnChoice) {
		t.Errorf("bad choice: %v is not ErrColumnChoice", err)
	}
}

// Standard input (or a pipe) is read once; with Spool, a copy in a
// temporary file, already unlinked, serves the second pass.
func TestStreamsAreSpooled(t *testing.T) {
	in := "externalUserId,amazonId\n7201,amzn1.a\n7201,amzn1.a\n"
	dir := t.TempDir()
	r, err := NewReader(Options{DefaultProvider: sp, Stdin: io.MultiReader(strings.NewReader(in)), Spool: true, TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ReadFile("-"); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("the spool is still in the folder: %v", left)
	}
	var got []string
	for _, c := range rows(t, r) {
		got = append(got, fmt.Sprintf("%s:%v:%s", c.Where(), c.Status, c.Reason))
	}
	if fmt.Sprint(got) != "[stdin:2:0: stdin:3:1:same as stdin:2]" {
		t.Errorf("got %v", got)
	}
	if err := r.ReadFile("-"); err == nil || err.Error() != "stdin: standard input (-) is named twice; it can be read once" {
		t.Errorf("stdin twice: %v", err)
	}
	r.Close()

	once, _ := NewReader(Options{DefaultProvider: sp, Stdin: io.MultiReader(strings.NewReader(in))})
	defer once.Close()
	if err := once.ReadFile("-"); err != nil {
		t.Fatal(err)
	}
	if v, d, _ := once.Counts(); v != 1 || d != 1 {
		t.Errorf("counts without a second pass: %d valid %d duplicate", v, d)
	}
	for _, err := range once.Rows() {
		if err == nil || err.Error() != "stdin: this input can be read only once" {
			t.Errorf("second pass of an unspooled stream: %v", err)
		}
	}
}

// A file rewritten between the passes is refused, never half-read.
func TestFileChangedBetweenPasses(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rooms.csv")
	if err := os.WriteFile(p, []byte("externalUserId,amazonId\n7201,amzn1.a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := NewReader(Options{DefaultProvider: sp})
	defer r.Close()
	if err := r.ReadFile(p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("externalUserId,amazonId\n7201,amzn1.b\n7202,amzn1.c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(p, time.Time{}, time.Now().Add(time.Hour))
	var errs []string
	for _, err := range r.Rows() {
		errs = append(errs, fmt.Sprint(err))
	}
	if fmt.Sprint(errs) != "["+p+": the file changed while bulksync was reading it; run again once it is written whole]" {
		t.Errorf("got %v", errs)
	}
}

// Equal hashes are only candidates: rows are duplicates when their keys
// are, so even a 64-bit collision can't merge two rooms; in a file read
// again and in a stream read once.
func TestHashCollisionsAreCheckedByKey(t *testing.T) {
	in := "serviceProviderId,externalUserId,amazonId\n" + sp + ",1,amzn1.a\n" + sp + ",2,amzn1.b\n" + sp + ",1,amzn1.a\n" +
		"amzn1.comms.csp.id.other,1,amzn1.c\n" + sp + ",2,amzn1.z\n"
	const want = "[0 2 1 0 2]"
	for _, mask := range []uint64{math.MaxUint64, 0} { // 0: every key collides
		for _, once := range []bool{false, true} {
			r, err := NewReader(Options{DefaultProvider: sp})
			if err != nil {
				t.Fatal(err)
			}
			r.keyMask = mask
			var src io.Reader = strings.NewReader(in)
			if once {
				src = io.MultiReader(src) // no ReadAt: what settling needs is kept
			}
			if err := r.Read("f1.csv", src); err != nil {
				t.Fatal(err)
			}
			var got []Status
			for c, err := range r.Problems() {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, c.Status)
			}
			if once {
				if fmt.Sprint(got) != "[2 1 2]" {
					t.Errorf("mask %x, read once: problems %v, want [2 1 2]", mask, got)
				}
				continue
			}
			if got := fmt.Sprint(verdicts(t, r)); got != want {
				t.Errorf("mask %x: got %s, want %s", mask, got, want)
			}
		}
	}
}

func verdicts(t *testing.T, r *Reader) []Status {
	var out []Status
	for _, c := range rows(t, r) {
		out = append(out, c.Status)
	}
	return out
}

// Each distinct provider id is checked once, not on every row, and its
// rows share one copy of it.
func TestProvidersInterned(t *testing.T) {
	var b strings.Builder
	b.WriteString("provider,externalUserId,amazonId\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "amzn1.comms.csp.id.p%d,%d,amzn1.a\n", i%2, i)
	}
	r, err := read(t, b.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.provs) != 2 {
		t.Errorf("%d providers checked, want 2", len(r.provs))
	}
	got := rows(t, r)
	if unsafe.StringData(got[0].ServiceProviderID) != unsafe.StringData(got[998].ServiceProviderID) {
		t.Errorf("providers: %q %q", got[0].ServiceProviderID, got[2].ServiceProviderID)
	}
}

// The eight-bytes-at-a-time check agrees with the byte-at-a-time one on
// every byte in every position.
func TestPlainASCII(t *testing.T) {
	for c := range 256 {
		for pos := range 17 {
			b := []byte(strings.Repeat("a", 17))
			b[pos] = byte(c)
			want := c >= 0x20 && c < 0x7f
			if got := plainASCII(string(b)); got != want {
				t.Errorf("byte 0x%02X at %d: got %v, want %v", c, pos, got, want)
			}
		}
	}
}

// A message that repeats a header repeats little of a huge one, and never
// half a character.
func TestHugeHeaderIsCutInMessages(t *testing.T) {
	head := strings.Repeat("é", MaxRecordBytes/4) + ",note" // half the bound
	r, err := NewReader(Options{DefaultProvider: "amzn1.comms.csp.id.p"})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Read("big.csv", strings.NewReader(head+"\n1,2\n"))
	if err == nil {
		t.Fatal("want the missing column refused")
	}
	if msg := err.Error(); len(msg) > 1000 || !utf8.ValidString(msg) || !strings.Contains(msg, "...") {
		t.Errorf("message of %d bytes (valid UTF-8: %v): %.200s", len(msg), utf8.ValidString(msg), msg)
	}
}
