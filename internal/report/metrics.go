package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
)

// RunMetrics is what a batch job tells Prometheus at its end.
type RunMetrics struct {
	Summary  Summary
	Statuses map[string]int // "kind status" -> calls
	Shard    string         // grouping label, so shards don't overwrite each other
	Success  bool           // exit 0: also sets the last-success timestamp
}

// Push sends the run's metrics to a Pushgateway. A successful run replaces
// the group's metrics; a failed one adds to them, keeping the timestamp of
// the last success that alerting watches.
func Push(url string, m RunMetrics, now time.Time) error {
	reg := prometheus.NewRegistry()
	rows := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bulksync_rows", Help: "Rows of the last run by outcome."}, []string{"outcome"})
	calls := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bulksync_api_calls", Help: "API calls of the last run by kind and answer: 2xx, the HTTP error status, or none (timeout, broken connection)."}, []string{"kind", "status"})
	retries := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulksync_retries", Help: "Retried calls of the last run."})
	throttled := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulksync_throttled", Help: "Calls of the last run answered 429."})
	duration := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulksync_duration_seconds", Help: "Duration of the last run."})
	exit := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulksync_exit_code", Help: "Exit code of the last run."})
	last := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulksync_last_success_timestamp_seconds", Help: "When a run last ended with exit 0."})
	reg.MustRegister(rows, calls, retries, throttled, duration, exit)
	for _, o := range reconcile.Outcomes {
		rows.WithLabelValues(o.String()).Set(float64(m.Summary.Outcomes[o.String()]))
	}
	for k, n := range m.Statuses {
		kind, status, _ := strings.Cut(k, " ")
		calls.WithLabelValues(kind, status).Set(float64(n))
	}
	retries.Set(float64(m.Summary.Retries))
	throttled.Set(float64(m.Summary.Throttled))
	duration.Set(float64(m.Summary.DurationMS) / 1000)
	exit.Set(float64(m.Summary.ExitCode))
	p := push.New(url, "bulksync").Gatherer(reg)
	if m.Shard != "" {
		p = p.Grouping("shard", m.Shard)
	}
	var err error
	if m.Success {
		reg.MustRegister(last)
		last.Set(float64(now.Unix()))
		err = p.Push()
	} else {
		err = p.Add()
	}
	if err != nil {
		return fmt.Errorf("push metrics to %s: %w", url, err)
	}
	return nil
}
