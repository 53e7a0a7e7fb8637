package report

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report/pushgatewaytest"
)

// run is one pushed run of the tests below.
type run struct {
	command, instance, shard string
	exit                     int
	success                  bool
	at                       time.Time
	statuses                 map[string]int
}

func (r run) metrics() RunMetrics {
	return RunMetrics{
		Command: r.command, Instance: r.instance, Shard: r.shard, Success: r.success,
		Summary:  Summary{Outcomes: map[string]int{"created": 2, "failed": 1}, Retries: 3, Throttled: 4, DurationMS: 1500, ExitCode: r.exit},
		Statuses: r.statuses,
	}
}

// value finds the one series of name whose labels include want.
func value(t *testing.T, all []pushgatewaytest.Series, name string, want map[string]string) (float64, bool) {
	t.Helper()
	var found []pushgatewaytest.Series
	for _, s := range all {
		if s.Name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.Labels[k] != v {
				match = false
			}
		}
		if match {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return 0, false
	case 1:
		return found[0].Value, true
	}
	t.Fatalf("%d series %s%v, want one: %v", len(found), name, want, found)
	return 0, false
}

func TestPushKeepsOneGroupPerPropertyAndCommand(t *testing.T) {
	pg := pushgatewaytest.Start(t)
	day := time.Date(2026, 12, 2, 3, 30, 0, 0, time.UTC)
	calls := map[string]int{"query 2xx": 4, "create 2xx": 120, "create 429": 4}
	runs := []run{
		{"sync", "amzn1.comms.csp.id.a", "", 0, true, day, calls},
		{"sync", "amzn1.comms.csp.id.b", "", 7, true, day.Add(time.Minute), calls},
		{"plan", "amzn1.comms.csp.id.a", "", 0, true, day.Add(2 * time.Minute), map[string]int{"query 2xx": 4}},
		{"products sync", "amzn1.ask.skill.x", "", 0, true, day.Add(3 * time.Minute), calls},
		{"sync", "estate", "0/2", 0, true, day.Add(4 * time.Minute), calls},
		{"sync", "estate", "1/2", 0, true, day.Add(5 * time.Minute), calls},
		// The next night: a fails, and the plan run after it must not
		// hide that a's last success is a day old.
		{"sync", "amzn1.comms.csp.id.a", "", 1, false, day.Add(24 * time.Hour), map[string]int{"query 503": 9}},
		{"plan", "amzn1.comms.csp.id.a", "", 0, true, day.Add(25 * time.Hour), map[string]int{"query 2xx": 4}},
		{"sync", "estate", "1/2", 3, false, day.Add(26 * time.Hour), nil},
	}
	for _, r := range runs {
		if err := Push(pg, r.metrics(), r.at); err != nil {
			t.Fatalf("push %+v: %v", r, err)
		}
	}
	got := pushgatewaytest.Scrape(t, pg, "bulksync_")
	tests := []struct {
		group       map[string]string
		lastSuccess time.Time
		lastRun     time.Time
		exit        float64
	}{
		{map[string]string{"command": "sync", "instance": "amzn1.comms.csp.id.a", "shard": ""}, day, day.Add(24 * time.Hour), 1},
		{map[string]string{"command": "sync", "instance": "amzn1.comms.csp.id.b", "shard": ""}, day.Add(time.Minute), day.Add(time.Minute), 7},
		{map[string]string{"command": "plan", "instance": "amzn1.comms.csp.id.a", "shard": ""}, day.Add(25 * time.Hour), day.Add(25 * time.Hour), 0},
		{map[string]string{"command": "products_sync", "instance": "amzn1.ask.skill.x", "shard": ""}, day.Add(3 * time.Minute), day.Add(3 * time.Minute), 0},
		{map[string]string{"command": "sync", "instance": "estate", "shard": "0/2"}, day.Add(4 * time.Minute), day.Add(4 * time.Minute), 0},
		{map[string]string{"command": "sync", "instance": "estate", "shard": "1/2"}, day.Add(5 * time.Minute), day.Add(26 * time.Hour), 3},
	}
	for _, tt := range tests {
		t.Run(tt.group["command"]+"/"+tt.group["instance"]+"/"+tt.group["shard"], func(t *testing.T) {
			group := maps.Clone(tt.group)
			group["job"] = "bulksync"
			for name, want := range map[string]float64{
				"bulksync_last_success_timestamp_seconds": float64(tt.lastSuccess.Unix()),
				"bulksync_last_run_timestamp_seconds":     float64(tt.lastRun.Unix()),
				"bulksync_exit_code":                      tt.exit,
			} {
				got, ok := value(t, got, name, group)
				if !ok || got != want {
					t.Errorf("%s = %v (found %v), want %v", name, got, ok, want)
				}
			}
		})
	}
	a := map[string]string{"job": "bulksync", "command": "sync", "instance": "amzn1.comms.csp.id.a", "shard": ""}
	// The failed run's figures replaced the success's, not joined them.
	if _, ok := value(t, got, "bulksync_api_calls", with(a, "kind", "create")); ok {
		t.Errorf("the failed run kept the calls of the run before it")
	}
	if v, _ := value(t, got, "bulksync_api_calls", with(a, "kind", "query", "status", "503")); v != 9 {
		t.Errorf("query 503 calls = %v, want 9", v)
	}
	// A failed run with no call says so instead of keeping the calls before.
	shard := map[string]string{"job": "bulksync", "command": "sync", "instance": "estate", "shard": "1/2"}
	if _, ok := value(t, got, "bulksync_api_calls", with(shard, "kind", "create")); ok {
		t.Errorf("a run with no call kept the calls of the run before it")
	}
	if v, ok := value(t, got, "bulksync_api_calls", with(shard, "kind", "", "status", "")); !ok || v != 0 {
		t.Errorf("a run with no call: bulksync_api_calls{kind=\"\"} = %v (found %v), want 0", v, ok)
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestPushSendsEveryGauge(t *testing.T) {
	pg := pushgatewaytest.Start(t)
	at := time.Date(2026, 12, 2, 3, 30, 0, 0, time.UTC)
	m := RunMetrics{Command: "sync", Instance: "amzn1.comms.csp.id.a", GuardTripped: true, AuthRefused: false,
		Summary:  Summary{Outcomes: map[string]int{"created": 2}, Retries: 3, Throttled: 4, DurationMS: 1500, ExitCode: 3},
		Statuses: map[string]int{"query 2xx": 4, "list 429": 4, "query none": 1}}
	if err := Push(pg, m, at); err != nil {
		t.Fatal(err)
	}
	got := pushgatewaytest.Scrape(t, pg, "bulksync_")
	group := map[string]string{"job": "bulksync", "command": "sync", "instance": "amzn1.comms.csp.id.a"}
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bulksync_rows", []string{"outcome", "created"}, 2},
		{"bulksync_rows", []string{"outcome", "skipped"}, 0}, // zeros are pushed too
		{"bulksync_rows", []string{"outcome", "planned"}, 0},
		{"bulksync_api_calls", []string{"kind", "query", "status", "2xx"}, 4},
		{"bulksync_api_calls", []string{"kind", "list", "status", "429"}, 4},
		{"bulksync_api_calls", []string{"kind", "query", "status", "none"}, 1},
		{"bulksync_retries", nil, 3},
		{"bulksync_throttled", nil, 4},
		{"bulksync_duration_seconds", nil, 1.5},
		{"bulksync_exit_code", nil, 3},
		{"bulksync_guard_tripped", nil, 1},
		{"bulksync_auth_refused", nil, 0},
		{"bulksync_last_run_timestamp_seconds", nil, float64(at.Unix())},
	}
	for _, tt := range tests {
		v, ok := value(t, got, tt.name, with(group, tt.labels...))
		if !ok || v != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, v, ok, tt.want)
		}
	}
	for _, o := range reconcile.Outcomes {
		if _, ok := value(t, got, "bulksync_rows", with(group, "outcome", o.String())); !ok {
			t.Errorf("bulksync_rows{outcome=%q} not pushed", o)
		}
	}
	if _, ok := value(t, got, "bulksync_last_success_timestamp_seconds", group); ok {
		t.Errorf("a run that did not succeed set the last-success timestamp")
	}
}

func TestPushRefusesARunWithoutItsGroup(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer srv.Close()
	tests := []struct {
		name    string
		m       RunMetrics
		wantErr string
	}{
		{"no instance", RunMetrics{Command: "sync"}, "no instance"},
		{"blank instance", RunMetrics{Command: "sync", Instance: "  "}, "no instance"},
		{"no command", RunMetrics{Instance: "a"}, "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Push(srv.URL, tt.m, time.Unix(0, 0))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

func TestPushNeverPrintsThePassword(t *testing.T) {
	const password = "s3cr3t-pushgateway-password"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string
	}{
		{"refused", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusBadRequest) }, "400"},
		{"redirected", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusTemporaryRedirect)
		}, "307"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := make(chan [2]string, 10)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				user, pass, _ := r.BasicAuth()
				auth <- [2]string{user, pass}
				tt.handler(w, r)
			}))
			defer srv.Close()
			url := strings.Replace(srv.URL, "http://", "http://ops:"+password+"@", 1)
			err := Push(url, RunMetrics{Command: "sync", Instance: "a"}, time.Unix(0, 0))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error saying %s", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("the error prints the password: %v", err)
			}
			srv.Close() // every handler has returned: auth holds every request
			if n := len(auth); n != 1 {
				t.Fatalf("%d requests, want 1 (no redirect followed)", n)
			}
			if got := <-auth; got != [2]string{"ops", password} {
				t.Errorf("basic auth %q, want the URL's user and password", got)
			}
		})
	}
	if err := Push("http://ops:"+password+"@[::1", RunMetrics{Command: "sync", Instance: "a"}, time.Unix(0, 0)); err == nil || strings.Contains(err.Error(), password) {
		t.Errorf("a URL that does not parse: got %v, want an error without the password", err)
	}
}
