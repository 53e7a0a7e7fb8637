package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// fake is an in-memory resource: V is the value an id is associated with.
// Scripted answers let a test play any server.
type fake struct {
	mu    sync.Mutex
	have  map[Key]string
	batch int
	page  [2]int
	calls []string // "create g/id", "read g [ids] token", …
	// script: answers given (and consumed) before the real operation, by
	// "op g/id" (op create, update, delete), "read SCOPE" (a filtered read)
	// or "list SCOPE".
	script map[string][]scripted
	// afterPage, when set, runs (under the lock) after each page served:
	// a test's way to change the state between pages, as another client would.
	afterPage func(r Read, token string)
	// firstTotal plays a server whose later pages repeat the Total the
	// first page gave (a total kept in the page token).
	firstTotal bool
	total      int
}

// scripted is one scripted answer: err, after applying the operation when
// apply is set (a write that commits, then fails).
type scripted struct {
	err   error
	apply bool
}

func newFake(have map[Key]string) *fake {
	if have == nil {
		have = map[Key]string{}
	}
	return &fake{have: have, batch: 3, page: [2]int{2, 0}, script: map[string][]scripted{}}
}

func (f *fake) on(key string, answers ...scripted) { f.script[key] = append(f.script[key], answers...) }

func (f *fake) next(key string) (scripted, bool) {
	q := f.script[key]
	if len(q) == 0 {
		return scripted{}, false
	}
	f.script[key] = q[1:]
	return q[0], true
}

func (f *fake) Kind() string { return "fake" }
func (f *fake) Names() Names {
	return Names{Group: "group", ID: "id", LogGroup: "group", LogID: "id"}
}
func (f *fake) Equal(want, have string) bool { return want == have }
func (f *fake) BatchSize() int               { return f.batch }
func (f *fake) PageSize(s Side) int          { return f.page[s] }

func (f *fake) ReadPage(_ context.Context, r Read, token string) (Page[string], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("read %s %v %q", r.Scope, r.IDs, token))
	op := "read "
	if r.Listing() {
		op = "list "
	}
	if s, ok := f.next(op + r.Scope); ok {
		return Page[string]{}, s.err
	}
	if r.Listing() && f.page[r.Side] == 0 {
		return Page[string]{}, fmt.Errorf("fake: side %d can't be listed", r.Side)
	}
	var match []Found[string]
	for k, v := range f.have {
		switch {
		case r.Side == ByID && k.ID == r.Scope,
			r.Side == ByGroup && k.Group == r.Scope && (r.IDs == nil || slices.Contains(r.IDs, k.ID)):
			match = append(match, Found[string]{k, v})
		}
	}
	slices.SortFunc(match, func(a, b Found[string]) int {
		return cmp.Or(cmp.Compare(a.Key.Group, b.Key.Group), cmp.Compare(a.Key.ID, b.Key.ID))
	})
	size := f.page[r.Side]
	if size == 0 {
		size = 1000
	}
	off := 0
	fmt.Sscan(token, &off)
	end := min(off+size, len(match))
	p := Page[string]{Found: match[off:end], Total: len(match)}
	switch {
	case token == "":
		f.total = len(match)
	case f.firstTotal:
		p.Total = f.total
	}
	if end < len(match) {
		p.Next = fmt.Sprint(end)
	}
	if f.afterPage != nil {
		f.afterPage(r, token)
	}
	return p, nil
}

func (f *fake) write(op string, k Key, apply func()) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op+" "+k.Group+"/"+k.ID)
	if s, ok := f.next(op + " " + k.Group + "/" + k.ID); ok {
		if s.apply {
			apply()
		}
		return client.StatusOf(s.err), s.err
	}
	_, exists := f.have[k]
	switch {
	case op == "create" && exists:
		return 409, &client.APIError{Status: 409, Type: "CONFLICT"}
	case op != "create" && !exists:
		return 404, &client.APIError{Status: 404, Type: "NOT_FOUND"}
	}
	apply()
	if op == "create" {
		return 201, nil
	}
	return 200, nil
}

func (f *fake) Create(_ context.Context, k Key, v string) (int, error) {
	return f.write("create", k, func() { f.have[k] = v })
}
func (f *fake) Update(_ context.Context, k Key, v string) (int, error) {
	return f.write("update", k, func() { f.have[k] = v })
}
func (f *fake) Delete(_ context.Context, k Key) (int, error) {
	return f.write("delete", k, func() { delete(f.have, k) })
}

func (f *fake) writes() int {
	n := 0
	for _, c := range f.calls {
		if !strings.HasPrefix(c, "read ") {
			n++
		}
	}
	return n
}

func (f *fake) reads() int { return len(f.calls) - f.writes() }

func testCaller(attempts int) *worker.Caller {
	return worker.New(worker.Config{RPS: 1e6, Concurrency: 4, MaxAttempts: attempts, BaseBackoff: time.Microsecond,
		MaxBackoff: time.Microsecond, MaxRetryAfter: time.Microsecond, RequestTimeout: time.Second})
}

// run reconciles rows against f and returns every Fate by id (pruned
// ones too), the run's result and error.
func run(t *testing.T, f *fake, opts Options, rows ...Row[string]) (map[string]Fate[string], Result[string], error) {
	t.Helper()
	fates := map[string]Fate[string]{}
	e := &Engine[string]{Res: f, Caller: testCaller(3), Log: zerolog.Nop(), Opts: opts, Emit: func(x Fate[string]) {
		id := x.Row.Key.Group + "/" + x.Row.Key.ID
		if _, dup := fates[id]; dup {
			t.Errorf("%s reported twice", id)
		}
		fates[id] = x
	}}
	res, err := e.Run(context.Background(), values(rows))
	return fates, res, err
}

func up(group, id, want string, line int) Row[string] {
	return Row[string]{Src: Source{"in.csv", line}, Key: Key{group, id}, Want: want}
}

func del(group, id string, line int) Row[string] {
	return Row[string]{Src: Source{"in.csv", line}, Key: Key{group, id}, Delete: true}
}

func outcomes(fates map[string]Fate[string]) string {
	var out []string
	for id, f := range fates {
		out = append(out, id+"="+f.Outcome.String())
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// values yields rows as an input that reads without error.
func values[V any](rows []Row[V]) iter.Seq2[Row[V], error] {
	return func(yield func(Row[V], error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}
