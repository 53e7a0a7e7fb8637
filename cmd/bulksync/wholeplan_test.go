package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/reconcile"
)

// shards runs the four shards of an Indexed Job: one after another, or all
// at once; each gets its own report.
func shards(t *testing.T, interleaved bool, run func(i int, rep string) result) []result {
	t.Helper()
	dir := t.TempDir()
	out := make([]result, 4)
	var wg sync.WaitGroup
	for i := range 4 {
		rep := filepath.Join(dir, fmt.Sprintf("report-%d.csv", i))
		if !interleaved {
			out[i] = run(i, rep)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = run(i, rep)
		}()
	}
	wg.Wait()
	return out
}

// 400 associations and a file that keeps 240: the plan deletes 160, more
// than 10% of 400. Four --shard i/4 --prune pods, the sample Indexed Job,
// each see the whole plan and refuse alike; none deletes its 40.
func TestShardsRefuseAPlanTheGuardRefuses(t *testing.T) {
	existing := map[string]string{}
	var b strings.Builder
	b.WriteString("externalUserId,amazonId\n")
	for i := range 400 {
		id := fmt.Sprint(30000 + i)
		existing[id] = "amzn1.alexa.communications.profile.did.x"
		if i < 240 {
			fmt.Fprintf(&b, "%s,amzn1.alexa.communications.profile.did.x\n", id)
		}
	}
	in := writeFile(t, t.TempDir(), "rooms.csv", b.String())
	for _, interleaved := range []bool{false, true} {
		t.Run(fmt.Sprintf("interleaved=%v", interleaved), func(t *testing.T) {
			a := startAPI(t, emulator.Options{})
			a.seed(t, existing)
			for i, res := range shards(t, interleaved, func(i int, rep string) result {
				return a.sync(t, []string{fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i), "BULKSYNC_SHARD_COUNT=4"}, "--prune", "--report", rep, in)
			}) {
				if res.code != 3 || !strings.Contains(res.stderr, "the plan deletes 160 of the 400 associations") ||
					!strings.Contains(res.stderr, "all 4 shards") {
					t.Errorf("shard %d/4: exit %d, want 3 refusing the whole plan's 160 deletes:\n%s", i, res.code, res.stderr)
				}
			}
			if n := a.Stats().Count("association.delete", ""); n != 0 || len(a.Associations(sp)) != 400 {
				t.Errorf("%d deletes, %d associations left; want none and 400", n, len(a.Associations(sp)))
			}
		})
	}
}

// Products likewise: four skills of 40 products each, a file that keeps
// 24 of each.
func TestProductShardsRefuseAPlanTheGuardRefuses(t *testing.T) {
	for _, interleaved := range []bool{false, true} {
		t.Run(fmt.Sprintf("interleaved=%v", interleaved), func(t *testing.T) {
			a := startAPI(t, emulator.Options{})
			ids := a.seedProducts(40)
			var b strings.Builder
			b.WriteString("skillId,productId\n")
			for s := 1; s <= 4; s++ {
				for i, p := range ids {
					a.Associate("development", p, skillN(s))
					if i < 24 {
						fmt.Fprintf(&b, "%s,%s\n", skillN(s), p)
					}
				}
			}
			in := writeFile(t, t.TempDir(), "products.csv", b.String())
			before := a.state(ids)
			for i, res := range shards(t, interleaved, func(i int, rep string) result {
				return a.products(t, "sync", "--shard", fmt.Sprintf("%d/4", i), "--prune", "--report", rep, in)
			}) {
				if res.code != 3 || !strings.Contains(res.stderr, "the plan deletes 16 of the 40 associations") {
					t.Errorf("shard %d/4: exit %d, want 3 refusing the whole plan:\n%s", i, res.code, res.stderr)
				}
			}
			if n := a.Stats().Count("product.disassociate", ""); n != 0 || !slices.Equal(a.state(ids), before) {
				t.Errorf("%d disassociations; want none", n)
			}
		})
	}
}

// A product list carries no total, and paging by offset skips entries
// another shard deletes meanwhile: every association of a skill is one
// shard's, and a sharded run reads skills' lists, never a product's (which
// spans every shard's skills). Shard 0 is held after the first page of its
// listings while shard 1 runs to its end; together they leave exactly what
// the file says, with --prune and with disassociate rows.
func TestShardedProductsLeaveNothingBehind(t *testing.T) {
	var skills []string // four skills of each shard, shard 1's first and the two alternating, as lists show them
	for i := 1; len(skills) < 8; i++ {
		s := skillN(i)
		if n := len(skills); (n%2 == 1) == (reconcile.Shard{Index: 0, Count: 2}).Has(s, "") {
			skills = append(skills, s)
		}
	}
	for _, tc := range []struct {
		name     string
		products int
		held     int32 // list answers of shard 0 held: its first page of each listing
		args     []string
		row      func(i int, skill, product string) string // "" for none
	}{
		{"prune", 12, 8, []string{"--prune"}, func(i int, s, p string) string {
			if i == 0 {
				return s + "," + p + ",associate"
			}
			return ""
		}},
		{"disassociate rows", 1, 1, nil, func(i int, s, p string) string { return s + "," + p + ",disassociate" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var phase2 atomic.Bool
			var n atomic.Int32
			paused, resume := make(chan struct{}), make(chan struct{})
			a := startAPI(t, emulator.Options{ISPPageSize: 3, OnAnswer: func(op, status string) {
				if (op == "skill.products" || op == "product.skills") && !phase2.Load() {
					if n.Add(1) == tc.held {
						close(paused)
					}
					<-resume // the answer waits, unsent, until shard 1 is done
				}
			}})
			ids := a.seedProducts(tc.products)
			var b strings.Builder
			b.WriteString("skillId,productId,action\n")
			var want []string
			for _, s := range skills {
				for i, p := range ids {
					a.Associate("development", p, s)
					if row := tc.row(i, s, p); row != "" {
						fmt.Fprintln(&b, row)
						if strings.HasSuffix(row, ",associate") {
							want = append(want, s+" "+p)
						}
					}
				}
			}
			slices.Sort(want)
			dir := t.TempDir()
			in := writeFile(t, dir, "products.csv", b.String())
			args := func(i int) []string {
				return append([]string{"--shard", fmt.Sprintf("%d/2", i), "--max-deletes", "-1", "--concurrency", "16",
					"--report", filepath.Join(dir, fmt.Sprintf("r%d.csv", i)), in}, tc.args...)
			}
			first := make(chan result)
			go func() { first <- a.products(t, "sync", args(0)...) }()
			<-paused
			phase2.Store(true)
			second := a.products(t, "sync", args(1)...)
			close(resume)
			for i, res := range []result{<-first, second} {
				if res.code != 0 {
					t.Errorf("shard %d/2: exit %d:\n%s", i, res.code, res.stderr)
				}
			}
			if got := a.state(ids); !slices.Equal(got, want) {
				t.Errorf("left %d associations, want the file's %d", len(got), len(want))
			}
		})
	}
}
