// Package monitoring checks the sample alert rules and dashboard: promtool
// runs the rules' unit tests, and every metric and label they name must be
// one that bulksync really pushes to a real Pushgateway.
package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/report/pushgatewaytest"
)

const (
	rulesFile     = "bulksync-rules.yaml"
	rulesTest     = "bulksync-rules.test.yaml"
	configFile    = "prometheus.yaml"
	dashboardFile = "bulksync-dashboard.json"
)

// promtool finds Debian's promtool (package prometheus), which
// .ci/deploy-tools.sh installs.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("BULKSYNC_CI") == "1" {
			t.Fatalf("promtool not found (.ci/deploy-tools.sh installs Debian's prometheus): %v", err)
		}
		t.Skipf("promtool not found (.ci/deploy-tools.sh installs Debian's prometheus): %v", err)
	}
	return path
}

func TestPromtool(t *testing.T) {
	bin := promtool(t)
	tests := [][]string{
		{"check", "rules", rulesFile},
		{"test", "rules", rulesTest},
		{"check", "config", configFile},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

// pushed is what a real Pushgateway exposes after bulksync's pushes: for
// each metric, its label names and the values seen for each, never empty.
type pushed map[string]map[string][]string

// pushRuns pushes runs of every command through report.Push and reads back
// what Prometheus would scrape.
func pushRuns(t *testing.T) pushed {
	t.Helper()
	pg := pushgatewaytest.Start(t)
	at := time.Date(2026, 12, 2, 3, 30, 0, 0, time.UTC)
	var counts reconcile.Counts
	counts[reconcile.Created], counts[reconcile.Unchanged], counts[reconcile.Invalid] = 4, 110, 1
	calls := map[string]int{"query": 4, "create": 5}
	statuses := map[string]int{"query 2xx": 4, "create 2xx": 4, "create 429": 1}
	sum := report.NewSummary("sync", counts, calls, statuses, 1, 1, 90*time.Second)
	runs := []report.RunMetrics{
		{Command: "sync", Instance: "amzn1.comms.csp.id.grandhotel", Shard: "0/2", Success: true},
		{Command: "sync", Instance: "amzn1.comms.csp.id.seaview", GuardTripped: true},
		{Command: "plan", Instance: "amzn1.comms.csp.id.grandhotel", Success: true},
		{Command: "products sync", Instance: "amzn1.ask.skill.a,amzn1.ask.skill.b", Success: true},
		{Command: "products plan", Instance: "amzn1.ask.skill.a", AuthRefused: true},
	}
	for _, m := range runs {
		m.Summary, m.Statuses = sum, statuses
		m.Summary.Command = m.Command
		if err := report.Push(pg, m, at); err != nil {
			t.Fatalf("push %s %s: %v", m.Command, m.Instance, err)
		}
	}
	got := pushed{}
	for _, s := range pushgatewaytest.Scrape(t, pg, "bulksync_") {
		if got[s.Name] == nil {
			got[s.Name] = map[string][]string{}
		}
		for k, v := range s.Labels {
			// The Pushgateway shows a label no push gave (instance) as
			// empty: count only what was pushed.
			if v != "" && !slices.Contains(got[s.Name][k], v) {
				got[s.Name][k] = append(got[s.Name][k], v)
			}
		}
	}
	return got
}

var (
	metricName = regexp.MustCompile(`\bbulksync_[a-z0-9_]+\b`)
	// selector is a metric with its label matchers.
	selector = regexp.MustCompile(`\b(bulksync_[a-z0-9_]+)\s*\{([^}]*)\}`)
	matcher  = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*$`)
	// grouping is a by/on/without/ignoring label list.
	grouping = regexp.MustCompile(`\b(?:by|on|without|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	// labelValues is Grafana's label_values(metric..., label).
	labelValues = regexp.MustCompile(`label_values\(\s*(bulksync_[a-z0-9_]+)[^,]*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
	// plainValues is a matcher value made of literal names only.
	plainValues = regexp.MustCompile(`^[a-z0-9_]+(\|[a-z0-9_]+)*$`)
)

// problems lists every metric, label and label value that query names and
// the push did not bring, and returns the metrics the query names.
func (p pushed) problems(query string) (names, problems []string) {
	names = metricName.FindAllString(query, -1)
	for _, n := range names {
		if p[n] == nil {
			problems = append(problems, fmt.Sprintf("%s is not pushed", n))
		}
	}
	for _, m := range selector.FindAllStringSubmatch(query, -1) {
		labels := p[m[1]]
		for _, part := range strings.Split(m[2], ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			mm := matcher.FindStringSubmatch(part)
			if mm == nil {
				problems = append(problems, fmt.Sprintf("matcher %q of %s not understood", part, m[1]))
				continue
			}
			values, ok := labels[mm[1]]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s is not pushed with a label %s", m[1], mm[1]))
				continue
			}
			if (mm[2] == "=" || mm[2] == "=~") && plainValues.MatchString(mm[3]) {
				for _, v := range strings.Split(mm[3], "|") {
					if !slices.Contains(values, v) {
						problems = append(problems, fmt.Sprintf("%s{%s=%q}: pushed only as %q", m[1], mm[1], v, values))
					}
				}
			}
		}
	}
	all := map[string]bool{}
	for _, labels := range p {
		for l := range labels {
			all[l] = true
		}
	}
	for _, m := range grouping.FindAllStringSubmatch(query, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !all[l] {
				problems = append(problems, fmt.Sprintf("groups by %s, a label never pushed", l))
			}
		}
	}
	for _, m := range labelValues.FindAllStringSubmatch(query, -1) {
		if _, ok := p[m[1]][m[2]]; !ok {
			problems = append(problems, fmt.Sprintf("label_values of %s by %s, a label it is not pushed with", m[1], m[2]))
		}
	}
	return names, problems
}

// check fails the test for every problem of query, and for a query that
// names no bulksync metric at all.
func (p pushed) check(t *testing.T, where, query string) {
	t.Helper()
	names, problems := p.problems(query)
	for _, pr := range problems {
		t.Errorf("%s: %s", where, pr)
	}
	if len(names) == 0 {
		t.Errorf("%s: %q names no bulksync metric", where, query)
	}
}

func TestRulesNameOnlyPushedMetrics(t *testing.T) {
	p := pushRuns(t)
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	// The whole file, comments and annotations too: a name a person reads
	// there must be one they can look up.
	p.check(t, rulesFile, string(data))
}

func TestDashboardNamesOnlyPushedMetrics(t *testing.T) {
	p := pushRuns(t)
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if len(dash.Panels) == 0 {
		t.Fatalf("%s has no panels", dashboardFile)
	}
	for _, panel := range dash.Panels {
		if len(panel.Targets) == 0 {
			t.Errorf("panel %q has no query", panel.Title)
		}
		for _, q := range panel.Targets {
			p.check(t, "panel "+panel.Title, q.Expr)
		}
	}
	vars := map[string]bool{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		// Grafana stores a variable's query as a string or as {"query": ...}.
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q.Query); err != nil {
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Fatalf("variable %s: query %s: %v", v.Name, v.Query, err)
			}
		}
		p.check(t, "variable "+v.Name, q.Query)
	}
	if !vars["instance"] {
		t.Errorf("%s has no instance variable to choose the property", dashboardFile)
	}
}

// TestCheckCatchesARenamedMetric proves the checks above can fail.
func TestCheckCatchesARenamedMetric(t *testing.T) {
	p := pushed{"bulksync_rows": {"job": {"bulksync"}, "outcome": {"created", "invalid"}}}
	tests := []struct {
		name, query string
		fails       bool
	}{
		{"as pushed", `sum by (job) (bulksync_rows{job="bulksync", outcome=~"invalid|created"})`, false},
		{"a pattern's values are not checked", `bulksync_rows{outcome=~".+", job="bulksync"}`, false},
		{"a variable over a pushed label", `label_values(bulksync_rows{job="bulksync"}, outcome)`, false},
		{"a renamed metric", `bulksync_row{job="bulksync"}`, true},
		{"a renamed label", `bulksync_rows{result="invalid"}`, true},
		{"a value never pushed", `bulksync_rows{outcome=~"invalid|refused"}`, true},
		{"a grouping label never pushed", `sum by (property) (bulksync_rows)`, true},
		{"a variable over a label never pushed", `label_values(bulksync_rows{job="bulksync"}, property)`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, problems := p.problems(tt.query)
			if got := len(problems) > 0; got != tt.fails {
				t.Errorf("%s: problems %q, want some: %v", tt.query, problems, tt.fails)
			}
		})
	}
}
