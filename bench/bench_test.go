package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	// The input step runs this binary again to read a child's peak memory.
	if len(os.Args) == 4 && os.Args[1] == "-input-child" {
		os.Exit(inputChild(os.Args[2], os.Args[3]))
	}
	os.Exit(m.Run())
}

// A smoke run with tiny sizes: it keeps bench compiling and working. The
// figures are not checked (they are measurements, not assertions), except
// the call count, which is a count.
func TestQuickBench(t *testing.T) {
	var buf bytes.Buffer
	if err := bench(&buf, config{rows: 300, rateCalls: 60, throttledCalls: 30, throttledLimit: 300, overheadCalls: 100, inputRows: []int{2000}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"| calls, 300 rows, 30% changes, server page limit 30 | 100 calls = 1.00 × ⌈ids/30⌉+changes (100)",
		"page limit 10 | 117 calls", "1.00 × what the page limit forces (117)",
		"| rate at saturation", "| throttled", "| overhead", "| input, 2000 rows: bare encoding/csv read",
		"| input, 2000 rows: validate", "| input, 2000 rows: plan",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// BenchmarkInput is the input measure under go test: the floor, validate
// and plan at 100k and 1M rows, each iteration a child process so that its
// peak memory is its own.
//
//	go test -run '^$' -bench Input -benchtime 3x ./bench
func BenchmarkInput(b *testing.B) {
	for _, n := range []int{100000, 1000000} {
		file, err := writeExport(n)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.Remove(file) })
		for _, kind := range inputKinds {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				var secs, peak float64
				for b.Loop() {
					m, err := runInputChild(kind, file)
					if err != nil {
						b.Fatal(err)
					}
					secs, peak = secs+m.seconds, max(peak, m.peakMiB)
				}
				b.ReportMetric(float64(b.N*n)/secs, "rows/s")
				b.ReportMetric(peak, "peak-RSS-MiB")
			})
		}
	}
}
