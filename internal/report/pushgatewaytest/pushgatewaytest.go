// Package pushgatewaytest runs a real Prometheus Pushgateway for tests and
// reads back what it holds, as Prometheus would scrape it.
package pushgatewaytest

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Binary is Debian's prometheus-pushgateway, which .ci/run installs.
const Binary = "/usr/bin/prometheus-pushgateway"

// listening is the line the Pushgateway logs once its socket is bound.
var listening = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// Start runs a Pushgateway on a loopback port the kernel picks, stopped
// when the test ends, and returns its URL. Without the binary the test is
// skipped, or fails under BULKSYNC_CI=1.
func Start(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv("BULKSYNC_CI") == "1" {
			t.Fatalf("%s not installed (.ci/run installs Debian's prometheus-pushgateway)", Binary)
		}
		t.Skipf("%s not installed (.ci/run installs Debian's prometheus-pushgateway)", Binary)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, Binary, "--web.listen-address=127.0.0.1:0")
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", Binary, err)
	}
	// The port is known from the log line that says the socket is bound,
	// so no poll and no race with another process for a free port.
	addr := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(logs)
		for s.Scan() {
			if m := listening.FindStringSubmatch(s.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, logs)
	}()
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("%s never said where it listens", Binary)
		return ""
	}
}

// Series is one sample the Pushgateway exposes.
type Series struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Scrape reads the Pushgateway's /metrics as Prometheus would and returns
// the series whose name starts with prefix, sorted by name.
func Scrape(t testing.TB, url, prefix string) []Series {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s/metrics: %v", url, err)
	}
	var out []Series
	for name, f := range families {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, m := range f.GetMetric() {
			s := Series{Name: name, Labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.GetGauge() != nil:
				s.Value = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				s.Value = m.GetCounter().GetValue()
			case m.GetUntyped() != nil:
				s.Value = m.GetUntyped().GetValue()
			}
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
