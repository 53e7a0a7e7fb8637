package csvmodel

import (
	"bytes"
	"fmt"
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

// BenchmarkRead reads and checks a 100,000-row file, duplicates included.
func BenchmarkRead(b *testing.B) {
	data := hotelCSV(100000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(Options{DefaultProvider: "amzn1.comms.csp.id.bench"})
		if err := r.Read("bench.csv", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if v, _, _ := r.Counts(); v != 100000 {
			b.Fatalf("got %d valid rows", v)
		}
	}
	b.ReportMetric(float64(b.N)*100000/b.Elapsed().Seconds(), "rows/s")
}
