package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// slowFake is a fake whose reads wait until released, and say when they
// start.
type slowFake struct {
	*fake
	started chan struct{}
	release chan struct{}
}

func (f *slowFake) ReadPage(ctx context.Context, r Read, token string) (Page[string], error) {
	f.started <- struct{}{}
	<-f.release
	return f.fake.ReadPage(ctx, r, token)
}

// While reads are slow, the run stops taking rows: what waits for an
// answer is bounded by the reads the pool lets be in flight, not by the
// size of the input.
func TestRowsWaitingAreBoundedByReadsInFlight(t *testing.T) {
	const conc, batch, n = 4, 3, 300
	f := &slowFake{fake: newFake(nil), started: make(chan struct{}, n), release: make(chan struct{})}
	f.batch = batch
	var emitted, taken atomic.Int64
	var once sync.Once
	free := func() { once.Do(func() { close(f.release) }) }
	pool := worker.New(worker.Config{RPS: 1e6, Concurrency: conc, MaxAttempts: 1})
	e := &Engine[string]{Res: f, Caller: pool, Log: zerolog.Nop(), Opts: Options{DryRun: true},
		Emit: func(Fate[string]) { emitted.Add(1) }}
	// In flight: conc batches; one more full batch waiting for a slot; one
	// filling.
	const bound = (conc+1)*batch + batch - 1
	pass := 0
	rows := func(yield func(Row[string], error) bool) {
		pass++
		for i := range n {
			if pass == 2 {
				if waiting := taken.Add(1) - emitted.Load(); waiting > bound && !t.Failed() {
					t.Errorf("%d rows taken and not reported while reads are in flight, want at most %d", waiting, bound)
					free()
				}
			}
			if !yield(up("a", fmt.Sprint(i), "x", i+2), nil) {
				return
			}
		}
	}
	go func() {
		for range conc {
			<-f.started // the pool is full of reads that wait
		}
		free()
	}()
	res, err := e.Run(context.Background(), rows)
	free()
	if err != nil || res.Counts[Planned] != n {
		t.Errorf("got %v, %v; want %d planned", err, res.Counts.Map(), n)
	}
}

// Rows that can't be read further (a file changed under the run) stop it:
// no call after, nothing pruned, the error returned.
func TestInputErrorStopsTheRun(t *testing.T) {
	f := newFake(map[Key]string{{"a", "old"}: "x"})
	broken := errors.New("rooms.csv: the file changed while bulksync was reading it")
	pass := 0
	rows := func(yield func(Row[string], error) bool) {
		pass++
		if !yield(up("a", "1", "x", 2), nil) {
			return
		}
		if pass == 2 {
			yield(Row[string]{}, broken)
			return
		}
		yield(up("a", "2", "x", 3), nil)
	}
	var got []string
	e := &Engine[string]{Res: f, Caller: testCaller(1), Log: zerolog.Nop(), Opts: Options{Prune: true, MaxDeletes: Limit{None: true}},
		Emit: func(x Fate[string]) { got = append(got, x.Row.Key.ID+"="+x.Outcome.String()+" "+x.ErrMsg) }}
	_, err := e.Run(context.Background(), rows)
	if !errors.Is(err, broken) {
		t.Errorf("got %v, want the input's error", err)
	}
	if f.writes() != 0 {
		t.Errorf("%d writes after the input broke:\n%s", f.writes(), strings.Join(f.calls, "\n"))
	}
	if fmt.Sprint(got) != "[1=skipped not attempted: reading the input failed: "+broken.Error()+"]" {
		t.Errorf("fates: %q", got)
	}
	if _, err := e.Run(context.Background(), func(yield func(Row[string], error) bool) { yield(Row[string]{}, broken) }); !errors.Is(err, broken) || len(f.calls) != 1 {
		t.Errorf("broken before the first row: %v after %d calls", err, len(f.calls))
	}
}
