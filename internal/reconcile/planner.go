package reconcile

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/bulksync/bulksync/internal/report"
)

// The planner: pure decisions, no I/O, table-tested without HTTP.

// diff is what a row calls for, given what the API has (nil: absent).
func diff[V any](equal func(want, have V) bool, r Row[V], have *V) report.Action {
	switch {
	case r.Delete && have != nil:
		return report.ActDelete
	case r.Delete:
		return report.ActNone
	case have == nil:
		return report.ActCreate
	case !equal(r.Want, *have):
		return report.ActUpdate
	}
	return report.ActNone
}

// shape is what the planner needs to know of a resource's reads.
type shape struct {
	batch int    // Resource.BatchSize
	page  [2]int // Resource.PageSize by Side
	sized func(string) bool
}

// readPlan is one read with the rows it answers.
type readPlan struct {
	read  Read
	rows  []int    // indexes of the rows it answers
	group []string // the groups whose guard waits for it
	// sizeOnly: only the first page is read, for the group's size.
	sizeOnly bool
}

// planReads chooses the reads that learn what exists for keys (the rows'
// keys, in input order) with the fewest calls:
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
func planReads(keys []Key, prune []string, s shape) []readPlan {
	var plans []readPlan
	byGroup := groupIndex(keys, func(k Key) string { return k.Group })
	listed := map[string]bool{}
	switch {
	case len(prune) > 0 || s.batch == 0 && !cheaperByID(keys, s):
		groups := byGroup.order
		if len(prune) > 0 {
			groups = prune
		}
		for _, g := range groups {
			plans = append(plans, readPlan{read: Read{Side: ByGroup, Scope: g}, rows: byGroup.rows[g], group: []string{g}})
			listed[g] = true
		}
	case s.batch > 0:
		for _, g := range byGroup.order {
			rows := byGroup.rows[g]
			for start := 0; start < len(rows); start += s.batch {
				b := rows[start:min(start+s.batch, len(rows))]
				ids := make([]string, len(b))
				for i, r := range b {
					ids[i] = keys[r].ID
				}
				plans = append(plans, readPlan{read: Read{Side: ByGroup, Scope: g, IDs: ids}, rows: b, group: []string{g}})
			}
		}
	default:
		byID := groupIndex(keys, func(k Key) string { return k.ID })
		for _, id := range byID.order {
			rows := byID.rows[id]
			var groups []string
			for _, r := range rows {
				groups = append(groups, keys[r].Group)
			}
			slices.Sort(groups)
			plans = append(plans, readPlan{read: Read{Side: ByID, Scope: id}, rows: rows, group: slices.Compact(groups)})
		}
	}
	if s.sized != nil {
		for _, g := range byGroup.order {
			if !listed[g] && s.sized(g) {
				plans = append(plans, readPlan{read: Read{Side: ByGroup, Scope: g}, group: []string{g}, sizeOnly: true})
			}
		}
	}
	return plans
}

// cheaperByID reports whether reading each ID's groups costs fewer pages
// than listing each group, counting the pages the named associations fill.
func cheaperByID(keys []Key, s shape) bool {
	if s.page[ByID] == 0 || s.page[ByGroup] == 0 {
		return s.page[ByGroup] == 0
	}
	if s.sized != nil {
		for _, k := range keys {
			if s.sized(k.Group) {
				return false // a guard needs group sizes, which only group listings give
			}
		}
	}
	return pages(keys, s.page[ByID], func(k Key) string { return k.ID }) < pages(keys, s.page[ByGroup], func(k Key) string { return k.Group })
}

// pages is Σ over scopes of ⌈keys in the scope / page⌉: what listing every
// scope costs when the named associations exist.
func pages(keys []Key, page int, scope func(Key) string) int {
	n := map[string]int{}
	for _, k := range keys {
		n[scope(k)]++
	}
	total := 0
	for _, c := range n {
		total += (c + page - 1) / page
	}
	return total
}

type index struct {
	order []string
	rows  map[string][]int
}

func groupIndex(keys []Key, by func(Key) string) index {
	ix := index{rows: map[string][]int{}}
	for i, k := range keys {
		s := by(k)
		if _, ok := ix.rows[s]; !ok {
			ix.order = append(ix.order, s)
		}
		ix.rows[s] = append(ix.rows[s], i)
	}
	return ix
}

// pruneKeys is, sorted, every key of a group's complete listing that no row
// names and that belongs to the shard.
func pruneKeys[V any](group string, found map[Key]V, named map[Key]bool, shard Shard) []Key {
	var out []Key
	for k := range found {
		if k.Group == group && !named[k] && shard.Has(k.Group, k.ID) {
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
}

func (e *GuardError) Error() string {
	of := ""
	if e.Limit.needsSize() {
		of = fmt.Sprintf(" of the %d associations", e.Size)
	}
	return fmt.Sprintf("max-deletes %s: the plan deletes %d%s of %s (at most %d allowed); nothing was written",
		e.Limit, e.Deletes, of, e.Group, e.Allowed)
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
