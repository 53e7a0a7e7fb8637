package reconcile

import (
	"cmp"
	"fmt"
	"slices"
)

// The planner: pure decisions, no I/O, table-tested without HTTP.

// diff is what a row calls for, given what the API has (nil: absent).
func diff[V any](equal func(want, have V) bool, r Row[V], have *V) Action {
	switch {
	case r.Delete && have != nil:
		return ActDelete
	case r.Delete:
		return ActNone
	case have == nil:
		return ActCreate
	case !equal(r.Want, *have):
		return ActUpdate
	}
	return ActNone
}

// shape is what the planner needs to know of a resource's reads.
type shape struct {
	batch int    // Resource.BatchSize
	page  [2]int // Resource.PageSize by Side
	sized func(string) bool
	// groupsOnly reads groups, never IDs: other shards write while this
	// one reads, and an ID's listing spans every shard's groups.
	groupsOnly bool
}

// tally is what a first look at the rows of a run learns: counts, never
// the rows themselves.
// Every count is of the whole input, every shard's rows, but for the
// reads: the guards judge the whole plan.
type tally struct {
	valid, invalid int
	failed         int             // rows a stage before the engine failed (Failed)
	groups         []string        // groups of the valid rows, first seen first
	deletes        map[string]int  // valid rows asking for a delete, by group
	named          map[string]bool // groups any row names
	// reads are the groups of the valid rows this shard reads: its own, and
	// every shard's deletes (the guard counts them), first seen first.
	reads []string
	// Those rows by group and by ID, and the IDs first seen first: counted
	// only when reads may go by ID (cheaperByID).
	byGroup, byID map[string]int
	ids           []string
}

// reads is how a run learns what exists.
type reads struct {
	side  Side
	batch int      // > 0: filtered reads of up to batch ids per group, formed as rows stream
	list  []string // else: the scopes listed whole (from side) before any row is diffed
	sized []string // groups whose size a guard needs and no listing gives: the first page of their listing
}

// planReads chooses the reads that learn what exists for the rows with the
// fewest calls:
//   - with prune, each group in prune is listed whole (pruning needs every
//     id; the listing costs ⌈existing/page⌉ calls, never more than queries
//     that would find the same associations and still miss the others);
//   - else, when the resource takes filtered reads, batches of its batch
//     size per group;
//   - else each group is listed, or each ID's groups are, whichever side
//     costs fewer pages when the named associations exist; the ID side only
//     when no group's size is needed.
//
// A group whose size a guard needs (s.sized) and that no listing reads gets
// a read of the first page of its listing.
func planReads(t tally, prune []string, s shape) reads {
	var r reads
	switch {
	case len(prune) > 0:
		r.list = prune
	case s.batch == 0 && (s.groupsOnly && s.page[ByGroup] > 0 || !cheaperByID(t, s)):
		r.list = t.reads
	case s.batch > 0:
		r.batch = s.batch
	default:
		r.side, r.list = ByID, t.ids
	}
	if s.sized != nil {
		for _, g := range t.groups {
			if (r.side != ByGroup || r.batch > 0 || !slices.Contains(r.list, g)) && s.sized(g) {
				r.sized = append(r.sized, g)
			}
		}
	}
	return r
}

// cheaperByID reports whether reading each ID's groups costs fewer pages
// than listing each group, counting the pages the named associations fill.
func cheaperByID(t tally, s shape) bool {
	if s.page[ByID] == 0 || s.page[ByGroup] == 0 {
		return s.page[ByGroup] == 0
	}
	if s.sized != nil {
		for _, g := range t.groups {
			if s.sized(g) {
				return false // a guard needs group sizes, which only group listings give
			}
		}
	}
	return pages(t.byID, s.page[ByID]) < pages(t.byGroup, s.page[ByGroup])
}

// pages is Σ over scopes of ⌈rows of the scope / page⌉: what listing every
// scope costs when the named associations exist.
func pages(rows map[string]int, page int) int {
	total := 0
	for _, c := range rows {
		total += (c + page - 1) / page
	}
	return total
}

// batcher forms filtered reads as rows stream in: per group, ids in input
// order; a batch leaves when it is full, the rest when the input ends,
// groups first seen first. Only the rows of unfinished batches wait here.
type batcher[V any] struct {
	size  int
	open  map[string][]*item[V]
	order []string
}

func newBatcher[V any](size int) *batcher[V] {
	return &batcher[V]{size: size, open: map[string][]*item[V]{}}
}

// add takes an item; it returns a full batch, or nil.
func (b *batcher[V]) add(it *item[V]) []*item[V] {
	g := it.row.Key.Group
	cur, seen := b.open[g]
	if !seen {
		b.order = append(b.order, g)
	}
	cur = append(cur, it)
	if len(cur) < b.size {
		b.open[g] = cur
		return nil
	}
	b.open[g] = nil
	return cur
}

// rest returns the batches not full yet, groups first seen first.
func (b *batcher[V]) rest() [][]*item[V] {
	var out [][]*item[V]
	for _, g := range b.order {
		if len(b.open[g]) > 0 {
			out = append(out, b.open[g])
		}
	}
	b.open, b.order = map[string][]*item[V]{}, nil
	return out
}

// pruneGroups is the groups --prune empties of what no row names: those of
// the valid rows or, when there is none, those any row names (sorted), or
// else the default group.
func pruneGroups(valid []string, named map[string]bool, def string) []string {
	switch {
	case len(valid) > 0:
		return valid
	case len(named) > 0:
		var groups []string
		for g := range named {
			if g != "" {
				groups = append(groups, g)
			}
		}
		if len(groups) > 0 {
			slices.Sort(groups)
			return groups
		}
	}
	if def != "" {
		return []string{def}
	}
	return nil
}

// pruneKeys is, sorted, every key of a group's complete listing that no row
// names, whichever shard's it is: the guard counts them all.
func pruneKeys[V any](group string, found map[Key]V, named map[Key]bool) []Key {
	var out []Key
	for k := range found {
		if k.Group == group && !named[k] {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b Key) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// guard is what the delete guard knows of one group.
type guard struct {
	deleteRows int  // the most deletes the rows can ask for (MaxInt with prune: unknown)
	waitAll    bool // no write before every read of the group is in (prune, saved plan)
	size       int  // the group's associations; -1 until known
	deletes    int  // deletes planned so far
	pending    int  // reads of the group not answered yet
}

// needsSize reports whether limit needs the group's size to decide.
func (g *guard) needsSize(limit Limit) bool {
	return limit.needsSize() && g.deleteRows > 0
}

// GuardError is a tripped --max-deletes guard.
type GuardError struct {
	Group         string
	Limit         Limit
	Deletes, Size int
	Allowed       int
	// Shards is the run's shard count: above 1, Deletes are every shard's,
	// and every shard refuses alike.
	Shards int
}

func (e *GuardError) Error() string {
	of, whole := "", ""
	if e.Limit.needsSize() {
		of = fmt.Sprintf(" of the %d associations", e.Size)
	}
	if e.Shards > 1 {
		whole = fmt.Sprintf(" (the whole plan, all %d shards' deletes: every shard refuses alike)", e.Shards)
	}
	return fmt.Sprintf("max-deletes %s: the plan deletes %d%s of %s (at most %d allowed)%s; nothing was written",
		e.Limit, e.Deletes, of, e.Group, e.Allowed, whole)
}

func (e *GuardError) Unwrap() error { return ErrGuard }

// gate decides whether writes may start. Before the first write every
// guard must be sure to hold: at once when no group can exceed its limit
// whatever the answers still out say (the usual case, so reading and
// writing overlap), otherwise once the group's answers are all in. It
// returns a *GuardError when a group plans more deletes than allowed.
func gate(guards map[string]*guard, limit Limit) (open bool, err error) {
	groups := make([]string, 0, len(guards))
	for g := range guards {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	open = true
	for _, name := range groups {
		g := guards[name]
		if g.needsSize(limit) && g.size < 0 {
			open = false
			continue
		}
		allowed := limit.Max(max(g.size, 0))
		switch {
		case g.pending == 0 && g.deletes > allowed:
			return false, &GuardError{Group: name, Limit: limit, Deletes: g.deletes, Size: g.size, Allowed: allowed}
		case g.pending > 0 && (g.waitAll || g.deleteRows > allowed):
			open = false
		}
	}
	return open, nil
}
