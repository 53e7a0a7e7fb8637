package job

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
)

// planView gathers what a plan would write, for people: counts per group
// and the first few writes of each kind. Emits come one at a time.
type planView[V any] struct {
	describe func(V) string
	byGroup  map[string]map[report.Action]int
	first    map[string]map[report.Action][]reconcile.Fate[V]
}

const planViewFirst = 5

func newPlanView[V any](describe func(V) string) *planView[V] {
	return &planView[V]{describe: describe, byGroup: map[string]map[report.Action]int{}, first: map[string]map[report.Action][]reconcile.Fate[V]{}}
}

func (p *planView[V]) add(f reconcile.Fate[V]) {
	g := f.Row.Key.Group
	if p.byGroup[g] == nil {
		p.byGroup[g] = map[report.Action]int{}
		p.first[g] = map[report.Action][]reconcile.Fate[V]{}
	}
	p.byGroup[g][f.Action]++
	if len(p.first[g][f.Action]) < planViewFirst {
		p.first[g][f.Action] = append(p.first[g][f.Action], f)
	}
}

func (p *planView[V]) write(w io.Writer) {
	if len(p.byGroup) == 0 {
		fmt.Fprintln(w, "\nplan: no changes; the API already matches the files")
		return
	}
	for _, g := range slices.Sorted(maps.Keys(p.byGroup)) {
		n := p.byGroup[g]
		fmt.Fprintf(w, "\nplan for %s: %d to create, %d to update, %d to delete\n", g, n[report.ActCreate], n[report.ActUpdate], n[report.ActDelete])
		for _, act := range []report.Action{report.ActCreate, report.ActUpdate, report.ActDelete} {
			fates := p.first[g][act]
			slices.SortFunc(fates, func(a, b reconcile.Fate[V]) int {
				return cmp.Or(cmp.Compare(a.Row.Src.File, b.Row.Src.File), cmp.Compare(a.Row.Src.Line, b.Row.Src.Line))
			})
			for _, f := range fates {
				from := "(pruned)"
				if f.Row.Src.File != "" {
					from = fmt.Sprintf("%s:%d", f.Row.Src.File, f.Row.Src.Line)
				}
				prev := ""
				if f.Prev != nil {
					prev = p.describe(*f.Prev)
				}
				switch act {
				case report.ActCreate:
					fmt.Fprintf(w, "  + %-8s -> %s   %s\n", f.Row.Key.ID, p.describe(f.Row.Want), from)
				case report.ActUpdate:
					fmt.Fprintf(w, "  ~ %-8s %s -> %s   %s\n", f.Row.Key.ID, prev, p.describe(f.Row.Want), from)
				default:
					fmt.Fprintf(w, "  - %-8s (was %s)   %s\n", f.Row.Key.ID, prev, from)
				}
			}
			if more := n[act] - len(fates); more > 0 {
				fmt.Fprintf(w, "    … and %d more\n", more)
			}
		}
	}
}
