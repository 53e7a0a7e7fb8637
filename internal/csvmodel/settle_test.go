package csvmodel

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// manyMarks is an export of several thousand rows, so many marks apart,
// with what makes reading from a mark hard: invalid rows, blank rows,
// empty lines, quoted line breaks, CRLF, and repeated keys near and far,
// some duplicates, some conflicts, some across the two providers.
func manyMarks() string {
	var b strings.Builder
	b.WriteString("serviceProviderId,externalUserId,amazonId,notes\r\n")
	other := "amzn1.comms.csp.id.other"
	for i := range 5000 {
		id, amz, prov := fmt.Sprint(10000+i), "amzn1.p"+fmt.Sprint(i), sp
		switch {
		case i%997 == 3:
			id, amz = fmt.Sprint(10000+i-900), "amzn1.p"+fmt.Sprint(i-900) // a duplicate of a row ~4 marks back
		case i%1499 == 7:
			id = fmt.Sprint(10000 + i - 5) // a conflict with a row just before
		case i%701 == 11:
			id, amz, prov = fmt.Sprint(10000+i-600), "amzn1.p"+fmt.Sprint(i-600), other // another provider's room
		case i%333 == 0:
			amz = "" // invalid
		}
		switch i % 41 {
		case 5:
			b.WriteString(",,,\r\n") // blank
		case 9:
			b.WriteString("\r\n\r\n") // empty lines
		}
		notes := "x"
		if i%13 == 0 {
			notes = "\"two\r\nlines\""
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s\r\n", prov, id, amz, notes)
	}
	return b.String()
}

// Rows of repeated keys, read again from the nearest mark, get the
// verdicts the old reader gives; the same when every key hash collides or
// when only a few bits are kept (every row settled by its key), with marks
// every row or every few, and from a stream read once (what settling needs
// kept instead).
func TestSettleReadsAgain(t *testing.T) {
	in := manyMarks()
	agree(t, []byte(in))
	problems := func(mask uint64, every uint32, once bool) string {
		r, err := NewReader(Options{DefaultProvider: sp})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		r.keyMask, r.every = mask, every
		var src io.Reader = strings.NewReader(in)
		if once {
			src = io.MultiReader(src)
		}
		if err := r.Read("f1.csv", src); err != nil {
			t.Fatal(err)
		}
		var out []string
		for c, err := range r.Problems() {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %v %s %s", c.Where(), c.Status, c.ExternalUserID, c.Reason))
		}
		v, d, i := r.Counts()
		return fmt.Sprintf("%d/%d/%d %s", v, d, i, strings.Join(out, "\n"))
	}
	want := problems(math.MaxUint64, markEvery, false)
	if n := strings.Count(want, "\n"); n < 10 {
		t.Fatalf("only %d problems: the input does not test much\n%s", n, want)
	}
	for _, mask := range []uint64{math.MaxUint64, 0x7, 0} {
		for _, every := range []uint32{markEvery, 1, 7} { // 1: every row is read from right after the record before it
			for _, once := range []bool{false, true} {
				if got := problems(mask, every, once); got != want {
					t.Errorf("mask %x, a mark every %d rows, read once %v:\n got %.300s\nwant %.300s", mask, every, once, got, want)
				}
			}
		}
	}
}

// A file changed in place between the first pass and settling, size and
// time kept, is refused: the rows read again are not those hashed.
func TestSettleSeesAChangedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rooms.csv")
	before := "externalUserId,amazonId\n7201,amzn1.a\n7201,amzn1.a\n"
	if err := os.WriteFile(p, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(p, mod, mod); err != nil {
		t.Fatal(err)
	}
	r, _ := NewReader(Options{DefaultProvider: sp})
	defer r.Close()
	if err := r.ReadFile(p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(before, "7201", "7202", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mod, mod); err != nil {
		t.Fatal(err)
	}
	want := p + ": the file changed while bulksync was reading it; run again once it is written whole"
	var got []string
	for c, err := range r.Problems() {
		got = append(got, fmt.Sprint(c.Where(), err))
	}
	if len(got) != 1 || !strings.HasSuffix(got[0], want) {
		t.Errorf("problems: got %q, want the error %s", got, want)
	}
	for _, err := range r.Rows() {
		if err == nil || err.Error() != want {
			t.Errorf("rows: got %v, want %s", err, want)
		}
	}
}

// The first pass keeps about 8 bytes a valid row (its key hash, and a mark
// every 32 rows), not the row's key and what it asks for.
func TestFirstPassKeepsEightBytesARow(t *testing.T) {
	const n = 200000
	data := hotelCSV(n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := NewReader(Options{DefaultProvider: sp})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Read("h.csv", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if perRow := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n; perRow > 10 {
		t.Errorf("the first pass keeps %.1f bytes a row, want at most 10", perRow)
	}
	if v, _, _ := r.Counts(); v != n {
		t.Errorf("got %d valid rows, want %d", v, n)
	}
}
