package job

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/worker"
)

// Run of products, of rooms named by their units, and the metrics a run
// pushes at its end.

func TestRunProducts(t *testing.T) {
	a := newAPI(t, emulator.Options{})
	kept := a.PutProduct(emulator.DefaultVendor, "kept", false)
	added := a.PutProduct(emulator.DefaultVendor, "added", false)
	gone := a.PutProduct(emulator.DefaultVendor, "gone", false)
	a.Associate("development", kept, s1)
	a.Associate("development", gone, s1)
	a.Associate("live", gone, s1)
	in := a.file(t, "products.csv", "skillId,productId,action\n"+s1+","+kept+",\n"+s1+","+added+",associate\n"+s1+","+p1+",disassociate\n"+s1+",bad,\n")
	// run is a products run over in, pruning, with no delete guard.
	run := func(t *testing.T, o Options) (Result, error) {
		t.Helper()
		var st streams
		o.Products, o.Input, o.Progress, o.IO = true, Input{Files: []string{in}}, "off", st.io()
		o.Prune, o.MaxDeletes = true, limit("-1")
		return Run(context.Background(), a.session(t, Connect{SMAPI: true}), o)
	}

	// plan against live: what a sync would do there; nothing written.
	res, err := run(t, Options{Command: "products plan", Stage: "live", DryRun: true, Report: a.path("live.csv")})
	if err != nil || res.Verdict != Refused {
		t.Fatalf("products plan, live: %d, %v", res.Verdict, err)
	}
	var text strings.Builder
	res.Plan.Write(&text)
	if want := "plan for " + s1 + ": 2 to associate, 1 to disassociate\n"; !strings.Contains(text.String(), want) ||
		!strings.Contains(text.String(), "  + "+added+"   ") || !strings.Contains(text.String(), "  - "+gone+"   (pruned)") {
		t.Errorf("plan:\n%s\nwant %q and its writes", text.String(), want)
	}
	want := []string{"bad invalid INVALID_ROW", p1 + " unchanged", added + " planned", gone + " planned", kept + " planned"}
	slices.Sort(want)
	if got := fates(readReportFile(t, a.path("live.csv")), "product_id"); got != strings.Join(want, ", ") {
		t.Errorf("live plan report: %s", got)
	}

	// sync of development: writes what differs there.
	a.ResetStats()
	res, err = run(t, Options{Command: "products sync", Stage: "development", Report: a.path("dev.csv")})
	if err != nil || res.Verdict != Refused || outcomes(res.Summary.Outcomes) != "created=1 deleted=1 invalid=1 unchanged=2" {
		t.Fatalf("products sync: %d, %v, %v", res.Verdict, outcomes(res.Summary.Outcomes), err)
	}
	rep := readReportFile(t, a.path("dev.csv"))
	for _, r := range rep {
		if r["stage"] != "development" || r["skill_id"] != s1 {
			t.Errorf("report row: %v", r)
		}
	}
	if got := a.ProductSkills("development", added); !slices.Equal(got, []string{s1}) {
		t.Errorf("%s associated with %v, want %s", added, got, s1)
	}
	if got := a.ProductSkills("development", gone); len(got) != 0 {
		t.Errorf("%s still associated with %v", gone, got)
	}
	if got := a.ProductSkills("live", gone); !slices.Equal(got, []string{s1}) {
		t.Errorf("live changed: %v", got)
	}
}

// Rooms named by their Alexa unit: each unit's profile is read once, a
// missing one created when asked; a plan says which it would create.
func TestRunRoomsByUnit(t *testing.T) {
	const in = "extension,unitId,name\n8101,amzn1.alexa.unit.did.HAS1,Room 101\n8102,amzn1.alexa.unit.did.NONE1,Room 102\n8103,amzn1.alexa.unit.did.UNKNOWN,Room 103\n"
	tests := []struct {
		name     string
		create   bool
		dryRun   bool
		fates    string
		profiles int    // created in the emulator
		plan     string // what a plan tells first
	}{
		{name: "sync, creating none", fates: "8101 created, 8102 failed NO_PROFILE, 8103 failed NO_PROFILE"},
		{name: "sync, creating the missing", create: true, fates: "8101 created, 8102 created, 8103 failed UNKNOWN_UNIT", profiles: 1},
		{name: "plan, creating the missing", create: true, dryRun: true, fates: "8101 planned, 8102 planned, 8103 failed UNKNOWN_UNIT",
			plan: "\nplan: 1 communication profiles to create, for units that have none:\n  + amzn1.alexa.unit.did.NONE1 \"Room 102\"   "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, emulator.Options{Profiles: emulator.ProfileOptions{Units: map[string]string{uHas: pHas, uNone: ""}}})
			var st streams
			o := Options{Command: "sync", DryRun: tt.dryRun, CreateProfiles: tt.create, Input: Input{Files: []string{a.file(t, "rooms.csv", in)},
				DefaultProvider: demo}, Report: a.path("report.csv"), Progress: "off", IO: st.io()}
			res, err := Run(context.Background(), a.session(t, Connect{}), o)
			if err != nil || res.Verdict != Refused {
				t.Fatalf("got %d, %v", res.Verdict, err)
			}
			rep := readReportFile(t, o.Report)
			if got := fates(rep, "external_user_id"); got != tt.fates {
				t.Errorf("report: got %s, want %s", got, tt.fates)
			}
			if got := a.Stats().Count("profile.create", "") + a.Stats().Count("profile.batch", ""); (got > 0) != (tt.profiles > 0) {
				t.Errorf("profile creates: %d, want %d profiles", got, tt.profiles)
			}
			if !tt.dryRun {
				return
			}
			var text strings.Builder
			res.Plan.Write(&text)
			if !strings.HasPrefix(text.String(), tt.plan) || !strings.Contains(text.String(), "  + 8102     -> a new profile for unit "+uNone) {
				t.Errorf("plan:\n%s", text.String())
			}
		})
	}
}

// Credentials the profile API refuses stop the run before any association
// call: every row skipped, Aborted, with the scope that is most likely
// missing.
func TestRunRoomsByUnitRefused(t *testing.T) {
	a := newAPI(t, emulator.Options{Profiles: emulator.ProfileOptions{Units: map[string]string{uHas: pHas}}})
	s, err := Open(Connect{Endpoint: a.url, Calls: fastCalls()}, map[string]string{"BULKSYNC_ACCESS_TOKEN": "not-the-token"}, nopLog)
	if err != nil {
		t.Fatal(err)
	}
	var st streams
	res, err := Run(context.Background(), s, Options{Command: "sync", Input: Input{Files: []string{a.file(t, "rooms.csv", "extension,unitId\n8101,"+uHas+"\n")},
		DefaultProvider: demo}, Progress: "off", IO: st.io()})
	if res.Verdict != Aborted || !errors.Is(err, worker.ErrAuth) || !strings.HasPrefix(err.Error(), "reading communication profiles: authentication refused") {
		t.Fatalf("got %d, %v; want the run stopped by refused credentials", res.Verdict, err)
	}
	if outcomes(res.Summary.Outcomes) != "skipped=1" || a.Stats().Count("association.query", "") != 0 {
		t.Errorf("outcomes %v after calls %v", res.Summary.Outcomes, a.Stats().Calls)
	}
}

// pushed is a Pushgateway on loopback that keeps what it was sent.
type pushed struct {
	mu   sync.Mutex
	reqs []string // METHOD PATH
	body string   // of the last push
}

func newPushgateway(t *testing.T) (*pushed, string) {
	t.Helper()
	p := &pushed{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs, p.body = append(p.reqs, r.Method+" "+r.URL.Path), string(b)
		p.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return p, srv.URL
}

// A run pushes its metrics into its property's group: a success replaces
// the group (PUT), anything else adds to it (POST). A run that never got
// to its engine pushes nothing; a push that fails is logged, and the run's
// verdict stays its own.
func TestRunPushesMetrics(t *testing.T) {
	const in = "externalUserId,amazonId\n7201,amzn1.a\n"
	const other = "amzn1.comms.csp.id.other"
	// The shard of two that holds the row.
	shard := reconcile.Shard{Index: 0, Count: 2}
	if !shard.Has(demo, "7201") {
		shard.Index = 1
	}
	tests := []struct {
		name   string
		opts   func(a *api, o *Options)
		faults string // the API's (emulator.Options.Faults)
		// method is the push's ("" none), group its labels.
		method string
		group  []string
	}{
		{name: "a clean run replaces its group", method: "PUT", group: []string{"/command/sync", "/instance/" + demo}},
		{name: "a named property, one shard of two", opts: func(a *api, o *Options) { o.MetricsInstance, o.Shard = "grand-hotel", shard },
			method: "PUT", group: []string{"/command/sync", "/instance/grand-hotel", "/shard@base64/"}},
		{name: "a run with only rows no rerun fixes still replaces it", opts: func(a *api, o *Options) { o.Input.Files[0] = a.file(t, "bad.csv", in+"7202,\n") },
			method: "PUT", group: []string{"/command/sync", "/instance/" + demo}},
		{name: "a run whose rows may pass on a rerun adds to it", faults: "503:1",
			method: "POST", group: []string{"/command/sync", "/instance/" + demo}},
		{name: "a run that never ran pushes nothing", opts: func(a *api, o *Options) { o.Input.Files = nil }},
		{name: "the property is the providers the rows name", opts: func(a *api, o *Options) {
			a.Put(other, map[string]string{})
			o.Input.Files[0] = a.file(t, "two.csv", "serviceProviderId,externalUserId,amazonId\n"+other+",7202,amzn1.b\n"+demo+",7201,amzn1.a\n")
		}, method: "PUT", group: []string{"/command/sync", "/instance/" + demo + "," + other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, emulator.Options{Faults: tt.faults, Seed: 1})
			gw, url := newPushgateway(t)
			var st streams
			o := Options{Command: "sync", Input: Input{Files: []string{a.file(t, "rooms.csv", in)}, DefaultProvider: demo}, Progress: "off",
				Pushgateway: url, IO: st.io()}
			if tt.opts != nil {
				tt.opts(a, &o)
			}
			res, _ := Run(context.Background(), a.session(t, Connect{}), o)
			gw.mu.Lock()
			defer gw.mu.Unlock()
			if tt.method == "" {
				if len(gw.reqs) != 0 || res.Ran {
					t.Errorf("pushed %v after a run that never ran", gw.reqs)
				}
				return
			}
			if len(gw.reqs) != 1 || !strings.HasPrefix(gw.reqs[0], tt.method+" /metrics/job/bulksync/") {
				t.Fatalf("pushes: %v, want one %s", gw.reqs, tt.method)
			}
			for _, label := range tt.group {
				if !strings.Contains(gw.reqs[0], label) {
					t.Errorf("push %s: want %s in its group", gw.reqs[0], label)
				}
			}
			if strings.Count(gw.reqs[0], "/") != 3+2*len(tt.group) {
				t.Errorf("push %s: want exactly the group %v", gw.reqs[0], tt.group)
			}
			if !strings.Contains(gw.body, "bulksync_exit_code") {
				t.Errorf("push without the exit code")
			}
		})
	}
	// A Pushgateway that is not there: logged, and the run is still clean.
	a := newAPI(t, emulator.Options{})
	var st streams
	res, err := Run(context.Background(), a.session(t, Connect{}), Options{Command: "sync", Input: Input{Files: []string{a.file(t, "rooms.csv", in)},
		DefaultProvider: demo}, Progress: "off", Pushgateway: "ftp://nowhere", IO: st.io()})
	if err != nil || res.Verdict != Clean || len(st.events(t, "metrics not pushed")) != 1 {
		t.Errorf("a failed push: %d, %v; log:\n%s", res.Verdict, err, st.log.String())
	}
}
