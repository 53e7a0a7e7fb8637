package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/bulksync/bulksync/internal/worker"
)

// List reads every scope of reads whole (each Read a listing: IDs nil),
// through the run's fan-out as a sync reads them, and returns what exists,
// sorted by key. A listing that changed while it was read is read again,
// as a run's are; one that still changes after that is refused with
// ErrIncomplete, and a read that fails is refused with its error: List
// returns all of what exists or nothing, never a part of it.
func (e *Engine[V]) List(ctx context.Context, reads []Read) ([]Found[V], error) {
	s := e.newSched()
	g, gctx := e.Caller.Group(ctx)
	var mu sync.Mutex
	var done []*task[V]
	for _, r := range reads {
		if !r.Listing() {
			return nil, fmt.Errorf("list %s: a listing names no ids", r.Scope)
		}
		t := &task[V]{read: r}
		if !worker.Go(gctx, g, func() error {
			s.read(gctx, t)
			mu.Lock()
			done = append(done, t)
			mu.Unlock()
			if errors.Is(t.err, worker.ErrAuth) {
				return t.err
			}
			return nil
		}) {
			break
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	found := map[Key]V{}
	var disturbed []string
	for _, t := range done {
		switch {
		case t.err != nil:
			return nil, fmt.Errorf("list %s: %w", t.read.Scope, t.err)
		case !t.ans.complete:
			return nil, fmt.Errorf("list %s: the listing ended before its last page", t.read.Scope)
		case t.ans.disturbed:
			disturbed = append(disturbed, fmt.Sprintf("%s (found %d of the %d it said it had)", t.read.Scope, len(t.ans.found), t.ans.total))
		}
		for k, v := range t.ans.found {
			found[k] = v
		}
	}
	if len(disturbed) > 0 {
		slices.Sort(disturbed)
		return nil, fmt.Errorf("%w: %s, each read %d times", ErrIncomplete, strings.Join(disturbed, ", "), maxRelists+1)
	}
	out := make([]Found[V], 0, len(found))
	for k, v := range found {
		out = append(out, Found[V]{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b Found[V]) int {
		return cmp.Or(cmp.Compare(a.Key.Group, b.Key.Group), cmp.Compare(a.Key.ID, b.Key.ID))
	})
	return out, nil
}
