package csvmodel

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fuzzSeeds are FuzzRead's seeds; TestOracleAgrees runs them too.
func fuzzSeeds() []string {
	return []string{
		"externalUserId,amazonId\n7201,amzn1.a\n",
		"\ufeffExtension;Profile ID;action\r\n7201;amzn1.a;\r\n7202;;delete\r\n",
		"room\tprofileId\tprovider\n\"72\n01\"\tamzn1.b\tamzn1.comms.csp.id.x/../y\n",
		"externalUserId,amazonId\n\"7201,amzn1.a\n",
		"externalUserId,amazonId\n7201,amzn1.a\n7201,amzn1.b\n7201,amzn1.a\n",
		"\xff\xfee\x00",
		"PK\x03\x04\x00",
		"externalUserId,amazonId\n=cmd|' /C calc'!A0,amzn1.a\n",
		"externalUserId,amazonId,notes\r7201,amzn1.a,caf\xe9\r,,\r",
		"extension;profileId;action;provider\n7201;amzn1.a;UPSERT;amzn1.comms.csp.id.a\n7201;amzn1.a;;amzn1.comms.csp.id.b\n7201;;Delete;amzn1.comms.csp.id.a\n ; ; ;\n",
		"externalUserId,amazonId,amazonIdType\n7201\u200b,amzn1.a,\n\ufeff7202,amzn1.b,Communication-Profile\n7203,amzn1.c,communication-profile\n",
		"room,unit,name,amazonId\n7201,amzn1.alexa.unit.did.U1,Room 1,\n7201,amzn1.alexa.unit.did.U1,Room 1,\n7202,amzn1.alexa.unit.did.U1,Room 2,amzn1.p\n7203,amzn1.alexa.unit.did.,,\n7204,,,\n",
		"externalUserId,amazonId,provider\n7201\u00a0,amzn1.a,\nSala-a\u0301,amzn1.b,\nSala-\u00e1,amzn1.b,\n72\u034f01,amzn1.c,\n \t7202\t ,amzn1.d\u3000,\n7203,amzn1.e, amzn1.comms.csp.id.x\ufe0f\n",
	}
}

// FuzzRead feeds the reader hostile bytes: it must never panic, a file it
// refuses must be refused with a *FileError, every row it accepts must pass
// the row checks and carry a physical line after the header, and it must
// agree with the old reader (the oracle) on every verdict.
func FuzzRead(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(Options{DefaultProvider: "amzn1.comms.csp.id.fuzz"})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := r.Read("fuzz.csv", bytes.NewReader(data)); err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Fatalf("refusal is not a *FileError naming the file: %v", err)
			}
		} else {
			for c, err := range r.Rows() {
				if err != nil {
					t.Fatalf("second pass: %v", err)
				}
				if c.Line < 2 {
					t.Fatalf("row at line %d, before or on the header", c.Line)
				}
				if c.Status != Invalid && Check(c.Row) != "" {
					t.Fatalf("%s accepted but fails its check: %s", c.Where(), Check(c.Row))
				}
				if c.Status == Invalid && c.Reason == "" {
					t.Fatalf("%s invalid without a reason", c.Where())
				}
			}
		}
		agree(t, data)
		settledAlike(t, data)
	})
}

// settledAlike reads data as the reader does and again with every key hash
// cut to two bits and a mark on every valid row (so nearly every row is
// read again, each from right after the record before it), and fails on
// any difference in the problems.
func settledAlike(t *testing.T, data []byte) {
	t.Helper()
	problems := func(mask uint64, every uint32) string {
		r, err := NewReader(Options{DefaultProvider: "amzn1.comms.csp.id.fuzz"})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		r.keyMask, r.every = mask, every
		if err := r.Read("f1.csv", bytes.NewReader(data)); err != nil {
			return err.Error()
		}
		var out []string
		for c, err := range r.Problems() {
			if err != nil {
				t.Fatalf("settling: %v", err)
			}
			out = append(out, fmt.Sprintf("%s %v %s", c.Where(), c.Status, c.Reason))
		}
		return strings.Join(out, "\n")
	}
	if want, got := problems(math.MaxUint64, markEvery), problems(0x3, 1); got != want {
		t.Fatalf("with colliding hashes and a mark on every row:\n got %s\nwant %s", got, want)
	}
}

// agree reads files as one input with the new reader and the oracle and
// fails on any difference: refusal, row, verdict, reason or count.
func agree(t *testing.T, files ...[]byte) {
	t.Helper()
	o := Options{DefaultProvider: "amzn1.comms.csp.id.fuzz", Reports: [][]string{reportHeader}}
	old := newOracle(o)
	r, err := NewReader(o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var oldErr, newErr error
	for i, f := range files {
		name := fmt.Sprintf("f%d.csv", i+1)
		if oldErr == nil {
			oldErr = old.Read(name, bytes.NewReader(f))
		}
		if newErr == nil {
			newErr = r.Read(name, bytes.NewReader(f))
		}
	}
	if fmt.Sprint(oldErr) != fmt.Sprint(newErr) {
		t.Fatalf("refusal:\n old %v\n new %v", oldErr, newErr)
	}
	if oldErr != nil {
		return
	}
	var got []Checked
	for c, err := range r.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	for i := range max(len(got), len(old.rows)) {
		var g, w Checked
		if i < len(got) {
			g = got[i]
		}
		if i < len(old.rows) {
			w = old.rows[i]
		}
		if g != w {
			t.Fatalf("row %d:\n old %+v\n new %+v", i, w, g)
		}
	}
	v1, d1, i1 := old.Counts()
	if v2, d2, i2 := r.Counts(); v1 != v2 || d1 != d2 || i1 != i2 {
		t.Fatalf("counts: old %d/%d/%d, new %d/%d/%d", v1, d1, i1, v2, d2, i2)
	}
}

// The old reader and the new agree on the fuzz corpus, the seeds and the
// samples, each alone and the samples as one input; and settling gives
// the same whatever the hashes and marks.
func TestOracleAgrees(t *testing.T) {
	inputs := map[string][]byte{}
	for i, s := range fuzzSeeds() {
		inputs[fmt.Sprintf("seed %d", i)] = []byte(s)
	}
	corpus, _ := filepath.Glob("testdata/fuzz/FuzzRead/*")
	for _, p := range corpus {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 3)
		lit := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(lines[1]), "[]byte("), ")")
		v, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		inputs[p] = []byte(v)
	}
	samples, _ := filepath.Glob("../../samples/*.csv")
	var all [][]byte
	for _, p := range samples {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs[p] = b
		all = append(all, b)
	}
	if len(corpus) < 5 || len(samples) < 2 {
		t.Fatalf("found %d corpus files and %d samples; is the working directory right?", len(corpus), len(samples))
	}
	for name, in := range inputs {
		t.Run(filepath.Base(name), func(t *testing.T) {
			agree(t, in)
			settledAlike(t, in)
		})
	}
	t.Run("samples as one input", func(t *testing.T) { agree(t, all...) })
}
