package reconcile

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	eq := func(a, b string) bool { return a == b }
	have := func(s string) *string { return &s }
	tests := []struct {
		name string
		row  Row[string]
		have *string
		want Action
	}{
		{"absent, upsert", Row[string]{Want: "a"}, nil, ActCreate},
		{"other value", Row[string]{Want: "a"}, have("b"), ActUpdate},
		{"same value", Row[string]{Want: "a"}, have("a"), ActNone},
		{"delete, present", Row[string]{Delete: true}, have("a"), ActDelete},
		{"delete, absent", Row[string]{Delete: true}, nil, ActNone},
	}
	for _, tt := range tests {
		if got := diff(eq, tt.row, tt.have); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func keys(spec string) []Key {
	var out []Key
	for _, kv := range strings.Fields(spec) {
		g, id, _ := strings.Cut(kv, "/")
		out = append(out, Key{g, id})
	}
	return out
}

// tallyOf is the tally of keys as valid upsert rows.
func tallyOf(keys []Key, byID bool) tally {
	t := tally{deletes: map[string]int{}, named: map[string]bool{}}
	if byID {
		t.byGroup, t.byID = map[string]int{}, map[string]int{}
	}
	for _, k := range keys {
		t.valid++
		t.named[k.Group] = true
		if _, ok := t.deletes[k.Group]; !ok {
			t.deletes[k.Group] = 0
			t.groups = append(t.groups, k.Group)
			t.reads = append(t.reads, k.Group)
		}
		if byID {
			t.byGroup[k.Group]++
			if t.byID[k.ID] == 0 {
				t.ids = append(t.ids, k.ID)
			}
			t.byID[k.ID]++
		}
	}
	return t
}

// planFor describes the reads a run of keys makes: the filtered batches as
// the rows stream in (or the listings, with the rows each answers), then
// the size reads.
func planFor(keys []Key, prune []string, s shape) string {
	r := planReads(tallyOf(keys, s.batch == 0 && len(prune) == 0), prune, s)
	var out []string
	if r.batch > 0 {
		b := newBatcher[string](r.batch)
		describe := func(items []*item[string]) {
			var ids []string
			var rows []int
			for _, it := range items {
				ids = append(ids, it.row.Key.ID)
				rows = append(rows, it.row.Src.Line)
			}
			out = append(out, fmt.Sprintf("g:%s%v%v", items[0].row.Key.Group, ids, rows))
		}
		for i, k := range keys {
			if full := b.add(&item[string]{row: Row[string]{Key: k, Src: Source{Line: i}}}); full != nil {
				describe(full)
			}
		}
		for _, rest := range b.rest() {
			describe(rest)
		}
	}
	for _, scope := range r.list {
		side := "g"
		if r.side == ByID {
			side = "i"
		}
		rows := []int{}
		for i, k := range keys {
			if r.side == ByGroup && k.Group == scope || r.side == ByID && k.ID == scope {
				rows = append(rows, i)
			}
		}
		out = append(out, fmt.Sprintf("%s:%s%v", side, scope, rows))
	}
	for _, g := range r.sized {
		out = append(out, "g:"+g+"(size)[]")
	}
	return strings.Join(out, " ")
}

func TestPlanReads(t *testing.T) {
	sized := func(groups ...string) func(string) bool {
		return func(g string) bool {
			for _, x := range groups {
				if x == g {
					return true
				}
			}
			return false
		}
	}
	tests := []struct {
		name  string
		keys  string
		prune []string
		shape shape
		want  string
	}{
		{"batches per group in input order", "a/1 a/2 b/1 a/3 a/4", nil, shape{batch: 3, page: [2]int{10, 0}},
			"g:a[1 2 3][0 1 3] g:a[4][4] g:b[1][2]"},
		{"prune lists each group whole", "a/1 b/2 a/3", []string{"a", "b"}, shape{batch: 3, page: [2]int{10, 0}},
			"g:a[0 2] g:b[1]"},
		{"prune of a group no row names", "", []string{"a"}, shape{batch: 30, page: [2]int{10, 0}}, "g:a[]"},
		{"a guard needs a size: first page of the listing", "a/1 b/1", nil, shape{batch: 30, page: [2]int{10, 0}, sized: sized("b")},
			"g:a[1][0] g:b[1][1] g:b(size)[]"},
		{"listed groups need no size read", "a/1", []string{"a"}, shape{batch: 30, page: [2]int{10, 0}, sized: sized("a")}, "g:a[0]"},
		// 4 products over 6 skills: by skill 6 pages, by product 4.
		{"cheaper by ID", "s1/p1 s2/p1 s3/p1 s4/p2 s5/p3 s6/p4", nil, shape{page: [2]int{100, 100}},
			"i:p1[0 1 2] i:p2[3] i:p3[4] i:p4[5]"},
		{"cheaper by group", "s1/p1 s1/p2 s1/p3 s2/p4", nil, shape{page: [2]int{100, 100}}, "g:s1[0 1 2] g:s2[3]"},
		{"tie: by group", "s1/p1 s2/p2", nil, shape{page: [2]int{100, 100}}, "g:s1[0] g:s2[1]"},
		{"pages count: 250 named in one group", strings.Repeat("", 0) + groupOf("s1", 250) + " s2/p1 s3/p1", nil,
			shape{page: [2]int{100, 100}}, ""},
		{"a guard needs sizes: never by ID", "s1/p1 s2/p1 s3/p1", nil, shape{page: [2]int{100, 100}, sized: sized("s2")},
			"g:s1[0] g:s2[1] g:s3[2]"},
		{"no ID side", "s1/p1 s2/p1 s3/p1", nil, shape{page: [2]int{100, 0}}, "g:s1[0] g:s2[1] g:s3[2]"},
		{"only the ID side", "s1/p1 s2/p1", nil, shape{page: [2]int{0, 100}}, "i:p1[0 1]"},
	}
	for _, tt := range tests {
		got := planFor(keys(tt.keys), tt.prune, tt.shape)
		if tt.want == "" {
			// 250 products of s1 (3 pages) + s2, s3 = 5 by group; by ID 252.
			if !strings.HasPrefix(got, "g:s1[") || strings.Contains(got, "i:") {
				t.Errorf("%s: got %.80s…, want by group", tt.name, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func groupOf(g string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " %s/p%d", g, i)
	}
	return strings.TrimSpace(b.String())
}

func TestPruneKeys(t *testing.T) {
	found := map[Key]string{{"a", "3"}: "x", {"a", "1"}: "x", {"a", "2"}: "x", {"b", "9"}: "x"}
	named := map[Key]bool{{"a", "2"}: true}
	if got := fmt.Sprint(pruneKeys("a", found, named)); got != "[{a 1} {a 3}]" {
		t.Errorf("got %s, want the unnamed ids of a, sorted", got)
	}
}

func TestPruneGroups(t *testing.T) {
	if got := fmt.Sprint(pruneGroups(tallyOf(keys("b/1 a/1 b/2"), false).groups, nil, "d")); got != "[b a]" {
		t.Errorf("valid rows: got %s", got)
	}
	named := map[string]bool{"z": true, "y": true, "": true}
	if got := fmt.Sprint(pruneGroups(nil, named, "d")); got != "[y z]" {
		t.Errorf("only invalid rows: got %s, want the groups they name", got)
	}
	if got := fmt.Sprint(pruneGroups(nil, nil, "d")); got != "[d]" {
		t.Errorf("empty input: got %s, want the default group", got)
	}
	if got := fmt.Sprint(pruneGroups(nil, nil, "")); got != "[]" {
		t.Errorf("empty input, no default: got %s", got)
	}
}

func TestGate(t *testing.T) {
	pct := func(p float64) Limit { return Limit{Percent: p} }
	tests := []struct {
		name  string
		g     guard
		limit Limit
		open  bool
		trip  string
	}{
		{"no deletes, answers out", guard{size: -1, pending: 2}, Limit{Count: 0}, true, ""},
		{"count limit holds whatever comes", guard{deleteRows: 3, size: -1, pending: 2}, Limit{Count: 3}, true, ""},
		{"count limit could trip: wait", guard{deleteRows: 4, size: -1, pending: 1}, Limit{Count: 3}, false, ""},
		{"count limit tripped", guard{deleteRows: 4, deletes: 4, size: -1}, Limit{Count: 3}, false, "deletes 4 of g (at most 3"},
		{"count limit not reached", guard{deleteRows: 4, deletes: 3, size: -1}, Limit{Count: 3}, true, ""},
		{"percent needs the size", guard{deleteRows: 1, size: -1, pending: 1}, pct(10), false, ""},
		{"percent, size known, holds", guard{deleteRows: 1, size: 400, pending: 3}, pct(10), true, ""},
		{"percent tripped", guard{deleteRows: 5, deletes: 5, size: 40}, pct(10), false, "deletes 5 of the 40 associations of g (at most 4"},
		{"prune waits for its listing", guard{deleteRows: math.MaxInt, waitAll: true, size: -1, pending: 1}, pct(10), false, ""},
		{"saved plan waits for every read", guard{waitAll: true, size: -1, pending: 1}, Limit{Count: 10}, false, ""},
		{"saved plan, all in", guard{waitAll: true, size: -1}, Limit{Count: 10}, true, ""},
		{"no limit", guard{deleteRows: math.MaxInt, deletes: 1e6, size: -1}, Limit{None: true}, true, ""},
	}
	for _, tt := range tests {
		g := tt.g
		open, err := gate(map[string]*guard{"g": &g}, tt.limit)
		if tt.trip != "" {
			var ge *GuardError
			if !errors.As(err, &ge) || !errors.Is(err, ErrGuard) || !strings.Contains(err.Error(), tt.trip) {
				t.Errorf("%s: got %v, want a GuardError saying %q", tt.name, err, tt.trip)
			}
			continue
		}
		if err != nil || open != tt.open {
			t.Errorf("%s: got open %v, %v; want open %v", tt.name, open, err, tt.open)
		}
	}
}

func TestStricterLimit(t *testing.T) {
	pct10, five, none := Limit{Percent: 10}, Limit{Count: 5}, Limit{None: true}
	tests := []struct {
		l         Limit
		size      int
		want      int
		str       string
		needsSize bool
	}{
		{pct10.Stricter(five), 400, 5, "10% and 5", true},
		{pct10.Stricter(five), 20, 2, "10% and 5", true},
		{five.Stricter(pct10), 20, 2, "5 and 10%", true},
		{none.Stricter(five), 20, 5, "5", false},
		{five.Stricter(none), 20, 5, "5", false},
		{none.Stricter(none), 20, math.MaxInt, "-1", false},
	}
	for _, tt := range tests {
		if got := tt.l.Max(tt.size); got != tt.want || tt.l.String() != tt.str || tt.l.needsSize() != tt.needsSize {
			t.Errorf("%s of %d: got %d (%s, needs size %v), want %d", tt.str, tt.size, got, tt.l, tt.l.needsSize(), tt.want)
		}
	}
	if _, err := pct10.Stricter(five).MarshalText(); err == nil {
		t.Errorf("two limits saved as one: want an error")
	}
}

// A dry run says whether a sync would stop at the guard.
func TestDryRunEvaluatesTheGuard(t *testing.T) {
	have := map[Key]string{}
	for i := range 20 {
		have[Key{"a", fmt.Sprint(i)}] = "x"
	}
	rows := []Row[string]{del("a", "0", 2), del("a", "1", 3), del("a", "2", 4)}
	fates, _, err := run(t, newFake(have), Options{DryRun: true, MaxDeletes: Limit{Percent: 10}}, rows...)
	if !errors.Is(err, ErrGuard) || !strings.Contains(err.Error(), "a sync would stop") {
		t.Errorf("got %v, want the guard a sync would trip", err)
	}
	if fates["a/0"].Outcome != Planned {
		t.Errorf("a dry run's rows are planned whatever the guard: %+v", fates["a/0"])
	}
	if _, _, err := run(t, newFake(have), Options{DryRun: true, MaxDeletes: Limit{Count: 3}}, rows...); err != nil {
		t.Errorf("within the limit: %v", err)
	}
}
