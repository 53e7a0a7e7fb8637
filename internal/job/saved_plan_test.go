package job

import (
	"context"
	"errors"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/reconcile"
)

// plan --out, then sync --plan: the plan is applied exactly, under the
// stricter of the guard it records and the one the command line gives (or
// the default): the file is not signed, so its limit may only tighten.

// savePlan runs plan --out over rows against a, under the guard given, and
// returns the plan's path.
func savePlan(t *testing.T, a *api, rows string, maxDeletes string) string {
	t.Helper()
	out := a.path("plan.json")
	var st streams
	res, err := Run(context.Background(), a.session(t, Connect{}), Options{Command: "plan", DryRun: true, Prune: true, MaxDeletes: limit(maxDeletes),
		Input:   Input{Files: []string{a.file(t, "rooms.csv", "externalUserId,amazonId\n"+rows)}, DefaultProvider: demo},
		PlanOut: out, Progress: "off", IO: st.io()})
	if err != nil || res.Verdict != Clean {
		t.Fatalf("plan --out: %d, %v", res.Verdict, err)
	}
	return out
}

// applyPlan runs sync --plan with the flag given ("" none).
func applyPlan(t *testing.T, a *api, plan, maxDeletes string) (Result, error) {
	t.Helper()
	var st streams
	o := Options{Command: "sync", PlanIn: plan, Report: a.path("applied.csv"), Progress: "off", IO: st.io()}
	if maxDeletes != "" {
		o.MaxDeletes = limit(maxDeletes)
	}
	res, err := Run(context.Background(), a.session(t, Connect{}), o)
	if logged := st.events(t, "applying saved plan"); err == nil && len(logged) != 1 {
		t.Errorf("applying a plan logged %d 'applying saved plan' events, want 1", len(logged))
	}
	return res, err
}

func TestSavedPlanAppliedAsReviewed(t *testing.T) {
	start := map[string]string{"7201": "amzn1.old", "7202": "amzn1.same", "7203": "amzn1.gone", "7204": "amzn1.gone2", "7206": "amzn1.same2"}
	rows := "7201,amzn1.new\n7202,amzn1.same\n7205,amzn1.fresh\n7206,amzn1.same2\n"
	want := map[string]string{"7201": "amzn1.new", "7202": "amzn1.same", "7205": "amzn1.fresh", "7206": "amzn1.same2"}
	tests := []struct {
		name string
		// reviewed is the guard the plan was made under; flag the one
		// given to sync --plan ("" none).
		reviewed, flag string
		// shrink removes associations the plan does not touch before it
		// is applied, as other clients may: a share of fewer is fewer.
		shrink  []string
		verdict Verdict
		err     string
	}{
		{name: "under its own guard, given again", reviewed: "-1", flag: "-1", verdict: Clean},
		// An edited plan could say -1: alone, its limit loosens nothing.
		{name: "a loose guard needs its flag again", reviewed: "-1", verdict: Aborted, err: "max-deletes 10%: the plan deletes 2 of the 5"},
		{name: "a flag may tighten the guard", reviewed: "-1", flag: "1", verdict: Aborted, err: "max-deletes 1: the plan deletes 2"},
		{name: "a flag as loose as the plan's", reviewed: "2", flag: "-1", verdict: Clean},
		// 50% of 5 allowed the 2 deletes at review; of the 3 left at apply,
		// only 1 is. A looser flag must not replace the reviewed limit.
		{name: "a looser flag does not loosen the reviewed share", reviewed: "50%", flag: "-1", shrink: []string{"7202", "7206"},
			verdict: Aborted, err: "max-deletes 50%: the plan deletes 2 of the 3"},
		{name: "the reviewed share, with no flag", reviewed: "50%", shrink: []string{"7202", "7206"},
			verdict: Aborted, err: "max-deletes 50% and 10%: the plan deletes 2 of the 3"},
		{name: "the reviewed share, with a stricter flag", reviewed: "50%", flag: "0",
			verdict: Aborted, err: "max-deletes 50% and 0: the plan deletes 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, emulator.Options{})
			a.Put(demo, start)
			plan := savePlan(t, a, rows, tt.reviewed)
			a.Remove(demo, tt.shrink...)
			before := a.Associations(demo)
			a.ResetStats()
			res, err := applyPlan(t, a, plan, tt.flag)
			if res.Verdict != tt.verdict || tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("got %d, %v; want verdict %d and an error saying %q", res.Verdict, err, tt.verdict, tt.err)
			}
			if tt.verdict != Clean {
				if n := a.writes(); n != 0 || !maps.Equal(a.Associations(demo), before) {
					t.Errorf("a refused plan made %d writes", n)
				}
				if !errors.Is(err, reconcile.ErrGuard) || !strings.Contains(res.Summary.Hint, "raise --max-deletes") {
					t.Errorf("error %v, hint %q: want the guard's, with its advice", err, res.Summary.Hint)
				}
				return
			}
			if got := a.Associations(demo); !maps.Equal(got, want) {
				t.Errorf("applied: got %v, want %v", got, want)
			}
			if n := a.writes(); n != 4 {
				t.Errorf("applied with %d writes, want the plan's 4", n)
			}
			if got := fates(readReportFile(t, a.path("applied.csv")), "external_user_id"); got != "7201 updated, 7203 deleted, 7204 deleted, 7205 created" {
				t.Errorf("report of the applied plan: %s", got)
			}
		})
	}
}

func TestSavedPlanRefused(t *testing.T) {
	start := map[string]string{"7201": "amzn1.old"}
	tests := []struct {
		name    string
		prepare func(t *testing.T, a *api, plan string) Options // the sync --plan to run
		verdict Verdict
		err     string
	}{{
		name: "the ids it touches changed since",
		prepare: func(t *testing.T, a *api, plan string) Options {
			a.Put(demo, map[string]string{"7201": "amzn1.someone-else"})
			return Options{PlanIn: plan}
		},
		verdict: Aborted, err: "plan is stale",
	}, {
		name: "given with files",
		prepare: func(t *testing.T, a *api, plan string) Options {
			return Options{PlanIn: plan, Input: Input{Files: []string{a.path("rooms.csv")}}}
		},
		verdict: Usage, err: "a saved plan is applied alone",
	}, {
		name:    "no such plan",
		prepare: func(t *testing.T, a *api, plan string) Options { return Options{PlanIn: a.path("none.json")} },
		verdict: Usage, err: "none.json",
	}, {
		name: "a write no valid row could make",
		prepare: func(t *testing.T, a *api, plan string) Options {
			data, err := os.ReadFile(plan)
			if err != nil {
				t.Fatal(err)
			}
			edited := strings.Replace(string(data), `"amazonId": "amzn1.new"`, `"amazonId": ""`, 1)
			if edited == string(data) {
				t.Fatalf("plan has no amazonId to edit:\n%s", data)
			}
			return Options{PlanIn: writeFile(t, a.dir, "edited.json", edited)}
		},
		verdict: Usage, err: "write 1: amazonId is required",
	}, {
		name:    "no input at all",
		prepare: func(t *testing.T, a *api, plan string) Options { return Options{} },
		verdict: Usage, err: "no FILE given",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, emulator.Options{})
			a.Put(demo, start)
			plan := savePlan(t, a, "7201,amzn1.new\n", "-1")
			o := tt.prepare(t, a, plan)
			var st streams
			o.Command, o.Progress, o.IO = "sync", "off", st.io()
			a.ResetStats()
			res, err := Run(context.Background(), a.session(t, Connect{}), o)
			if res.Verdict != tt.verdict || err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("got %d, %v; want verdict %d and an error saying %q", res.Verdict, err, tt.verdict, tt.err)
			}
			if n := a.writes(); n != 0 {
				t.Errorf("a refused plan made %d writes", n)
			}
			if res.Summary.ExitCode != exitCodes[tt.verdict] || res.Summary.Message == "" {
				t.Errorf("summary: exit code %d, message %q", res.Summary.ExitCode, res.Summary.Message)
			}
		})
	}
}
