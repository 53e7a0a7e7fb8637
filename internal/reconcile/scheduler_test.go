package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

func TestRunMix(t *testing.T) {
	f := newFake(map[Key]string{{"a", "same"}: "p1", {"a", "stale"}: "old", {"a", "gone"}: "x", {"b", "1"}: "q"})
	rows := []Row[string]{
		up("a", "same", "p1", 2), up("a", "stale", "p2", 3), up("a", "fresh", "p3", 4), del("a", "gone", 5), del("a", "never", 6),
		up("b", "1", "q", 7),
		{Src: Source{"in.csv", 9}, Key: Key{"a", ""}, Verdict: Invalid, Reason: "externalUserId is empty"},
	}
	fates, res, err := run(t, f, Options{MaxDeletes: Limit{Count: 1}}, rows...)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := outcomes(fates), "a/=invalid a/fresh=created a/gone=deleted a/never=unchanged a/same=unchanged a/stale=updated b/1=unchanged"; got != want {
		t.Errorf("outcomes:\n got %s\nwant %s", got, want)
	}
	if res.Counts[Created] != 1 || res.Counts[Updated] != 1 || res.Counts[Deleted] != 1 ||
		res.Counts[Unchanged] != 3 || res.Counts[Invalid] != 1 {
		t.Errorf("counts: %v", res.Counts.Map())
	}
	if x := fates["a/"]; x.ErrType != "INVALID_ROW" || x.ErrMsg != "externalUserId is empty" || x.Row.Src.Line != 9 {
		t.Errorf("invalid row: %+v", x)
	}
	if fmt.Sprint(f.have) != "map[{a fresh}:p3 {a same}:p1 {a stale}:p2 {b 1}:q]" {
		t.Errorf("final state: %v", f.have)
	}
	st := fates["a/stale"]
	if st.Action != ActUpdate || st.Prev == nil || *st.Prev != "old" || st.Status != 200 || st.Attempts != 1 || st.Row.Src.Line != 3 {
		t.Errorf("update's fate: %+v", st)
	}
	if n := fates["a/never"]; n.Action != ActNone || n.Prev != nil {
		t.Errorf("delete of an absent id: %+v", n)
	}
	// Queries: a has 5 ids in batches of 3 (2 reads), b one.
	if f.reads() != 3 || f.writes() != 3 {
		t.Errorf("calls: %d reads, %d writes; want 3 and 3:\n%s", f.reads(), f.writes(), strings.Join(f.calls, "\n"))
	}

	// The second run writes nothing.
	f.calls = nil
	rows = rows[:6]
	if _, _, err := run(t, f, Options{MaxDeletes: Limit{Count: 1}}, rows...); err != nil || f.writes() != 0 {
		t.Errorf("second run: %v with %d writes, want none", err, f.writes())
	}
}

// run's fates map keeps one Fate per id; this test needs the duplicate
// row's fate as well as the first row's.
func TestEveryRowReportedOnce(t *testing.T) {
	f := newFake(nil)
	var got []string
	e := &Engine[string]{Res: f, Caller: testCaller(3), Log: zerolog.Nop(), Opts: Options{MaxDeletes: Limit{None: true}},
		Emit: func(x Fate[string]) { got = append(got, fmt.Sprintf("%d:%v", x.Row.Src.Line, x.Outcome)) }}
	rows := []Row[string]{up("a", "1", "x", 2), {Src: Source{"in.csv", 3}, Key: Key{"a", "1"}, Want: "x", Verdict: Duplicate}}
	if _, err := e.Run(context.Background(), values(rows)); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if fmt.Sprint(got) != "[2:created 3:duplicate]" {
		t.Errorf("got %v", got)
	}
}

func TestStrictAndEmpty(t *testing.T) {
	f := newFake(nil)
	bad := Row[string]{Src: Source{"in.csv", 3}, Key: Key{"a", "2"}, Verdict: Invalid, Reason: "amazonId is required"}
	fates, _, err := run(t, f, Options{Strict: true}, up("a", "1", "x", 2), bad)
	if !errors.Is(err, ErrStrict) || !strings.Contains(err.Error(), "1 invalid row; nothing was sent") || len(f.calls) != 0 {
		t.Errorf("strict: %v after %d calls", err, len(f.calls))
	}
	if fates["a/1"].Outcome != Skipped || fates["a/2"].Outcome != Invalid {
		t.Errorf("strict: %s", outcomes(fates))
	}
	if _, _, err := run(t, f, Options{}, bad); !errors.Is(err, ErrEmpty) || len(f.calls) != 0 {
		t.Errorf("no valid row: got %v, want ErrEmpty and no call", err)
	}
	if _, _, err := run(t, f, Options{AllowEmpty: true}, bad); err != nil || len(f.calls) != 0 {
		t.Errorf("no valid row, allowed: got %v after %d calls", err, len(f.calls))
	}
}

func TestGuardTripsBeforeAnyWrite(t *testing.T) {
	have := map[Key]string{}
	for i := range 20 {
		have[Key{"a", fmt.Sprint(i)}] = "x"
	}
	f := newFake(have)
	rows := []Row[string]{del("a", "0", 2), del("a", "1", 3), del("a", "2", 4), up("a", "new", "y", 5)}
	fates, _, err := run(t, f, Options{MaxDeletes: Limit{Percent: 10}}, rows...)
	var ge *GuardError
	if !errors.As(err, &ge) || ge.Deletes != 3 || ge.Size != 20 || ge.Allowed != 2 {
		t.Fatalf("got %v, want a guard of 3 deletes of 20", err)
	}
	if f.writes() != 0 {
		t.Errorf("a tripped guard made %d writes", f.writes())
	}
	for id, x := range fates {
		if x.Outcome != Skipped || !strings.Contains(x.ErrMsg, "max-deletes 10%") {
			t.Errorf("%s: %+v, want skipped naming the guard", id, x)
		}
	}
	// The size came from the unfiltered listing, one extra call.
	if !slices.Contains(f.calls, `read a [] ""`) {
		t.Errorf("no listing read for the size: %v", f.calls)
	}
}

// The percentage guard is sized by the provider's listing, never by a
// filtered query's totalCount, which may count only its matches.
func TestGuardSizeIsNotAFilteredTotal(t *testing.T) {
	have := map[Key]string{}
	for i := range 400 {
		have[Key{"a", fmt.Sprint(i)}] = "x"
	}
	f := newFake(have)
	f.batch = 30
	_, res, err := run(t, f, Options{MaxDeletes: Limit{Percent: 10}}, del("a", "7", 2))
	if err != nil || res.Counts[Deleted] != 1 {
		t.Errorf("deleting 1 of 400 under 10%%: %v, %v", err, res.Counts.Map())
	}
}

func TestFailedReadFailsItsRows(t *testing.T) {
	f := newFake(nil)
	f.on("read a", scripted{err: err400})
	fates, _, err := run(t, f, Options{}, up("a", "1", "x", 2), up("b", "1", "y", 3))
	if err != nil {
		t.Fatal(err)
	}
	if x := fates["a/1"]; x.Outcome != Failed || x.Status != 400 || x.ErrType != "BAD_REQUEST" || x.ErrMsg != "amazonId is not valid" {
		t.Errorf("row of the failed read: %+v", x)
	}
	if fates["b/1"].Outcome != Created {
		t.Errorf("another group's row: %+v", fates["b/1"])
	}
}

// A read that fails after retries reports, on each of its rows, the
// attempts it made (not 0).
func TestFailedReadReportsItsAttempts(t *testing.T) {
	tests := []struct {
		name     string
		read     string // the scripted read: a query of the rows' ids, or a listing (--prune)
		answers  []scripted
		attempts int
		msg      string
	}{
		{"query refused at once", "read a", []scripted{{err: err400}}, 1, "amazonId is not valid"},
		{"query failing every retry", "read a", []scripted{{err: err500}, {err: err500}, {err: err500}}, 3, "oops (after 3 attempts)"},
		{"listing failing every retry", "list a", []scripted{{err: err500}, {err: err500}, {err: err500}}, 3, "oops (after 3 attempts)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(nil)
			f.on(tt.read, tt.answers...)
			opts := Options{}
			if strings.HasPrefix(tt.read, "list") {
				opts = Options{Prune: true, MaxDeletes: Limit{None: true}}
			}
			fates, _, err := run(t, f, opts, up("a", "1", "x", 2), up("a", "2", "y", 3))
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"a/1", "a/2"} {
				x := fates[id]
				if x.Outcome != Failed || x.Attempts != tt.attempts || x.ErrMsg != tt.msg {
					t.Errorf("%s: got %v, %d attempts, %q; want %v, %d attempts, %q", id, x.Outcome, x.Attempts, x.ErrMsg,
						Failed, tt.attempts, tt.msg)
				}
			}
		})
	}
}

func TestFailedSizeReadStopsTheRun(t *testing.T) {
	f := newFake(map[Key]string{{"a", "1"}: "x"})
	f.on("list a", scripted{err: err400}) // the batch's query answers; the size listing fails
	fates, _, err := run(t, f, Options{MaxDeletes: Limit{Percent: 50}}, del("a", "1", 2))
	if err == nil || !strings.Contains(err.Error(), "can't check the delete guard of a") || f.writes() != 0 {
		t.Errorf("got %v after %d writes", err, f.writes())
	}
	if fates["a/1"].Outcome != Skipped {
		t.Errorf("%+v", fates["a/1"])
	}
}

func TestAuthFailureStopsTheRun(t *testing.T) {
	f := newFake(nil)
	f.batch = 1
	f.on("create a/1", scripted{err: &client.APIError{Status: 403, Type: "FORBIDDEN"}})
	fates, _, err := run(t, f, Options{}, up("a", "1", "x", 2))
	if !errors.Is(err, worker.ErrAuth) {
		t.Errorf("got %v, want worker.ErrAuth", err)
	}
	if x := fates["a/1"]; x.Outcome != Failed || x.Status != 403 {
		t.Errorf("%+v", x)
	}
}

func TestInterruptedRunSkipsTheRest(t *testing.T) {
	f := newFake(nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("SIGTERM")
	cancel(cause)
	var got []Fate[string]
	e := &Engine[string]{Res: f, Caller: testCaller(3), Log: zerolog.Nop(), Emit: func(x Fate[string]) { got = append(got, x) }}
	_, err := e.Run(ctx, values([]Row[string]{up("a", "1", "x", 2), up("a", "2", "x", 3)}))
	if !errors.Is(err, cause) || len(f.calls) != 0 {
		t.Errorf("got %v after %d calls", err, len(f.calls))
	}
	for _, x := range got {
		if x.Outcome != Skipped || x.ErrMsg != "interrupted before this row was sent" {
			t.Errorf("%+v", x)
		}
	}
	if len(got) != 2 {
		t.Errorf("%d rows reported, want 2", len(got))
	}
}

func TestPrune(t *testing.T) {
	have := map[Key]string{}
	for i := range 10 {
		have[Key{"a", fmt.Sprint(i)}] = "x"
	}
	have[Key{"b", "keep"}] = "x"
	f := newFake(maps.Clone(have))
	rows := []Row[string]{up("a", "0", "x", 2), up("a", "1", "y", 3),
		{Src: Source{"in.csv", 4}, Key: Key{"a", "2"}, Verdict: Invalid, Reason: "bad"}} // an invalid row protects its id
	fates, res, err := run(t, f, Options{Prune: true, MaxDeletes: Limit{None: true}}, rows...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[Deleted] != 7 || len(f.have) != 4 {
		t.Errorf("deleted %d, left %v", res.Counts[Deleted], f.have)
	}
	if x := fates["a/9"]; x.Row.Src != (Source{}) || x.Action != ActDelete || x.Prev == nil || *x.Prev != "x" {
		t.Errorf("pruned row: %+v", x)
	}
	if _, ok := f.have[Key{"b", "keep"}]; !ok {
		t.Errorf("a group no row names was pruned")
	}
	// The guard counts pruned deletes.
	f = newFake(maps.Clone(have))
	fates, _, err = run(t, f, Options{Prune: true, MaxDeletes: Limit{Percent: 50}}, rows...)
	if !errors.Is(err, ErrGuard) || f.writes() != 0 || fates["a/9"].Outcome != Skipped {
		t.Errorf("guarded prune: %v, %d writes, %+v", err, f.writes(), fates["a/9"])
	}
}

func TestPruneEmptyInputEmptiesTheDefaultGroup(t *testing.T) {
	f := newFake(map[Key]string{{"d", "1"}: "x", {"d", "2"}: "x"})
	_, res, err := run(t, f, Options{Prune: true, AllowEmpty: true, MaxDeletes: Limit{None: true}, DefaultGroup: "d"})
	if err != nil || res.Counts[Deleted] != 2 || len(f.have) != 0 {
		t.Errorf("got %v, %v, left %v", err, res.Counts.Map(), f.have)
	}
}

func TestShardsSplitRowsAndPrunes(t *testing.T) {
	have := map[Key]string{}
	var rows []Row[string]
	for i := range 30 {
		have[Key{"a", fmt.Sprint(i)}] = "x"
		if i < 20 {
			rows = append(rows, up("a", fmt.Sprint(i), "y", i+2))
		}
	}
	seen := map[string]int{}
	for i := range 3 {
		f := newFake(have)
		fates, _, err := run(t, f, Options{Prune: true, MaxDeletes: Limit{None: true}, Shard: Shard{i, 3}}, rows...)
		if err != nil {
			t.Fatal(err)
		}
		for id := range fates {
			seen[id]++
		}
	}
	if len(seen) != 30 {
		t.Errorf("the shards together reported %d ids, want 30", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s reported by %d shards", id, n)
		}
	}
}

func TestDryRunKeepsThePlan(t *testing.T) {
	f := newFake(map[Key]string{{"a", "1"}: "old", {"a", "9"}: "x"})
	fates, res, err := run(t, f, Options{DryRun: true, Prune: true, KeepPlan: true, MaxDeletes: Limit{None: true}},
		up("a", "1", "new", 2), up("a", "2", "p", 3))
	if err != nil || f.writes() != 0 {
		t.Fatalf("%v, %d writes", err, f.writes())
	}
	if outcomes(fates) != "a/1=planned a/2=planned a/9=planned" {
		t.Errorf("outcomes: %s", outcomes(fates))
	}
	var got []string
	for _, w := range res.Plan {
		got = append(got, fmt.Sprintf("%s:%v:%s:%s", w.Key.ID, w.Action, w.Want, describe(w.Before)))
	}
	slices.Sort(got)
	if fmt.Sprint(got) != "[1:update:new:old 2:create:p:absent 9:delete::x]" {
		t.Errorf("plan: %v", got)
	}

	// Applying it makes exactly those writes.
	e := &Engine[string]{Res: f, Caller: testCaller(3), Log: zerolog.Nop(), Opts: Options{MaxDeletes: Limit{None: true}}, Emit: func(Fate[string]) {}}
	out, err := e.Apply(context.Background(), res.Plan)
	if err != nil || out.Counts[Created] != 1 || out.Counts[Updated] != 1 || out.Counts[Deleted] != 1 {
		t.Errorf("apply: %v, %v", err, out.Counts.Map())
	}
	if fmt.Sprint(f.have) != "map[{a 1}:new {a 2}:p]" {
		t.Errorf("after apply: %v", f.have)
	}
}

func TestApplyRefusesAStalePlan(t *testing.T) {
	f := newFake(map[Key]string{{"a", "1"}: "someone-else"})
	old := "old"
	plan := []Write[string]{{Key: Key{"a", "1"}, Action: ActUpdate, Want: "new", Before: &old}, {Key: Key{"a", "2"}, Action: ActCreate, Want: "p"}}
	var got []Fate[string]
	e := &Engine[string]{Res: f, Caller: testCaller(3), Log: zerolog.Nop(), Opts: Options{MaxDeletes: Limit{None: true}}, Emit: func(x Fate[string]) { got = append(got, x) }}
	_, err := e.Apply(context.Background(), plan)
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "1: planned from old, now someone-else") || f.writes() != 0 {
		t.Errorf("got %v with %d writes", err, f.writes())
	}
	if len(got) != 2 || got[0].Outcome != Skipped || got[1].Outcome != Skipped {
		t.Errorf("fates: %+v", got)
	}
	if out, err := e.Apply(context.Background(), nil); err != nil || out.Counts.Total() != 0 {
		t.Errorf("empty plan: %v", err)
	}
}

func TestReadByIDSide(t *testing.T) {
	f := newFake(map[Key]string{{"s1", "p1"}: "", {"s2", "p1"}: "", {"s9", "p1"}: ""})
	f.batch, f.page = 0, [2]int{100, 100}
	fates, _, err := run(t, f, Options{}, up("s1", "p1", "", 2), up("s2", "p1", "", 3), up("s3", "p1", "", 4))
	if err != nil {
		t.Fatal(err)
	}
	if outcomes(fates) != "s1/p1=unchanged s2/p1=created s3/p1=created" && outcomes(fates) != "s1/p1=unchanged s2/p1=unchanged s3/p1=created" {
		t.Errorf("got %s", outcomes(fates))
	}
	if f.reads() != 1 {
		t.Errorf("reads: %d, want one by product:\n%s", f.reads(), strings.Join(f.calls, "\n"))
	}
}

// A failed write's row says what the API said, and how many attempts it
// took.
func TestFailedWriteReportsTheAPIsError(t *testing.T) {
	f := newFake(nil)
	f.on("create a/1", scripted{err: err400})
	f.on("create a/2", scripted{err: err500}, scripted{err: err500}, scripted{err: err500}, scripted{err: err500})
	fates, _, err := run(t, f, Options{}, up("a", "1", "x", 2), up("a", "2", "y", 3))
	if err != nil {
		t.Fatal(err)
	}
	if x := fates["a/1"]; x.Outcome != Failed || x.Action != ActCreate || x.Status != 400 || x.ErrType != "BAD_REQUEST" ||
		x.ErrMsg != "amazonId is not valid" || x.Attempts != 1 {
		t.Errorf("refused create: %+v", x)
	}
	if x := fates["a/2"]; x.Outcome != Failed || x.Status != 500 || x.ErrType != "INTERNAL_SERVER_ERROR" ||
		x.ErrMsg != "oops (after 3 attempts)" || x.Attempts != 3 {
		t.Errorf("create failing with 500: %+v", x)
	}
}

// A listing-only resource that can be read only from the ID side re-reads
// an ambiguous write from that side.
func TestReReadFromTheOnlySide(t *testing.T) {
	f := newFake(nil)
	f.batch, f.page = 0, [2]int{0, 2}
	f.on("create s1/p1", scripted{err: err500, apply: true})
	fates, _, err := run(t, f, Options{}, up("s1", "p1", "", 2))
	if err != nil {
		t.Fatal(err)
	}
	// The retry finds it there (409): the re-read settles it as ours.
	if x := fates["s1/p1"]; x.Outcome != Created || f.calls[len(f.calls)-1] != `read p1 [] ""` {
		t.Errorf("got %+v, want created after a re-read of p1's groups:\n%s", x, strings.Join(f.calls, "\n"))
	}
}

// Paging by offset while another client deletes skips entries. A prune
// notices the listing changed while it was read and reads it again; one
// that keeps changing ends the run with an error, never a clean exit, after
// pruning what it did see.
func TestPruneRelistsADisturbedListing(t *testing.T) {
	seed := func() map[Key]string {
		have := map[Key]string{}
		for i := range 12 {
			have[Key{"a", fmt.Sprintf("%02d", i)}] = "x"
		}
		return have
	}
	rows := []Row[string]{up("a", "00", "x", 2)}
	for _, tt := range []struct {
		name     string
		disturb  int // listings disturbed
		wantErr  bool
		listings int
	}{
		{"disturbed once", 1, false, 2},
		{"disturbed every time", 100, true, maxRelists + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(seed())
			f.page = [2]int{4, 0}
			disturbed, listings := 0, 0
			f.afterPage = func(r Read, token string) {
				if !r.Listing() || token != "" {
					return
				}
				listings++
				if disturbed < tt.disturb {
					disturbed++
					// Another shard deletes two entries of the first page:
					// the next page, by offset, skips two this run must see.
					for _, id := range []string{"01", "02"} {
						if _, ok := f.have[Key{"a", id}]; ok {
							delete(f.have, Key{"a", id})
							break
						}
					}
					for id := 3; id < 12; id++ {
						if _, ok := f.have[Key{"a", fmt.Sprintf("%02d", id)}]; ok {
							delete(f.have, Key{"a", fmt.Sprintf("%02d", id)})
							break
						}
					}
				}
			}
			_, res, err := run(t, f, Options{Prune: true, MaxDeletes: Limit{None: true}}, rows...)
			if listings != tt.listings {
				t.Errorf("listings: got %d, want %d", listings, tt.listings)
			}
			if tt.wantErr {
				if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "run again") {
					t.Errorf("got %v, want ErrIncomplete", err)
				}
				if res.Counts[Deleted] == 0 {
					t.Errorf("nothing pruned: what it saw is still to be deleted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.have) != 1 {
				t.Errorf("left %v, want only the named 00", f.have)
			}
		})
	}
}

// An association created while a listing is read shifts the later pages
// forward: the listing finds as many as it was told, but not the new one.
// Only the moved total tells.
func TestPruneNoticesAnInsertionDuringTheListing(t *testing.T) {
	have := map[Key]string{}
	for i := range 12 {
		have[Key{"a", fmt.Sprintf("%02d", i)}] = "x"
	}
	f := newFake(have)
	f.page = [2]int{4, 0}
	inserted := false
	f.afterPage = func(r Read, token string) {
		if r.Listing() && token == "" && !inserted {
			inserted = true
			f.have[Key{"a", "000"}] = "x" // sorts first
		}
	}
	_, _, err := run(t, f, Options{Prune: true, MaxDeletes: Limit{None: true}}, up("a", "00", "x", 2))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.have) != 1 {
		t.Errorf("left %v, want only the named 00", f.have)
	}
}

// A server that keeps the first page's total in its page tokens: a
// deletion between pages shows only in finding fewer than that total.
func TestPruneNoticesFewerThanTheTotal(t *testing.T) {
	have := map[Key]string{}
	for i := range 12 {
		have[Key{"a", fmt.Sprintf("%02d", i)}] = "x"
	}
	f := newFake(have)
	f.page, f.firstTotal = [2]int{4, 0}, true
	deleted := false
	f.afterPage = func(r Read, token string) {
		if r.Listing() && token == "" && !deleted {
			deleted = true
			delete(f.have, Key{"a", "01"}) // seen on page 1; 04 slides onto it and is never seen
		}
	}
	_, _, err := run(t, f, Options{Prune: true, MaxDeletes: Limit{None: true}}, up("a", "00", "x", 2))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.have) != 1 {
		t.Errorf("left %v, want only the named 00", f.have)
	}
}

// A row a stage before the engine failed (a unit without a profile) is
// reported failed as the stage said, is never sent, keeps its id from
// --prune, and makes the input not empty.
func TestFailedRowsFromAStageBefore(t *testing.T) {
	f := newFake(map[Key]string{{"a", "1"}: "old", {"a", "9"}: "x"})
	failed := Row[string]{Src: Source{"in.csv", 2}, Key: Key{"a", "1"}, Want: "", Verdict: Failed,
		ErrType: "NOT_FOUND", Status: 404, Reason: "unit u has no communication profile"}
	fates, res, err := run(t, f, Options{Prune: true, MaxDeletes: Limit{None: true}}, failed)
	if err != nil {
		t.Fatalf("a run whose only row failed before the engine: %v", err)
	}
	x := fates["a/1"]
	if x.Outcome != Failed || x.ErrType != "NOT_FOUND" || x.Status != 404 || x.ErrMsg != failed.Reason || x.Action != ActNone {
		t.Errorf("failed row: %+v", x)
	}
	if res.Counts[Failed] != 1 {
		t.Errorf("counts: %v", res.Counts.Map())
	}
	if f.have[Key{"a", "1"}] != "old" {
		t.Errorf("the failed row's association was touched: %v", f.have)
	}
	if _, ok := f.have[Key{"a", "9"}]; ok || fates["a/9"].Outcome != Deleted {
		t.Errorf("prune: %s, state %v; want a/9 deleted and a/1 kept", outcomes(fates), f.have)
	}
}
