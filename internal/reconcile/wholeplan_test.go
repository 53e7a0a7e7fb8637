package reconcile

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rs/zerolog"
)

// bySkill is the fake as a resource split by group alone (as Products is).
type bySkill struct{ *fake }

func (bySkill) ShardByGroup() bool { return true }

// Every shard judges the whole plan's deletes, its own and the others',
// and refuses alike: N shards never delete N times the limit.
func TestEveryShardJudgesTheWholePlan(t *testing.T) {
	keep := func(n, kept int, groups ...string) (map[Key]string, []Row[string]) {
		have := map[Key]string{}
		var rows []Row[string]
		for _, g := range groups {
			for i := range n {
				have[Key{g, fmt.Sprint(i)}] = "x"
				if i < kept {
					rows = append(rows, up(g, fmt.Sprint(i), "x", len(rows)+2))
				}
			}
		}
		return have, rows
	}
	deletes := func(n int) (map[Key]string, []Row[string]) {
		have := map[Key]string{}
		var rows []Row[string]
		for i := range n {
			have[Key{"a", fmt.Sprint(i)}] = "x"
			rows = append(rows, del("a", fmt.Sprint(i), i+2))
		}
		return have, rows
	}
	for _, tc := range []struct {
		name    string
		groups  bool // split by group, as products are
		opts    Options
		setup   func() (map[Key]string, []Row[string])
		deletes int
	}{
		{"prune, a share", false, Options{Prune: true, MaxDeletes: Limit{Percent: 10}}, func() (map[Key]string, []Row[string]) { return keep(40, 24, "a") }, 16},
		{"prune, a count", false, Options{Prune: true, MaxDeletes: Limit{Count: 5}}, func() (map[Key]string, []Row[string]) { return keep(40, 24, "a") }, 16},
		{"delete rows", false, Options{MaxDeletes: Limit{Count: 5}}, func() (map[Key]string, []Row[string]) { return deletes(16) }, 16},
		{"delete rows, a share", false, Options{MaxDeletes: Limit{Percent: 10}}, func() (map[Key]string, []Row[string]) { return deletes(16) }, 16},
		{"by group, prune", true, Options{Prune: true, MaxDeletes: Limit{Percent: 10}}, func() (map[Key]string, []Row[string]) { return keep(40, 24, "s1", "s2", "s3", "s4") }, 16},
		{"by group, delete rows", true, Options{MaxDeletes: Limit{Count: 5}}, func() (map[Key]string, []Row[string]) { return deletes(16) }, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			have, rows := tc.setup()
			for _, dry := range []bool{false, true} {
				for i := range 4 {
					f := newFake(have)
					f.page = [2]int{5, 0}
					var res Resource[string] = f
					if tc.groups {
						f.batch = 0
						res = bySkill{f}
					}
					o := tc.opts
					o.Shard, o.DryRun = Shard{i, 4}, dry
					fates, err := runOn(t, res, o, rows...)
					var ge *GuardError
					if !errors.As(err, &ge) {
						t.Fatalf("shard %d/4 (dry run %v): err %v, want a tripped guard", i, dry, err)
					}
					if ge.Deletes != tc.deletes || ge.Shards != 4 {
						t.Errorf("shard %d/4: guard counted %d deletes of %d shards, want %d of 4", i, ge.Deletes, ge.Shards, tc.deletes)
					}
					if f.writes() != 0 {
						t.Errorf("shard %d/4: %d writes, want none", i, f.writes())
					}
					for id, x := range fates {
						if !Owns(o.Shard, res, x.Row.Key) {
							t.Errorf("shard %d/4 reported %s, another shard's", i, id)
						}
					}
				}
			}
		})
	}
}

// A guard that holds lets each shard write its own share only, and the
// shards together do the whole plan.
func TestShardsWriteTheirShareUnderAGuardThatHolds(t *testing.T) {
	have := map[Key]string{}
	var rows []Row[string]
	for i := range 40 {
		have[Key{"a", fmt.Sprint(i)}] = "x"
		if i < 36 {
			rows = append(rows, up("a", fmt.Sprint(i), "x", i+2))
		}
	}
	deleted := 0
	for i := range 4 {
		f := newFake(have)
		f.page = [2]int{5, 0}
		fates, err := runOn(t, f, Options{Prune: true, MaxDeletes: Limit{Percent: 10}, Shard: Shard{i, 4}}, rows...)
		if err != nil {
			t.Fatalf("shard %d/4: %v", i, err)
		}
		for _, x := range fates {
			if x.Outcome == Deleted {
				deleted++
			}
		}
	}
	if deleted != 4 || len(have) != 36 {
		t.Errorf("the shards deleted %d, %d left; want 4 and 36", deleted, len(have))
	}
}

// --strict and an empty input are guards on the whole input too: an
// invalid row of one shard stops every shard, and a shard with no row of
// its own is not an empty input.
func TestStrictAndEmptyJudgeTheWholeInput(t *testing.T) {
	bad := Row[string]{Src: Source{"in.csv", 9}, Key: Key{"a", "bad"}, Verdict: Invalid, Reason: "amazonId is required"}
	rows := []Row[string]{up("a", "1", "x", 2), up("a", "2", "x", 3), del("a", "3", 4), bad}
	for i := range 8 {
		f := newFake(nil)
		o := Options{Strict: true, MaxDeletes: Limit{None: true}, Shard: Shard{i, 8}}
		fates, err := runOn(t, f, o, rows...)
		if !errors.Is(err, ErrStrict) || f.writes() != 0 {
			t.Errorf("shard %d/8 with strict: %v and %d writes, want ErrStrict and none", i, err, f.writes())
		}
		for id, x := range fates {
			if !Owns(o.Shard, Resource[string](f), x.Row.Key) {
				t.Errorf("shard %d/8 reported %s, another shard's", i, id)
			}
		}
		f = newFake(nil)
		if _, err := runOn(t, f, Options{MaxDeletes: Limit{None: true}, Shard: Shard{i, 8}}, rows[:1]...); err != nil {
			t.Errorf("shard %d/8 of a one-row input: %v, want no error", i, err)
		}
	}
}

// runOn is run on any resource of string values.
func runOn(t *testing.T, res Resource[string], opts Options, rows ...Row[string]) (map[string]Fate[string], error) {
	t.Helper()
	fates := map[string]Fate[string]{}
	e := &Engine[string]{Res: res, Caller: testCaller(3), Log: zerolog.Nop(), Opts: opts, Emit: func(x Fate[string]) {
		id := x.Row.Key.Group + "/" + x.Row.Key.ID
		if _, dup := fates[id]; dup {
			t.Errorf("%s reported twice", id)
		}
		fates[id] = x
	}}
	_, err := e.Run(context.Background(), values(rows))
	return fates, err
}
