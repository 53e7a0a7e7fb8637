package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
)

// The resolution stage against the emulator, with rows built here: what
// reaches the engine, and the calls it took.

const (
	uHas   = "amzn1.alexa.unit.did.HAS1"
	uHas2  = "amzn1.alexa.unit.did.HAS2"
	uNone  = "amzn1.alexa.unit.did.NONE1"
	uNone2 = "amzn1.alexa.unit.did.NONE2"
	uNo    = "amzn1.alexa.unit.did.UNKNOWN"
	pHas   = "amzn1.alexa.communications.profile.did.HAS1"
	pHas2  = "amzn1.alexa.communications.profile.did.HAS2"
)

type stage struct {
	*resolver
	emu *emulator.Emulator
}

func newStage(t *testing.T, eo emulator.Options, r resolver) *stage {
	t.Helper()
	if eo.Profiles.Units == nil {
		eo.Profiles.Units = map[string]string{uHas: pHas, uHas2: pHas2, uNone: "", uNone2: ""}
	}
	eo.StaticToken = "stage-token"
	e, err := emulator.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	c, err := client.New(client.Options{Endpoint: srv.URL, Token: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "stage-token"})})
	if err != nil {
		t.Fatal(err)
	}
	r.api, r.log = c, zerolog.Nop()
	if r.caller == nil {
		r.caller = worker.New(worker.Config{RPS: 10000, Concurrency: 4, MaxAttempts: 3, BaseBackoff: time.Millisecond,
			MaxBackoff: time.Millisecond, MaxRetryAfter: time.Millisecond})
	}
	return &stage{resolver: &r, emu: e}
}

// unitRow is a row of provider p naming a unit (and maybe a name and an
// amazonId), at line.
func unitRow(line int, ext, unit, name, amazonID string) row {
	return row{Src: reconcile.Source{File: "rooms.csv", Line: line}, Key: reconcile.Key{Group: "p", ID: ext},
		Want: reconcile.Profile{AmazonID: amazonID, AmazonIDType: "communication-profile", UnitID: unit, Name: name}}
}

// seq2 is rows as the input yields them: each with no read error.
func seq2(rows ...row) iter.Seq2[row, error] {
	return func(yield func(row, error) bool) {
		for _, x := range rows {
			if !yield(x, nil) {
				return
			}
		}
	}
}

// run prepares rows and returns them by externalUserId as the engine sees them.
func (s *stage) run(t *testing.T, rows ...row) (map[string]row, error) {
	t.Helper()
	seq, err := s.prepare(context.Background(), seq2(rows...))
	out := map[string]row{}
	n := 0
	for x, rerr := range seq {
		if rerr != nil {
			t.Fatalf("rows: %v", rerr)
		}
		out[x.Key.ID] = x
		n++
	}
	if n != len(rows) {
		t.Errorf("prepare yielded %d rows of %d", n, len(rows))
	}
	// The engine ranges the rows twice: the second time must say the same,
	// and make no call.
	calls := s.emu.Stats().Total
	for x := range seq {
		if fmt.Sprint(x) != fmt.Sprint(out[x.Key.ID]) {
			t.Errorf("second range: %+v, first %+v", x, out[x.Key.ID])
		}
	}
	if got := s.emu.Stats().Total; got != calls {
		t.Errorf("ranging the rows again made %d calls", got-calls)
	}
	return out, err
}

func (s *stage) calls(op string) int { return s.emu.Stats().Count(op, "") }

func (s *stage) profileWrites() int {
	return s.calls("profile.create") + s.calls("profile.batch") + s.calls("profile.update") + s.calls("profile.delete")
}

func TestResolveWithoutCreating(t *testing.T) {
	s := newStage(t, emulator.Options{}, resolver{})
	got, err := s.run(t,
		unitRow(2, "7201", uHas, "", ""),
		unitRow(3, "7202", uHas, "", ""), // a second room of the same unit: no second read
		unitRow(4, "7203", uNone, "", ""),
		unitRow(5, "7204", uNo, "", ""),
		unitRow(6, "7205", uHas2, "", pHas2),            // both given, and they agree
		unitRow(7, "7206", uHas2, "", "amzn1.other"),    // both given, and they don't
		unitRow(8, "7207", uNone2, "", "amzn1.whatnot"), // an amazonId for a unit that has none
		row{Key: reconcile.Key{Group: "p", ID: "7208"}, Want: reconcile.Profile{AmazonID: "amzn1.plain"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id, amazonID, resolution string
		verdict                  reconcile.Outcome
		errType, reason          string
		status                   int
	}{
		{"7201", pHas, ProfileFound, reconcile.Valid, "", "", 0},
		{"7202", pHas, ProfileFound, reconcile.Valid, "", "", 0},
		{"7203", "", ProfileMissing, reconcile.Failed, "NO_PROFILE", "unitId " + uNone + " has no communication profile (the API answered 404: unit " + uNone + " has no communication profile); bulksync creates missing profiles only when told to", 404},
		{"7204", "", ProfileMissing, reconcile.Failed, "NO_PROFILE", "unit " + uNo + " not found", 404},
		{"7205", pHas2, ProfileFound, reconcile.Valid, "", "", 0},
		{"7206", "amzn1.other", ProfileFound, reconcile.Invalid, "", "unitId " + uHas2 + " has communication profile " + pHas2 + ", not the row's amazonId amzn1.other", 0},
		{"7207", "amzn1.whatnot", "", reconcile.Invalid, "", "unitId " + uNone2 + " has no communication profile, so it can't be the row's amazonId amzn1.whatnot", 0},
		{"7208", "amzn1.plain", "", reconcile.Valid, "", "", 0},
	}
	for _, tt := range tests {
		x := got[tt.id]
		if x.Want.AmazonID != tt.amazonID || x.Want.Resolution != tt.resolution || x.Verdict != tt.verdict ||
			x.ErrType != tt.errType || x.Status != tt.status || !strings.Contains(x.Reason, tt.reason) {
			t.Errorf("%s: got %+v %q %s %d %q\nwant amazonId %q resolution %q verdict %d, %s %d %q", tt.id, x.Want, x.Verdict, x.ErrType, x.Status, x.Reason,
				tt.amazonID, tt.resolution, tt.verdict, tt.errType, tt.status, tt.reason)
		}
	}
	// One read per distinct unit, no write of any kind.
	if n := s.calls("profile.by_unit"); n != 5 {
		t.Errorf("reads: got %d, want 5 (one per distinct unit)", n)
	}
	if n := s.profileWrites(); n != 0 {
		t.Errorf("writes: got %d, want none", n)
	}
}

// The rows resolution leaves alone: another shard's, deletes, invalid and
// duplicate rows, and rows that name no unit.
func TestResolveOnlyWhatNeedsIt(t *testing.T) {
	shard := reconcile.Shard{Index: 0, Count: 2}
	var mine, theirs string
	for i := 0; mine == "" || theirs == ""; i++ {
		if id := fmt.Sprint(7000 + i); shard.Has("p", id) {
			mine = cmpStr(mine, id)
		} else {
			theirs = cmpStr(theirs, id)
		}
	}
	s := newStage(t, emulator.Options{}, resolver{owns: func(k reconcile.Key) bool { return reconcile.Owns(shard, reconcile.Associations{}, k) }})
	del := unitRow(3, "del", uNone, "", "")
	del.Delete = true
	bad := unitRow(4, "bad", uHas2, "", "")
	bad.Verdict, bad.Reason = reconcile.Invalid, "externalUserId contains a control character"
	dup := unitRow(5, "dup", uHas2, "", "")
	dup.Verdict = reconcile.Duplicate
	rows := []row{unitRow(2, mine, uHas, "", ""), unitRow(6, theirs, uNone2, "", ""), del, bad, dup}
	got, err := s.run(t, rows...)
	if err != nil {
		t.Fatal(err)
	}
	if got[mine].Want.AmazonID != pHas {
		t.Errorf("this shard's row: %+v", got[mine])
	}
	for _, r := range rows[1:] {
		if x := got[r.Key.ID]; x.Want != r.Want || x.Verdict != r.Verdict {
			t.Errorf("%s was changed: %+v, want %+v", r.Key.ID, x, r)
		}
	}
	if n := s.calls("profile.by_unit"); n != 1 {
		t.Errorf("reads: got %d, want 1", n)
	}
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestConflictingNamesAreInvalid(t *testing.T) {
	s := newStage(t, emulator.Options{}, resolver{create: true})
	got, err := s.run(t, unitRow(2, "1", uNone, "Room 1", ""), unitRow(3, "2", uNone, "", ""), unitRow(4, "3", uNone, "Suite 1", ""),
		unitRow(5, "4", uNone2, "Room 2", ""), unitRow(6, "5", uNone2, "Room 2", ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"1", "2", "3"} {
		if x := got[id]; x.Verdict != reconcile.Invalid || !strings.Contains(x.Reason, `conflicting names: "Room 1" at rooms.csv:2 and "Suite 1" at rooms.csv:4`) {
			t.Errorf("%s: %+v %q", id, x.Verdict, x.Reason)
		}
	}
	if got["4"].Want.Resolution != ProfileCreated || s.emu.ProfileName(uNone2) != "Room 2" {
		t.Errorf("the unit named alike twice: %+v, name %q", got["4"].Want, s.emu.ProfileName(uNone2))
	}
	if s.emu.Units()[uNone] != "" {
		t.Errorf("a profile was created for the unit with conflicting names")
	}
}

func TestStrictCallsNothingWithAnInvalidRow(t *testing.T) {
	bad := unitRow(9, "bad", "", "", "")
	bad.Verdict = reconcile.Invalid
	for name, rows := range map[string][]row{
		"an invalid row":         {unitRow(2, "1", uNone, "", ""), bad},
		"names that conflict":    {unitRow(2, "1", uNone, "A", ""), unitRow(3, "2", uNone, "B", "")},
		"a mismatch found later": {unitRow(2, "1", uNone, "", ""), unitRow(3, "2", uHas, "", "amzn1.other")},
	} {
		t.Run(name, func(t *testing.T) {
			s := newStage(t, emulator.Options{}, resolver{create: true, strict: true})
			if _, err := s.run(t, rows...); err != nil {
				t.Fatal(err)
			}
			// A mismatch needs the read to be found; even then nothing is written.
			if n := s.profileWrites(); n != 0 {
				t.Errorf("strict with an invalid row: %d profile writes, want none", n)
			}
			if name != "a mismatch found later" && s.emu.Stats().Total != 0 {
				t.Errorf("strict with an invalid row known offline: %d calls, want none", s.emu.Stats().Total)
			}
		})
	}
}

// createCase: units without a profile, created under each reading of the
// batch answer, with the calls it takes.
func TestCreateUnderEachBatchReading(t *testing.T) {
	units := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("amzn1.alexa.unit.did.N%03d", i)] = ""
		}
		return m
	}
	tests := []struct {
		name    string
		opts    emulator.ProfileOptions
		units   int
		batches int // batch calls
		singles int // single creates
	}{
		{"one unit: a single create", emulator.ProfileOptions{}, 1, 0, 1},
		{"results", emulator.ProfileOptions{}, 3, 1, 0},
		{"items", emulator.ProfileOptions{Batch: emulator.BatchItems}, 3, 1, 0},
		{"array", emulator.ProfileOptions{Batch: emulator.BatchArray}, 3, 1, 0},
		{"150 units: two batches", emulator.ProfileOptions{}, 150, 2, 0},
		{"numeric itemIds only: one 400, then numbers", emulator.ProfileOptions{ItemID: "number"}, 150, 3, 0},
		{"string itemIds only", emulator.ProfileOptions{ItemID: "string"}, 150, 2, 0},
		{"flat ids: unreadable, one by one", emulator.ProfileOptions{Batch: emulator.BatchFlat}, 150, 1, 150},
		{"empty answer: one by one", emulator.ProfileOptions{Batch: emulator.BatchEmpty}, 150, 1, 150},
		{"202 Accepted: one by one", emulator.ProfileOptions{Batch: emulator.BatchAsync}, 150, 1, 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Units = units(tt.units)
			s := newStage(t, emulator.Options{Profiles: tt.opts}, resolver{create: true})
			var rows []row
			for i, u := range slices.Sorted(mapsKeys(tt.opts.Units)) {
				rows = append(rows, unitRow(i+2, fmt.Sprint(7000+i), u, fmt.Sprintf("Room %d", i), ""))
			}
			got, err := s.run(t, rows...)
			if err != nil {
				t.Fatal(err)
			}
			have := s.emu.Units()
			for _, r := range rows {
				x := got[r.Key.ID]
				if x.Verdict != reconcile.Valid || x.Want.Resolution != ProfileCreated || x.Want.AmazonID == "" || x.Want.AmazonID != have[r.Want.UnitID] {
					t.Fatalf("%s: %+v %q; emulator has %q", r.Key.ID, x.Want, x.Reason, have[r.Want.UnitID])
				}
			}
			if s.emu.ProfileName(rows[0].Want.UnitID) != "Room 0" {
				t.Errorf("the row's name was not sent")
			}
			if b, c := s.calls("profile.batch"), s.calls("profile.create"); b != tt.batches || c != tt.singles {
				t.Errorf("calls: %d batches and %d single creates, want %d and %d", b, c, tt.batches, tt.singles)
			}
			if r, u := s.calls("profile.by_unit"), s.calls("unit.get"); r != tt.units || u != tt.units {
				t.Errorf("reads: %d of profiles and %d of units, want %d each", r, u, tt.units)
			}
		})
	}
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// A unit that does not exist is told apart from one without a profile by a
// read, so no create is tried for it, on this run or the next: a rerun
// makes reads only.
func TestUnknownUnitGetsNoCreate(t *testing.T) {
	s := newStage(t, emulator.Options{}, resolver{create: true})
	rows := []row{unitRow(2, "1", uNone, "", ""), unitRow(3, "2", uNo, "", ""), unitRow(4, "3", uNone2, "", ""), unitRow(5, "4", uHas, "", "")}
	got, err := s.run(t, rows...)
	if err != nil {
		t.Fatal(err)
	}
	x := got["2"]
	if x.Verdict != reconcile.Failed || x.Status != 404 || x.ErrType != errUnknownUnit || !strings.Contains(x.Reason, "unitId "+uNo+" is not a unit the API knows") {
		t.Errorf("unknown unit: %+v %d %s %q", x.Verdict, x.Status, x.ErrType, x.Reason)
	}
	if got["1"].Want.Resolution != ProfileCreated || got["3"].Want.Resolution != ProfileCreated || got["4"].Want.Resolution != ProfileFound {
		t.Errorf("the others: %+v, %+v, %+v", got["1"].Want, got["3"].Want, got["4"].Want)
	}
	if b, c, u := s.calls("profile.batch"), s.calls("profile.create"), s.calls("unit.get"); b != 1 || c != 0 || u != 3 {
		t.Errorf("calls: %d batches, %d creates, %d unit reads; want 1, 0 and 3 (one per unit without a profile)", b, c, u)
	}

	s.emu.ResetStats()
	again, err := s.run(t, rows...)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.profileWrites(); n != 0 {
		t.Errorf("rerun: %d profile writes, want none: %v", n, s.emu.Stats().Calls)
	}
	if r, u := s.calls("profile.by_unit"), s.calls("unit.get"); r != 4 || u != 1 {
		t.Errorf("rerun reads: %d profile reads, %d unit reads; want 4 and 1", r, u)
	}
	if again["1"].Want.Resolution != ProfileFound || again["1"].Want.AmazonID != got["1"].Want.AmazonID || again["2"].ErrType != errUnknownUnit {
		t.Errorf("rerun: %+v, %+v", again["1"].Want, again["2"])
	}
}

func TestPlanListsProfilesAndCreatesNone(t *testing.T) {
	s := newStage(t, emulator.Options{}, resolver{create: true, dryRun: true})
	got, err := s.run(t, unitRow(2, "1", uNone, "Room 1", ""), unitRow(3, "2", uHas, "", ""), unitRow(4, "3", uNone2, "", ""),
		unitRow(5, "4", uNo, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if x := got["4"]; x.Verdict != reconcile.Failed || x.ErrType != errUnknownUnit {
		t.Errorf("plan with an unknown unit: %+v %s, want it failed as sync would", x.Verdict, x.ErrType)
	}
	for _, id := range []string{"1", "3"} {
		if x := got[id]; x.Verdict != reconcile.Valid || x.Want.Resolution != ProfileToCreate || x.Want.AmazonID != "" {
			t.Errorf("%s: %+v, want a valid row whose profile is to be created", id, x.Want)
		}
	}
	if s.profileWrites() != 0 || s.emu.Units()[uNone] != "" {
		t.Errorf("plan wrote: %+v", s.emu.Stats().Calls)
	}
	if n := s.calls("unit.get"); n != 3 {
		t.Errorf("plan read %d units, want the 3 without a profile", n)
	}
	want := "plan: 2 communication profiles to create, for units that have none:\n  + " + uNone + ` "Room 1"   rooms.csv:2` + "\n  + " + uNone2 + "   rooms.csv:4\n"
	var plan bytes.Buffer
	s.writePlanned(&plan)
	if !strings.Contains(plan.String(), want) {
		t.Errorf("plan output:\n%s\nwant:\n%s", &plan, want)
	}
}

// With the missing profile answered 200 {} instead of 404, the unit still
// has none.
func TestMissingAnsweredEmpty(t *testing.T) {
	s := newStage(t, emulator.Options{Profiles: emulator.ProfileOptions{Missing: "empty"}}, resolver{})
	got, err := s.run(t, unitRow(2, "1", uNone, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if x := got["1"]; x.Verdict != reconcile.Failed || x.ErrType != errNoProfile || x.Status != 200 {
		t.Errorf("got %+v %s %d %q", x.Verdict, x.ErrType, x.Status, x.Reason)
	}
}

func TestResolveThroughFaults(t *testing.T) {
	t.Run("retried", func(t *testing.T) {
		s := newStage(t, emulator.Options{Faults: "503:0.3,429:0.1,reset:0.05,commit500:0.1", Seed: 3},
			resolver{create: true, caller: worker.New(worker.Config{RPS: 10000, MaxAttempts: 20, BaseBackoff: time.Millisecond,
				MaxBackoff: time.Millisecond, MaxRetryAfter: time.Millisecond})})
		var rows []row
		for i := range 4 {
			rows = append(rows, unitRow(2+i, fmt.Sprint(i), []string{uHas, uHas2, uNone, uNone2}[i], "", ""))
		}
		got, err := s.run(t, rows...)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if x := got[r.Key.ID]; x.Verdict != reconcile.Valid || x.Want.AmazonID != s.emu.Units()[r.Want.UnitID] {
				t.Errorf("%s: %+v %q", r.Key.ID, x.Want, x.Reason)
			}
		}
		if s.emu.Stats().Count("profile.by_unit", "503") == 0 {
			t.Errorf("no fault was injected: %v", s.emu.Stats().Calls)
		}
	})
	t.Run("failing", func(t *testing.T) {
		s := newStage(t, emulator.Options{Faults: "500:1"}, resolver{})
		got, err := s.run(t, unitRow(2, "1", uHas, "", ""))
		if err != nil {
			t.Fatal(err)
		}
		if x := got["1"]; x.Verdict != reconcile.Failed || x.Status != 500 || x.ErrType != "INTERNAL_SERVER_ERROR" ||
			!strings.HasPrefix(x.Reason, "reading the unit's communication profile: ") {
			t.Errorf("got %+v %d %s %q", x.Verdict, x.Status, x.ErrType, x.Reason)
		}
		if n := s.calls("profile.by_unit"); n != 3 {
			t.Errorf("attempts: %d, want the pool's 3", n)
		}
	})
}

func TestRefusedCredentialsStopTheRun(t *testing.T) {
	s := newStage(t, emulator.Options{Faults: "403:1"}, resolver{create: true})
	got, err := s.run(t, unitRow(2, "1", uNone, "", ""))
	if !errors.Is(err, worker.ErrAuth) || !strings.Contains(err.Error(), "alexa::enterprise:management") {
		t.Errorf("got %v, want ErrAuth naming the scope", err)
	}
	if x := got["1"]; x.Verdict != reconcile.Valid || x.Want.AmazonID != "" {
		t.Errorf("the row must reach the engine untouched, to be skipped: %+v", x)
	}
	if n := s.calls("profile.by_unit"); n != 1 {
		t.Errorf("reads: %d, want 1 (a 403 is not retried)", n)
	}
}

func TestInterruptedBeforeResolving(t *testing.T) {
	for _, create := range []bool{false, true} {
		t.Run(fmt.Sprint("create=", create), func(t *testing.T) {
			s := newStage(t, emulator.Options{}, resolver{create: create})
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(errors.New("SIGTERM"))
			seq, err := s.prepare(ctx, seq2(unitRow(2, "1", uNone, "", ""), unitRow(3, "2", uHas, "", "")))
			if err == nil || err.Error() != "SIGTERM" {
				t.Errorf("got %v, want the context's cause", err)
			}
			for x := range seq {
				if x.Verdict != reconcile.Valid || x.Want.AmazonID != "" || x.Want.Resolution != "" {
					t.Errorf("row %s: %+v %v %q, want it untouched, for the engine to skip", x.Key.ID, x.Want, x.Verdict, x.Reason)
				}
			}
			if s.emu.Stats().Total != 0 {
				t.Errorf("calls after the interruption: %v", s.emu.Stats().Calls)
			}
		})
	}
}

func TestCreateProfilesRefusedWithSavedPlans(t *testing.T) {
	for _, cfg := range []Options{{CreateProfiles: true, PlanIn: "p.json"}, {CreateProfiles: true, DryRun: true, PlanOut: "p.json"}} {
		if err := checkProfiles(cfg); VerdictOf(err) != Usage {
			t.Errorf("%+v: got %v, want a usage error", cfg, err)
		}
	}
	if err := checkProfiles(Options{CreateProfiles: true, DryRun: true}); err != nil {
		t.Errorf("plan with profile creation: %v", err)
	}
}

func TestDescribeProfile(t *testing.T) {
	for p, want := range map[reconcile.Profile]string{
		{AmazonID: "amzn1.p"}:                  "amzn1.p",
		{AmazonID: "amzn1.p", UnitID: "U"}:     "amzn1.p (unit U)",
		{UnitID: "U", Resolution: "to_create"}: "a new profile for unit U",
	} {
		if got := describeProfile(p); got != want {
			t.Errorf("%+v: got %q, want %q", p, got, want)
		}
	}
}
