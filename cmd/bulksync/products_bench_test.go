package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

// BenchmarkProducts syncs product associations end to end (CSV, engine,
// client, emulator on loopback) and reports the calls each run spends by
// kind, the figures of BENCHMARKS.md's side-choice rule:
//
//	go test -run '^$' -bench Products -benchtime 3x ./cmd/bulksync
func BenchmarkProducts(b *testing.B) {
	cases := []struct {
		name              string
		products, skills  int
		prune, disconnect bool   // --prune; rows that disassociate
		maxDeletes        string // a share needs each skill's size: only a skill's listing tells it
	}{
		{"12x300", 12, 300, false, false, "-1"},
		{"12x300-prune", 12, 300, true, false, "-1"},
		{"12x300-disassociate", 12, 300, false, true, "-1"},
		{"12x300-disassociate-share", 12, 300, false, true, "50%"},
		{"10x200-mixed-prune", 10, 200, true, true, "-1"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var calls emulator.Stats
			var changes int
			for range b.N {
				b.StopTimer()
				e, err := emulator.New(emulator.Options{StaticToken: testToken})
				if err != nil {
					b.Fatal(err)
				}
				srv := httptest.NewServer(e)
				a := &api{e, srv.URL, srv}
				ids := make([]string, c.products)
				for i := range ids {
					ids[i] = a.PutProduct(emulator.DefaultVendor, productN(i), false)
				}
				var csv strings.Builder
				csv.WriteString("skillId,productId,action\n")
				changes = 0
				for s := range c.skills {
					for p := range c.products {
						has := (s+p)%10 != 0 // 90% exist
						if has {
							a.Associate("development", ids[p], skillN(s))
						}
						if c.disconnect && (s*p)%11 == 3 {
							fmt.Fprintf(&csv, "%s,%s,disassociate\n", skillN(s), ids[p])
						} else {
							fmt.Fprintf(&csv, "%s,%s,\n", skillN(s), ids[p])
						}
						if has == (c.disconnect && (s*p)%11 == 3) {
							changes++
						}
					}
				}
				dir := b.TempDir()
				in := filepath.Join(dir, "p.csv")
				if err := os.WriteFile(in, []byte(csv.String()), 0o644); err != nil {
					b.Fatal(err)
				}
				args := []string{"sync", "--endpoint", a.url, "--rps", "100000", "--concurrency", "16", "--max-deletes", c.maxDeletes,
					"--log-format", "json", "--progress", "off", "--report", filepath.Join(dir, "r.csv"), in}
				if c.prune {
					args = append(args, "--prune")
				}
				a.ResetStats()
				b.StartTimer()
				var stderr bytes.Buffer
				code := run(context.Background(), append([]string{"products"}, args...), []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, io.Discard, &stderr)
				b.StopTimer()
				if code != 0 {
					b.Fatalf("exit %d:\n%s", code, stderr.String())
				}
				calls = a.Stats()
				a.srv.Close()
				a.Close()
			}
			b.ReportMetric(float64(calls.Count("skill.products", "")), "skill-lists/op")
			b.ReportMetric(float64(calls.Count("product.skills", "")), "product-lists/op")
			b.ReportMetric(float64(productWrites(calls)), "writes/op")
			b.ReportMetric(float64(changes), "changes/op")
		})
	}
}
