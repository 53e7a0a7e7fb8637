package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// pager serves scripted pages in order, counting calls.
type pager struct {
	pages []Page[string]
	calls int
}

func (p *pager) fetch(_ context.Context, _ string) (Page[string], error) {
	p.calls++
	if p.calls > len(p.pages) {
		return p.pages[len(p.pages)-1], nil
	}
	return p.pages[p.calls-1], nil
}

func found(ids ...string) []Found[string] {
	var out []Found[string]
	for _, id := range ids {
		out = append(out, Found[string]{Key{"g", id}, "v"})
	}
	return out
}

func TestFollowPages(t *testing.T) {
	p := &pager{pages: []Page[string]{{Found: found("1", "2"), Next: "t1", Total: 5}, {Found: found("3", "4"), Next: "t2", Total: 5}, {Found: found("5"), Total: 5}}}
	a, err := follow(context.Background(), Read{Scope: "g"}, false, p.fetch)
	if err != nil || len(a.found) != 5 || !a.complete || a.total != 5 || p.calls != 3 {
		t.Errorf("got %d found, complete %v, total %d, %d calls, %v", len(a.found), a.complete, a.total, p.calls, err)
	}
	p = &pager{pages: []Page[string]{{Found: found("1"), Next: "t1", Total: 400}, {Found: found("2")}}}
	if a, err := follow(context.Background(), Read{Scope: "g"}, true, p.fetch); err != nil || a.complete || a.total != 400 || p.calls != 1 {
		t.Errorf("size only: %+v after %d calls, %v", a, p.calls, err)
	}
}

func TestFollowNeverLoopsForever(t *testing.T) {
	tests := []struct {
		name  string
		read  Read
		pages []Page[string]
		calls int
		err   string
	}{
		{"a repeated token", Read{Scope: "g"}, []Page[string]{{Found: found("1"), Next: "same"}, {Found: found("2"), Next: "same"}},
			2, "repeated a page token"},
		{"new tokens, nothing new, no total", Read{Scope: "g"}, []Page[string]{{Found: found("1"), Next: "a", Total: -1}, {Found: found("1"), Next: "b", Total: -1},
			{Found: found("1"), Next: "c", Total: -1}, {Found: found("1"), Next: "d", Total: -1}, {Found: found("1"), Next: "e", Total: -1}, {Found: found("1"), Next: "f", Total: -1},
			{Found: found("1"), Next: "g", Total: -1}, {Found: found("1"), Next: "h", Total: -1}, {Found: found("1"), Next: "i", Total: -1}, {Found: found("1"), Next: "j", Total: -1},
			{Found: found("1"), Next: "k", Total: -1}}, 11, "10 pages in a row brought nothing new"},
		// Bounded by the total: once the 3 promised are in, a page with
		// nothing new ends the listing at once.
		{"empty pages past the total", Read{Scope: "g"}, []Page[string]{{Found: found("1", "2"), Next: "a", Total: 3}, {Found: found("3"), Next: "b", Total: 3},
			{Next: "c", Total: 3}}, 3, "past the 3 entries it said it had: page 3 brought nothing new"},
		{"the listing again past the total", Read{Scope: "g"}, []Page[string]{{Found: found("1", "2"), Next: "a", Total: 3}, {Found: found("3", "1"), Next: "b", Total: 3},
			{Found: found("2", "3"), Next: "c", Total: 3}}, 3, "past the 3 entries it said it had: page 3"},
		{"new entries past the total", Read{Scope: "g"}, []Page[string]{{Found: found("1", "2"), Next: "a", Total: 3}, {Found: found("3", "4"), Next: "b", Total: 3},
			{Found: found("5", "6"), Next: "c", Total: 3}, {Found: found("7", "8"), Next: "d", Total: 3}}, 3, "past the 3 entries it said it had: 6 after 3 pages"},
	}
	for _, tt := range tests {
		p := &pager{pages: tt.pages}
		_, err := follow(context.Background(), tt.read, false, p.fetch)
		if err == nil || !strings.Contains(err.Error(), tt.err) || p.calls != tt.calls {
			t.Errorf("%s: got %v after %d calls, want %q after %d", tt.name, err, p.calls, tt.err, tt.calls)
		}
	}
	// A filtered read of 2 ids can't need more than 3 pages, whatever
	// tokens the server invents.
	n := 0
	_, err := follow(context.Background(), Read{Scope: "g", IDs: []string{"1", "2"}}, false, func(context.Context, string) (Page[string], error) {
		n++
		return Page[string]{Found: found(fmt.Sprint(n % 2)), Next: fmt.Sprint("t", n)}, nil
	})
	if err == nil || n != 3 {
		t.Errorf("filtered read: got %v after %d calls, want an error after 3", err, n)
	}
	// A listing with no total that keeps bringing new ids ends too.
	n = 0
	_, err = follow(context.Background(), Read{Scope: "g"}, false, func(context.Context, string) (Page[string], error) {
		if n++; n > 2*maxUncountedPages {
			return Page[string]{}, errors.New("the test's bound")
		}
		return Page[string]{Found: found(fmt.Sprint(n)), Next: fmt.Sprint("t", n), Total: -1}, nil
	})
	if err == nil || n != maxUncountedPages {
		t.Errorf("endless listing with no total: got %v after %d calls, want an error after %d", err, n, maxUncountedPages)
	}
	// Entries a filtered read did not ask for are not taken.
	p := &pager{pages: []Page[string]{{Found: found("1", "99")}}}
	if a, _ := follow(context.Background(), Read{Scope: "g", IDs: []string{"1"}}, false, p.fetch); len(a.found) != 1 {
		t.Errorf("took ids not asked for: %v", a.found)
	}
	boom := errors.New("boom")
	if _, err := follow(context.Background(), Read{Scope: "g"}, false, func(context.Context, string) (Page[string], error) {
		return Page[string]{}, boom
	}); !errors.Is(err, boom) {
		t.Errorf("got %v, want the fetch's error", err)
	}
}
