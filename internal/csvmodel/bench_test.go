package csvmodel

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"testing"
)

// hotelCSV is n rows as a PMS would export them: an extension, a profile
// and two columns we ignore.
func hotelCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("Extension,Communication Profile ID,Room Type,Floor\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d,amzn1.alexa.communications.profile.did.%024X,King,%d\n", 100000+i, i*7919, i/100)
	}
	return b.Bytes()
}

// BenchmarkRead reads and checks a 100,000-row file beside the floor: a
// bare encoding/csv read of the same bytes; and the same file with 1,000
// rows repeated, settled.
func BenchmarkRead(b *testing.B) {
	const n = 100000
	data := hotelCSV(n)
	b.Run("encoding-csv-floor", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			cr := csv.NewReader(bytes.NewReader(data))
			cr.ReuseRecord = true
			for {
				if _, err := cr.Read(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("first-pass", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			r, err := NewReader(Options{DefaultProvider: "amzn1.comms.csp.id.bench"})
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Read("bench.csv", bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			if v, _, _ := r.Counts(); v != n {
				b.Fatalf("got %d valid rows", v)
			}
		}
		b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "rows/s")
	})
	// 1% of the rows repeat one far before them: settling reads those
	// rows, and the ones they repeat, again from the nearest marks.
	repeats := bytes.Clone(data)
	for i := 0; i < n/100; i++ {
		repeats = fmt.Appendf(repeats, "%d,amzn1.alexa.communications.profile.did.%024X,King,%d\n", 100000+i*97, i*97*7919, i*97/100)
	}
	b.Run("first-pass-1%-repeats", func(b *testing.B) {
		b.SetBytes(int64(len(repeats)))
		b.ReportAllocs()
		for b.Loop() {
			r, err := NewReader(Options{DefaultProvider: "amzn1.comms.csp.id.bench"})
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Read("bench.csv", bytes.NewReader(repeats)); err != nil {
				b.Fatal(err)
			}
			for _, err := range r.Problems() {
				if err != nil {
					b.Fatal(err)
				}
			}
			if v, d, _ := r.Counts(); v != n || d != n/100 {
				b.Fatalf("got %d valid rows and %d duplicates", v, d)
			}
		}
		b.ReportMetric(float64(b.N)*(n+n/100)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("both-passes", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			r, err := NewReader(Options{DefaultProvider: "amzn1.comms.csp.id.bench"})
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Read("bench.csv", bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			valid := 0
			for c, err := range r.Rows() {
				if err != nil {
					b.Fatal(err)
				}
				if c.Status == Valid {
					valid++
				}
			}
			if valid != n {
				b.Fatalf("got %d valid rows", valid)
			}
		}
		b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "rows/s")
	})
}
