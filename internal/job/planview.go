package job

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/secret"
	"github.com/rs/zerolog"
)

// planView gathers what a plan would write, for people: counts per group
// and the first few writes of each kind. Emits come one at a time.
type planView[V any] struct {
	describe   func(V) string
	words      planWords
	byGroup    map[string]map[reconcile.Action]int
	first      map[string]map[reconcile.Action][]reconcile.Fate[V]
	preface    func(io.Writer) // what Write tells first; nil: nothing
	groupField string          // what Log calls a group: provider, skill_id
}

const planViewFirst = 5

// planWords are what a resource calls its writes in a plan; an empty word
// is a write it never makes.
type planWords struct{ create, update, delete string }

var defaultWords = planWords{"create", "update", "delete"}

func newPlanView[V any](describe func(V) string, words planWords) *planView[V] {
	if words == (planWords{}) {
		words = defaultWords
	}
	return &planView[V]{describe: describe, words: words, byGroup: map[string]map[reconcile.Action]int{}, first: map[string]map[reconcile.Action][]reconcile.Fate[V]{}}
}

func (p *planView[V]) add(f reconcile.Fate[V]) {
	g := f.Row.Key.Group
	if p.byGroup[g] == nil {
		p.byGroup[g] = map[reconcile.Action]int{}
		p.first[g] = map[reconcile.Action][]reconcile.Fate[V]{}
	}
	p.byGroup[g][f.Action]++
	if len(p.first[g][f.Action]) < planViewFirst {
		p.first[g][f.Action] = append(p.first[g][f.Action], f)
	}
}

// Log tells the plan as one event per group, for log pipelines; the
// report has every write.
func (p *planView[V]) Log(log zerolog.Logger) {
	if len(p.byGroup) == 0 {
		log.Info().Msg("plan: no changes")
		return
	}
	for _, g := range slices.Sorted(maps.Keys(p.byGroup)) {
		n := p.byGroup[g]
		ev := log.Info().Str(p.groupField, g)
		for _, c := range []struct {
			word string
			act  reconcile.Action
		}{{p.words.create, reconcile.ActCreate}, {p.words.update, reconcile.ActUpdate}, {p.words.delete, reconcile.ActDelete}} {
			if c.word != "" {
				ev = ev.Int(c.word, n[c.act])
			}
		}
		ev.Msg("plan")
	}
}

// Write tells the plan for people: per group, how many writes of each kind
// and the first few of them.
func (p *planView[V]) Write(w io.Writer) {
	if p.preface != nil {
		p.preface(w)
	}
	if len(p.byGroup) == 0 {
		fmt.Fprintln(w, "\nplan: no changes; the API already matches the files")
		return
	}
	for _, g := range slices.Sorted(maps.Keys(p.byGroup)) {
		n := p.byGroup[g]
		var counts []string
		for _, c := range []struct {
			word string
			act  reconcile.Action
		}{{p.words.create, reconcile.ActCreate}, {p.words.update, reconcile.ActUpdate}, {p.words.delete, reconcile.ActDelete}} {
			if c.word != "" {
				counts = append(counts, fmt.Sprintf("%d to %s", n[c.act], c.word))
			}
		}
		fmt.Fprintf(w, "\nplan for %s: %s\n", g, strings.Join(counts, ", "))
		for _, act := range []reconcile.Action{reconcile.ActCreate, reconcile.ActUpdate, reconcile.ActDelete} {
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
					prev = secret.Printable(p.describe(*f.Prev)) // as the API listed it
				}
				want := p.describe(f.Row.Want)
				switch {
				case act == reconcile.ActCreate && want == "":
					fmt.Fprintf(w, "  + %-8s   %s\n", f.Row.Key.ID, from)
				case act == reconcile.ActCreate:
					fmt.Fprintf(w, "  + %-8s -> %s   %s\n", f.Row.Key.ID, want, from)
				case act == reconcile.ActUpdate:
					fmt.Fprintf(w, "  ~ %-8s %s -> %s   %s\n", f.Row.Key.ID, prev, want, from)
				case prev == "":
					fmt.Fprintf(w, "  - %-8s   %s\n", f.Row.Key.ID, from)
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
