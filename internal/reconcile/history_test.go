package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// cond is a Conditional row: written only where the API holds expect
// (nil: nothing).
func cond(r Row[string], expect *string) Row[string] {
	r.Conditional, r.Expect = true, expect
	return r
}

func ptr(s string) *string { return &s }

// A conditional row is written only where the API holds what it expects;
// elsewhere it is skipped with what the API holds, in a plan too.
func TestConditionalRows(t *testing.T) {
	have := func() map[Key]string {
		return map[Key]string{{"a", "created"}: "new", {"a", "updated"}: "v2", {"a", "edited"}: "someone", {"a", "back"}: "there"}
	}
	rows := []Row[string]{
		cond(del("a", "created", 2), ptr("new")),     // the run left new: delete it
		cond(up("a", "updated", "v1", 3), ptr("v2")), // the run left v2: back to v1
		cond(up("a", "deleted", "old", 4), nil),      // the run left nothing: create it again
		cond(up("a", "edited", "v1", 5), ptr("v2")),  // changed since: left alone
		cond(del("a", "gone", 6), ptr("new")),        // deleted since: left alone
		cond(up("a", "back", "old", 7), nil),         // created since: left alone
		{Src: Source{"r.csv", 8}, Key: Key{"a", "unknown"}, Verdict: Skipped, ErrType: "NOT_UNDOABLE", Reason: "no before"},
	}
	for _, dry := range []bool{false, true} {
		t.Run(fmt.Sprintf("dry run %v", dry), func(t *testing.T) {
			f := newFake(have())
			fates, _, err := run(t, f, Options{DryRun: dry, MaxDeletes: Limit{None: true}}, rows...)
			if err != nil {
				t.Fatal(err)
			}
			want := "a/back=skipped a/created=deleted a/deleted=created a/edited=skipped a/gone=skipped a/unknown=skipped a/updated=updated"
			if dry {
				want = "a/back=skipped a/created=planned a/deleted=planned a/edited=skipped a/gone=skipped a/unknown=skipped a/updated=planned"
			}
			if got := outcomes(fates); got != want {
				t.Errorf("outcomes:\n got %s\nwant %s", got, want)
			}
			for id, msg := range map[string]string{
				"edited": "the API holds someone now, where v2 was expected; left alone",
				"gone":   "the API holds no association now, where new was expected",
				"back":   "the API holds there now, where none was expected",
			} {
				x := fates["a/"+id]
				if x.ErrType != ChangedSince || !strings.Contains(x.ErrMsg, msg) || x.Action != ActNone {
					t.Errorf("%s: %s %q (action %v), want %s saying %q", id, x.ErrType, x.ErrMsg, x.Action, ChangedSince, msg)
				}
			}
			if x := fates["a/unknown"]; x.ErrType != "NOT_UNDOABLE" || x.ErrMsg != "no before" {
				t.Errorf("a row read as skipped: %+v", x)
			}
			if fates["a/edited"].Prev == nil || *fates["a/edited"].Prev != "someone" {
				t.Errorf("a row left alone reports what the API holds: %+v", fates["a/edited"])
			}
			wantHave := map[Key]string{{"a", "updated"}: "v1", {"a", "deleted"}: "old", {"a", "edited"}: "someone", {"a", "back"}: "there"}
			if dry {
				wantHave = have()
			}
			if fmt.Sprint(f.have) != fmt.Sprint(wantHave) {
				t.Errorf("state:\n got %v\nwant %v", f.have, wantHave)
			}
		})
	}
}

// A conditional write does not go on as another write when the answer
// says the association changed under it since its read.
func TestConditionalWriteLeavesAChangeAlone(t *testing.T) {
	for _, tt := range []struct {
		name    string
		row     Row[string]
		action  Action
		script  map[string][]scripted
		have    map[Key]string
		outcome Outcome
		msg     string
		final   string
	}{
		{name: "create answered 409, another value there", row: cond(up("g", "1", "old", 2), nil), action: ActCreate,
			have: map[Key]string{{"g", "1"}: "someone"}, outcome: Skipped, msg: "holds someone now", final: "someone"},
		{name: "create answered 409, the value wanted there", row: cond(up("g", "1", "old", 2), nil), action: ActCreate,
			have: map[Key]string{{"g", "1"}: "old"}, outcome: Unchanged, final: "old"},
		{name: "update answered 404", row: cond(up("g", "1", "old", 2), ptr("new")), action: ActUpdate,
			outcome: Skipped, msg: "holds no association now, where new was expected"},
		{name: "unconditional update answered 404 goes on as a create", row: up("g", "1", "old", 2), action: ActUpdate,
			outcome: Created, final: "old"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.have)
			s := (&Engine[string]{Res: f, Caller: testCaller(1)}).newSched()
			a := s.app.apply(context.Background(), tt.row, tt.action)
			if a.outcome != tt.outcome || !strings.Contains(a.changed, tt.msg) || (tt.msg == "") != (a.changed == "") {
				t.Errorf("got %v %q, want %v %q", a.outcome, a.changed, tt.outcome, tt.msg)
			}
			if got := f.have[Key{"g", "1"}]; got != tt.final {
				t.Errorf("final %q, want %q (calls %v)", got, tt.final, f.calls)
			}
		})
	}
}

// list lists scopes through an engine of f.
func list(f *fake, reads ...Read) ([]Found[string], error) {
	e := &Engine[string]{Res: f, Caller: testCaller(1), Log: zerolog.Nop()}
	return e.List(context.Background(), reads)
}

// List reads every page of every scope, from either side, and returns the
// associations sorted by key.
func TestListReadsEveryPage(t *testing.T) {
	have := map[Key]string{}
	for i := range 7 {
		have[Key{"b", fmt.Sprint(i)}] = "x"
		have[Key{"a", fmt.Sprint(i)}] = "y"
	}
	have[Key{"c", "0"}] = "z"
	f := newFake(have)
	f.page = [2]int{2, 3}
	got, err := list(f, Read{Scope: "b"}, Read{Scope: "a"}, Read{Side: ByID, Scope: "0"})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, x := range got {
		keys = append(keys, x.Key.Group+"/"+x.Key.ID+"="+x.Value)
	}
	want := "a/0=y a/1=y a/2=y a/3=y a/4=y a/5=y a/6=y b/0=x b/1=x b/2=x b/3=x b/4=x b/5=x b/6=x c/0=z"
	if strings.Join(keys, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(keys, " "), want)
	}
	if f.reads() != 4+4+1 { // 7 a page of 2, twice; 3 by id, a page of 3
		t.Errorf("%d reads, want 9:\n%s", f.reads(), strings.Join(f.calls, "\n"))
	}
	if _, err := list(f, Read{Scope: "a", IDs: []string{"1"}}); err == nil {
		t.Errorf("a filtered read listed")
	}
}

// A listing that changes while it is read is read again; one that keeps
// changing, or a read that fails, returns nothing but why.
func TestListAllOrNothing(t *testing.T) {
	seed := func() map[Key]string {
		have := map[Key]string{}
		for i := range 10 {
			have[Key{"a", fmt.Sprintf("%02d", i)}] = "x"
		}
		return have
	}
	for _, tt := range []struct {
		name    string
		disturb int
		script  []scripted
		want    int   // associations listed
		err     error // wanted error
		reads   int
	}{
		{name: "quiet", want: 10, reads: 4},
		{name: "changed once", disturb: 1, want: 9, reads: 3 + 3},                        // 10 said, 9 seen in 3 pages; then 9 in 3
		{name: "keeps changing", disturb: 100, err: ErrIncomplete, reads: 3 + 3 + 3 + 2}, // maxRelists+1 listings of 10, 9, 8, 7
		{name: "a read fails", script: []scripted{{err: &client.APIError{Status: 404, Type: "NOT_FOUND"}}}, err: &client.APIError{}, reads: 1},
		{name: "credentials refused", script: []scripted{{err: &client.APIError{Status: 403, Type: "FORBIDDEN"}}}, err: worker.ErrAuth, reads: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(seed())
			f.page = [2]int{3, 0}
			if tt.script != nil {
				f.on("list a", tt.script...)
			}
			disturbed := 0
			f.afterPage = func(r Read, token string) {
				if token == "" && disturbed < tt.disturb {
					disturbed++
					delete(f.have, Key{"a", fmt.Sprintf("%02d", disturbed-1)}) // before the next page's offset
				}
			}
			got, err := list(f, Read{Scope: "a"})
			var ae *client.APIError
			switch {
			case tt.err == nil && err != nil:
				t.Fatal(err)
			case errors.As(tt.err, &ae) && !errors.As(err, &ae),
				tt.err != nil && !errors.As(tt.err, &ae) && !errors.Is(err, tt.err):
				t.Fatalf("got %v, want %v", err, tt.err)
			case tt.err != nil && got != nil:
				t.Errorf("got %d associations with the error %v, want none", len(got), err)
			}
			if tt.err == nil && len(got) != tt.want {
				t.Errorf("listed %d, want %d", len(got), tt.want)
			}
			if f.reads() != tt.reads {
				t.Errorf("%d reads, want %d", f.reads(), tt.reads)
			}
		})
	}
}
