package report

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
)

// pushTimeout bounds the push at the end of a run: a Pushgateway that
// hangs must not keep a finished run (and its Job) alive.
const pushTimeout = 30 * time.Second

// RunMetrics is what one run tells Prometheus at its end. Command, Instance
// and Shard name the Pushgateway group, so that each property (and each
// shard of it) keeps its own last success, apart from every other
// property's and from its own plans.
type RunMetrics struct {
	Command  string         // sync, plan, products sync or products plan; spaces become _ in the label
	Instance string         // the property: its providers (or skills), sorted and joined with ",", or --metrics-instance
	Shard    string         // I/N when the run is one shard of several, else empty
	Summary  Summary        // rows, retries, throttled calls, duration, exit code
	Statuses map[string]int // "kind status" -> calls
	// GuardTripped and AuthRefused say why a run stopped before its writes.
	GuardTripped bool
	AuthRefused  bool
	// Success is set for a run whose outcome needs no rerun (exit 0, or 7:
	// only rows no rerun will fix were refused): it sets the last-success
	// timestamp and replaces the group's metrics.
	Success bool
}

// Push sends one run's metrics to the Pushgateway at url, under the group
// job="bulksync", command, instance and (when sharded) shard. A successful
// run replaces the group; any other adds to it, so the last success's
// timestamp, which alerting watches, survives the failures after it.
func Push(url string, m RunMetrics, now time.Time) error {
	command := strings.Join(strings.Fields(m.Command), "_")
	if command == "" {
		return errors.New("push metrics: no command to name the metrics group")
	}
	instance := strings.TrimSpace(m.Instance)
	if instance == "" {
		return errors.New("push metrics: no instance to name the metrics group (the run's providers or --metrics-instance)")
	}
	target, user, err := pushTarget(url)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		reg.MustRegister(g)
		return g
	}
	rows := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bulksync_rows", Help: "Rows of the last run by outcome."}, []string{"outcome"})
	calls := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bulksync_api_calls", Help: "API calls of the last run by kind and answer: 2xx, the HTTP error status, or none (timeout, broken connection)."}, []string{"kind", "status"})
	reg.MustRegister(rows, calls)
	for _, o := range reconcile.Outcomes {
		rows.WithLabelValues(o.String()).Set(float64(m.Summary.Outcomes[o.String()]))
	}
	for k, n := range m.Statuses {
		kind, status, _ := strings.Cut(k, " ")
		calls.WithLabelValues(kind, status).Set(float64(n))
	}
	if len(m.Statuses) == 0 {
		// A run that made no call still says so: a failed run adds to the
		// group, and without a series of this name the calls of the run
		// before would stay and pass for this one's.
		calls.WithLabelValues("", "").Set(0)
	}
	gauge("bulksync_retries", "Retried calls of the last run.").Set(float64(m.Summary.Retries))
	gauge("bulksync_throttled", "Calls of the last run answered 429.").Set(float64(m.Summary.Throttled))
	gauge("bulksync_duration_seconds", "Duration of the last run.").Set(float64(m.Summary.DurationMS) / 1000)
	gauge("bulksync_exit_code", "Exit code of the last run.").Set(float64(m.Summary.ExitCode))
	gauge("bulksync_guard_tripped", "1 if the last run stopped before its writes because a guard tripped.").Set(flag(m.GuardTripped))
	gauge("bulksync_auth_refused", "1 if the last run stopped because the credentials were refused.").Set(flag(m.AuthRefused))
	gauge("bulksync_last_run_timestamp_seconds", "When the last run ended.").Set(unixSeconds(now))
	if m.Success {
		gauge("bulksync_last_success_timestamp_seconds", "When a run last ended with exit 0 or 7.").Set(unixSeconds(now))
	}
	p := push.New(target, "bulksync").Gatherer(reg).
		Client(&http.Client{Timeout: pushTimeout, CheckRedirect: noRedirects}).
		Grouping("command", command).
		Grouping("instance", instance)
	if m.Shard != "" {
		p = p.Grouping("shard", m.Shard)
	}
	if user != nil {
		pass, _ := user.Password()
		p = p.BasicAuth(user.Username(), pass)
	}
	if m.Success {
		err = p.Push()
	} else {
		err = p.Add()
	}
	if err != nil {
		return fmt.Errorf("push metrics to %s: %w", target, err)
	}
	return nil
}

// pushTarget splits the user's Pushgateway URL into the address to push to
// and its credentials, which go in a header: client_golang repeats the URL
// in its errors, and a password must never be printed.
func pushTarget(raw string) (string, *url.Userinfo, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included: keep its reason only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", nil, fmt.Errorf("push metrics: the pushgateway URL is not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", nil, fmt.Errorf("push metrics: the pushgateway URL %s is not an http(s) address", u.Redacted())
	}
	user := u.User
	u.User = nil
	return u.String(), user, nil
}

// noRedirects refuses to follow a redirect: it would carry the basic-auth
// header elsewhere, and a Pushgateway has no reason to send one.
func noRedirects(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}
