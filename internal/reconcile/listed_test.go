package reconcile

import (
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestListedTypeIsTheDefault(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", DefaultAmazonIDType},
		{"communication-profile", DefaultAmazonIDType},
		{"COMMUNICATION_PROFILE", DefaultAmazonIDType},
		{" Communication Profile ", DefaultAmazonIDType},
		{"phone-number", "phone-number"},
		{"communication-profiles", "communication-profiles"},
	} {
		if got := listedType(tc.in); got != tc.want {
			t.Errorf("listedType(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// checkID refuses what no input row could name: an empty id, or one that
// can't go into a URL path.
func checkID(k Key) string {
	switch {
	case k.ID == "":
		return "the id is empty"
	case strings.ContainsAny(k.ID, "/\x1b"):
		return "the id can't go into a URL path"
	}
	return ""
}

// What the API lists is checked as input is: an entry no row could name is
// never written, and where --prune would delete it, it is reported failed.
func TestListedEntriesAreChecked(t *testing.T) {
	have := func() map[Key]string {
		return map[Key]string{{"a", ""}: "x", {"a", "x/y"}: "x", {"a", "1"}: "x", {"a", "2"}: "x", {"a", "\x1b[2J"}: "x"}
	}
	rows := []Row[string]{up("a", "1", "x", 2)}
	for _, tc := range []struct {
		name     string
		opts     Options
		outcomes string
		writes   int
	}{
		{"prune", Options{Prune: true, MaxDeletes: Limit{None: true}},
			"a/\x1b[2J=failed a/1=unchanged a/2=deleted a/=failed a/x/y=failed", 1},
		{"plan", Options{Prune: true, DryRun: true, MaxDeletes: Limit{None: true}},
			"a/\x1b[2J=failed a/1=unchanged a/2=planned a/=failed a/x/y=failed", 0},
		{"no prune", Options{MaxDeletes: Limit{None: true}}, "a/1=unchanged", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(have())
			f.batch = 0
			e := &Engine[string]{Res: f, Caller: testCaller(1), Log: zerologNop(), Opts: tc.opts, Check: checkID}
			fates := map[string]Fate[string]{}
			e.Emit = func(x Fate[string]) { fates[x.Row.Key.Group+"/"+x.Row.Key.ID] = x }
			if _, err := e.Run(t.Context(), values(rows)); err != nil {
				t.Fatal(err)
			}
			if got := outcomes(fates); got != tc.outcomes {
				t.Errorf("outcomes:\n got %q\nwant %q", got, tc.outcomes)
			}
			if f.writes() != tc.writes {
				t.Errorf("writes: got %d, want %d: %q", f.writes(), tc.writes, f.calls)
			}
			if x, ok := fates["a/"]; ok && (x.ErrType != "INVALID_LISTING" || !strings.Contains(x.ErrMsg, "the id is empty") || x.Action != ActDelete) {
				t.Errorf("the refused entry's fate: %+v", x)
			}
		})
	}
	// Without the check, --prune would send a delete of the empty id.
	f := newFake(have())
	if _, _, err := run(t, f, Options{Prune: true, MaxDeletes: Limit{None: true}}, rows...); err != nil || !slices.Contains(f.calls, "delete a/") {
		t.Errorf("without a check: %v, calls %q; the test's premise is gone", err, f.calls)
	}
}

// Only the shard that owns a refused entry reports it.
func TestRefusedEntryReportedByItsShard(t *testing.T) {
	reported := 0
	for i := range 4 {
		f := newFake(map[Key]string{{"a", ""}: "x", {"a", "1"}: "x"})
		e := &Engine[string]{Res: f, Caller: testCaller(1), Log: zerologNop(), Check: checkID,
			Opts: Options{Prune: true, MaxDeletes: Limit{None: true}, Shard: Shard{i, 4}}}
		e.Emit = func(x Fate[string]) {
			if x.ErrType == "INVALID_LISTING" {
				reported++
			}
		}
		if _, err := e.Run(t.Context(), values([]Row[string]{up("a", "1", "x", 2)})); err != nil {
			t.Fatal(err)
		}
	}
	if reported != 1 {
		t.Errorf("the refused entry was reported by %d shards, want 1", reported)
	}
}

func zerologNop() zerolog.Logger { return zerolog.Nop() }
