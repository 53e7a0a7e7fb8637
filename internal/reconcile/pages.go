package reconcile

import (
	"context"
	"errors"
	"fmt"
)

// ErrRepeatedToken is a server handing back a page token it already gave:
// following it would never end.
var ErrRepeatedToken = errors.New("server repeated a page token")

// endless is a read stopped because its pages would not end: a server's
// fault, not the row's, that a later run may not meet. Its rows fail as
// transient ones do.
type endless struct{ error }

func (e endless) Unwrap() error { return e.error }

// maxStalePages bounds a run of pages that bring nothing new, each with a
// next token: legal now and then, but a long run is a server that will
// never finish.
const maxStalePages = 10

// maxUncountedPages bounds a listing whose answers state no total (in-skill
// product lists): 10,000 pages are a million entries, far beyond any skill.
const maxUncountedPages = 10000

// answer is what a read learned.
type answer[V any] struct {
	found    map[Key]V
	refused  int  // entries the engine's checks left out of found
	total    int  // the first page's Total
	complete bool // every page was read
	// disturbed is a listing that changed while it was read: its Total
	// moved between pages, or it ended with fewer associations than it
	// said it had. Paging by offset while something deletes (another shard)
	// skips entries: what it found is true, but not all there is.
	disturbed bool
}

// follow reads r page by page through fetch (one call each, paced and
// retried by the caller) until the last page, or the first with sizeOnly.
// It never loops forever: a filtered read can't need more pages than it
// named ids (and one more), a repeated token is refused, and so is a long
// run of pages that bring nothing new. A listing is bounded by what its
// answers said: once it holds the entries its total promised, a page that
// brings nothing new ends it, and so does finding a page's worth more than
// any total stated; a listing with no total ends after maxUncountedPages.
func follow[V any](ctx context.Context, r Read, sizeOnly bool, fetch func(ctx context.Context, token string) (Page[V], error)) (answer[V], error) {
	a := answer[V]{found: map[Key]V{}, total: -1}
	var asked map[string]bool
	if !r.Listing() {
		asked = make(map[string]bool, len(r.IDs))
		for _, id := range r.IDs {
			asked[id] = true
		}
	}
	seen := map[string]bool{}
	token, stale := "", 0
	most, widest := -1, 0 // the largest total stated, the longest page
	for page := 1; ; page++ {
		if asked != nil && page > len(asked)+1 {
			return a, endless{fmt.Errorf("read of %d ids still had more pages after %d", len(asked), page-1)}
		}
		p, err := fetch(ctx, token)
		if err != nil {
			return a, err
		}
		switch {
		case page == 1:
			a.total = p.Total
		case asked == nil && p.Total >= 0 && p.Total != a.total:
			a.disturbed = true
		}
		added := p.refused
		a.refused += p.refused
		for _, f := range p.Found {
			if _, dup := a.found[f.Key]; dup || asked != nil && !asked[f.Key.ID] {
				continue
			}
			a.found[f.Key] = f.Value
			added++
		}
		if p.Next == "" {
			a.complete = true
			if asked == nil && len(a.found)+a.refused < a.total {
				a.disturbed = true
			}
			return a, nil
		}
		if sizeOnly {
			return a, nil
		}
		if seen[p.Next] {
			return a, endless{fmt.Errorf("page %d: %w %q", page+1, ErrRepeatedToken, p.Next)}
		}
		seen[p.Next] = true
		if asked == nil {
			most, widest = max(most, p.Total), max(widest, len(p.Found)+p.refused)
			listed := len(a.found) + a.refused
			switch {
			case most >= 0 && added == 0 && listed >= most:
				return a, endless{fmt.Errorf("listing went on past the %d entries it said it had: page %d brought nothing new, with a next token", most, page)}
			case most >= 0 && listed > most+widest:
				return a, endless{fmt.Errorf("listing went on past the %d entries it said it had: %d after %d pages", most, listed, page)}
			case most < 0 && page >= maxUncountedPages:
				return a, endless{fmt.Errorf("listing still had more pages after %d, and states no total", page)}
			}
		}
		if added == 0 {
			if stale++; stale >= maxStalePages {
				return a, endless{fmt.Errorf("read stopped: %d pages in a row brought nothing new, each with a next token", stale)}
			}
		} else {
			stale = 0
		}
		token = p.Next
	}
}
