package job

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/reconcile"
)

// Run of rooms against the emulator, as a user runs sync and plan: what the
// API holds after it, the report's rows, the Result's verdict and summary,
// and the advice that comes with an early end.

func limit(s string) *reconcile.Limit {
	l, err := reconcile.ParseLimit(s)
	if err != nil {
		panic(err)
	}
	return &l
}

func TestSyncRooms(t *testing.T) {
	const header = "externalUserId,amazonId,action\n"
	tests := []struct {
		name    string
		start   map[string]string
		input   string
		opts    func(*Options)
		verdict Verdict
		blank   int // rows skipped because every field was empty
		// outcomes is the summary's; fates the report's, sorted.
		outcomes, fates string
		after           map[string]string // the provider's associations after the run
		err, hint       string            // what the error and the hint say, if the run ended early
	}{{
		name:     "creates, updates and leaves alone",
		start:    map[string]string{"7202": "amzn1.old", "7203": "amzn1.same"},
		input:    "7201,amzn1.a,\n7202,amzn1.b,\n,,\n7203,amzn1.same,\n , ,\n",
		verdict:  Clean,
		blank:    2,
		outcomes: "created=1 unchanged=1 updated=1",
		fates:    "7201 created, 7202 updated, 7203 unchanged",
		after:    map[string]string{"7201": "amzn1.a", "7202": "amzn1.b", "7203": "amzn1.same"},
	}, {
		name:     "a delete row deletes, and one of nothing is unchanged",
		start:    map[string]string{"7201": "amzn1.a", "7202": "amzn1.b"},
		input:    "7201,,delete\n7202,amzn1.b,\n7209,,delete\n",
		opts:     func(o *Options) { o.MaxDeletes = limit("1") },
		verdict:  Clean,
		outcomes: "deleted=1 unchanged=2",
		fates:    "7201 deleted, 7202 unchanged, 7209 unchanged",
		after:    map[string]string{"7202": "amzn1.b"},
	}, {
		name:     "prune deletes what no row names",
		start:    map[string]string{"7201": "amzn1.a", "7209": "amzn1.z"},
		input:    "7201,amzn1.a,\n",
		opts:     func(o *Options) { o.Prune, o.MaxDeletes = true, limit("-1") },
		verdict:  Clean,
		outcomes: "deleted=1 unchanged=1",
		fates:    "7201 unchanged, 7209 deleted",
		after:    map[string]string{"7201": "amzn1.a"},
	}, {
		name:     "the guard stops a prune before its first write",
		start:    map[string]string{"7201": "amzn1.a", "7208": "amzn1.y", "7209": "amzn1.z"},
		input:    "7201,amzn1.b,\n",
		opts:     func(o *Options) { o.Prune = true },
		verdict:  Aborted,
		outcomes: "skipped=3",
		fates:    "7201 skipped SKIPPED, 7208 skipped SKIPPED, 7209 skipped SKIPPED",
		after:    map[string]string{"7201": "amzn1.a", "7208": "amzn1.y", "7209": "amzn1.z"},
		err:      "max-deletes 10%",
		hint:     "raise --max-deletes",
	}, {
		name:     "a bad row is reported and the others run",
		input:    "7201,amzn1.a,\n7202,,\n7203,amzn1.c,\n7203,amzn1.c,\n",
		verdict:  Refused,
		outcomes: "created=2 duplicate=1 invalid=1",
		fates:    "7201 created, 7202 invalid INVALID_ROW, 7203 created, 7203 duplicate DUPLICATE",
		after:    map[string]string{"7201": "amzn1.a", "7203": "amzn1.c"},
	}, {
		name:     "strict: a bad row stops the run before any call",
		input:    "7201,amzn1.a,\n7202,,\n",
		opts:     func(o *Options) { o.Strict = true },
		verdict:  Usage,
		outcomes: "invalid=1 skipped=1",
		fates:    "7201 skipped SKIPPED, 7202 invalid INVALID_ROW",
		after:    map[string]string{},
		err:      "strict mode: 1 invalid row; nothing was sent",
		hint:     "--strict is set",
	}, {
		name:     "an export with no valid row wipes nothing",
		start:    map[string]string{"7201": "amzn1.a"},
		input:    "",
		opts:     func(o *Options) { o.Prune, o.MaxDeletes = true, limit("-1") },
		verdict:  Aborted,
		outcomes: "",
		after:    map[string]string{"7201": "amzn1.a"},
		err:      "input has no valid row",
		hint:     "--allow-empty",
	}, {
		name:     "an empty export, allowed",
		start:    map[string]string{"7201": "amzn1.a"},
		input:    "",
		opts:     func(o *Options) { o.AllowEmpty = true },
		verdict:  Clean,
		outcomes: "",
		after:    map[string]string{"7201": "amzn1.a"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, emulator.Options{})
			a.Put(demo, tt.start)
			var st streams
			o := Options{Command: "sync", Input: Input{Files: []string{a.file(t, "rooms.csv", header+tt.input)}, DefaultProvider: demo},
				Report: a.path("report.csv"), Progress: "off", IO: st.io()}
			if tt.opts != nil {
				tt.opts(&o)
			}
			res, err := Run(context.Background(), a.session(t, Connect{}), o)
			if res.Verdict != tt.verdict {
				t.Errorf("verdict: got %d, want %d (%v)", res.Verdict, tt.verdict, err)
			}
			if got := outcomes(res.Summary.Outcomes); got != tt.outcomes {
				t.Errorf("summary outcomes: got %q, want %q", got, tt.outcomes)
			}
			if got, want := res.Summary.ExitCode, exitCodes[tt.verdict]; got != want {
				t.Errorf("summary exit code: got %d, want %d", got, want)
			}
			if res.Summary.BlankRows != tt.blank {
				t.Errorf("summary blank rows: got %d, want %d", res.Summary.BlankRows, tt.blank)
			}
			if got := fates(readReportFile(t, o.Report), "external_user_id"); got != tt.fates {
				t.Errorf("report:\n got %s\nwant %s", got, tt.fates)
			}
			if got := a.Associations(demo); !maps.Equal(got, tt.after) {
				t.Errorf("associations after: got %v, want %v", got, tt.after)
			}
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error: got %v, want %q", err, tt.err)
			}
			if tt.err != "" && res.Summary.Message != err.Error() {
				t.Errorf("summary message: got %q, want the error %q", res.Summary.Message, err)
			}
			if !strings.Contains(res.Summary.Hint, tt.hint) || tt.hint == "" && res.Summary.Hint != "" {
				t.Errorf("hint: got %q, want %q", res.Summary.Hint, tt.hint)
			}
			if !res.Ran || res.Summary.Command != "sync" || res.Summary.Report != o.Report || res.Plan != nil {
				t.Errorf("result: ran %v, command %q, report %q, plan %v; want a sync that ran, told with its report and no plan",
					res.Ran, res.Summary.Command, res.Summary.Report, res.Plan)
			}
		})
	}
}

// A second run over the same file makes no write: queries only.
func TestSyncTwiceWritesOnce(t *testing.T) {
	a := newAPI(t, emulator.Options{})
	in := a.file(t, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n")
	for i, want := range []string{"created=2", "unchanged=2"} {
		a.ResetStats()
		var st streams
		res, err := Run(context.Background(), a.session(t, Connect{}), Options{Command: "sync", Input: Input{Files: []string{in}, DefaultProvider: demo},
			Report: a.path("report.csv"), Progress: "off", IO: st.io()})
		if err != nil || res.Verdict != Clean || outcomes(res.Summary.Outcomes) != want {
			t.Fatalf("run %d: %v %v %v, want %s", i+1, res.Verdict, outcomes(res.Summary.Outcomes), err, want)
		}
		wantWrites := map[int]int{0: 2, 1: 0}[i]
		if got := a.writes(); got != wantWrites {
			t.Errorf("run %d: %d writes, want %d", i+1, got, wantWrites)
		}
		if got := res.Summary.Calls["query"]; got != 1 {
			t.Errorf("run %d: summary calls %v, want 1 query", i+1, res.Summary.Calls)
		}
	}
}

// Sessions opened with --emulate run against their own emulator, whose
// demo provider takes the rows that name none.
func TestRunEmulated(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	for i, want := range []string{"created=1", "unchanged=1"} {
		s, err := Open(Connect{Emulate: true, EmulateState: dir + "/emulator.json", Calls: fastCalls()}, nil, nopLog)
		if err != nil {
			t.Fatal(err)
		}
		var st streams
		res, err := Run(context.Background(), s, Options{Command: "sync", Input: Input{Files: []string{in}}, Progress: "off", IO: st.io()})
		s.Close() // saves the state: the second run sees the first
		if err != nil || outcomes(res.Summary.Outcomes) != want {
			t.Errorf("run %d: %v, %v; want %s", i+1, outcomes(res.Summary.Outcomes), err, want)
		}
	}
}

func TestPlanRooms(t *testing.T) {
	start := map[string]string{"7202": "amzn1.old", "7203": "amzn1.same", "7209": "amzn1.gone"}
	var creates strings.Builder
	for i := range 7 {
		fmt.Fprintf(&creates, "81%02d,amzn1.n%d\n", i, i)
	}
	tests := []struct {
		name    string
		input   string
		opts    func(*Options)
		verdict Verdict
		text    []string // what the plan tells people, in order
		events  string   // the plan events, as provider and counts
	}{{
		name:    "a plan of each kind of write",
		input:   "7201,amzn1.a\n7202,amzn1.b\n7203,amzn1.same\n",
		opts:    func(o *Options) { o.Prune, o.MaxDeletes = true, limit("-1") },
		verdict: Clean,
		text: []string{"plan for " + demo + ": 1 to create, 1 to update, 1 to delete\n",
			"  + 7201     -> amzn1.a   ", "rooms.csv:2\n",
			"  ~ 7202     amzn1.old -> amzn1.b   ", "rooms.csv:3\n",
			"  - 7209     (was amzn1.gone)   (pruned)\n"},
		events: demo + " create=1 update=1 delete=1",
	}, {
		name:    "changes to make, with --detailed-exitcode",
		input:   "7201,amzn1.a\n",
		opts:    func(o *Options) { o.DetailedChanges = true },
		verdict: Changes,
		text:    []string{"plan for " + demo + ": 1 to create, 0 to update, 0 to delete\n"},
		events:  demo + " create=1 update=0 delete=0",
	}, {
		name:    "the first few writes of a kind, and how many more",
		input:   creates.String(),
		verdict: Clean,
		text:    []string{"7 to create", "  + 8100 ", "  + 8104 ", "    … and 2 more\n"},
		events:  demo + " create=7 update=0 delete=0",
	}, {
		name:    "no changes",
		input:   "7202,amzn1.old\n",
		opts:    func(o *Options) { o.DetailedChanges = true },
		verdict: Clean,
		text:    []string{"plan: no changes; the API already matches the files"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, emulator.Options{})
			a.Put(demo, start)
			var st streams
			o := Options{Command: "plan", DryRun: true, Input: Input{Files: []string{a.file(t, "rooms.csv", "externalUserId,amazonId\n"+tt.input)},
				DefaultProvider: demo}, Report: a.path("report.csv"), Progress: "off", IO: st.io()}
			if tt.opts != nil {
				tt.opts(&o)
			}
			res, err := Run(context.Background(), a.session(t, Connect{}), o)
			if err != nil || res.Verdict != tt.verdict {
				t.Fatalf("got %d, %v; want verdict %d", res.Verdict, err, tt.verdict)
			}
			if n := a.writes(); n != 0 || !maps.Equal(a.Associations(demo), start) {
				t.Errorf("a plan made %d writes", n)
			}
			if res.Plan == nil {
				t.Fatal("a dry run without a plan to tell")
			}
			var text strings.Builder
			res.Plan.Write(&text)
			rest := text.String()
			for _, want := range tt.text {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("plan text lacks %q (in order):\n%s", want, text.String())
				}
				rest = rest[i+len(want):]
			}
			var st2 streams
			res.Plan.Log(st2.io().Log)
			var got []string
			for _, ev := range st2.events(t, "plan") {
				got = append(got, fmt.Sprintf("%v create=%v update=%v delete=%v", ev["provider"], ev["create"], ev["update"], ev["delete"]))
			}
			if tt.events == "" {
				if len(st2.events(t, "plan: no changes")) != 1 {
					t.Errorf("plan events: %s, want one saying no changes", st2.log.String())
				}
			} else if strings.Join(got, "; ") != tt.events {
				t.Errorf("plan events: got %q, want %q", got, tt.events)
			}
			for _, r := range readReportFile(t, o.Report) {
				if r["outcome"] != "planned" && r["outcome"] != "unchanged" {
					t.Errorf("a plan's report row: %v, want planned or unchanged", r)
				}
			}
		})
	}
}

// A dry run whose guard would trip says so and ends Aborted, with the
// plan it would have stopped.
func TestPlanTellsATrippedGuard(t *testing.T) {
	a := newAPI(t, emulator.Options{})
	a.Put(demo, map[string]string{"7201": "amzn1.a", "7209": "amzn1.z"})
	var st streams
	res, err := Run(context.Background(), a.session(t, Connect{}), Options{Command: "plan", DryRun: true, Prune: true, MaxDeletes: limit("0"),
		Input:    Input{Files: []string{a.file(t, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")}, DefaultProvider: demo},
		Progress: "off", IO: st.io()})
	var ge *reconcile.GuardError
	if res.Verdict != Aborted || !errors.As(err, &ge) || !strings.Contains(err.Error(), "a sync would stop before its first write") {
		t.Errorf("got %d, %v; want Aborted by the guard", res.Verdict, err)
	}
	if res.Summary.Report != "" {
		t.Errorf("summary report: %q, want none (no --report)", res.Summary.Report)
	}
}
