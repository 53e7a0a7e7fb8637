package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
)

const pushgatewayBin = "/usr/bin/prometheus-pushgateway" // Debian's package, installed by .ci/run

// startPushgateway runs a real Prometheus Pushgateway on a loopback port.
func startPushgateway(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(pushgatewayBin); err != nil {
		t.Skipf("%s not installed (.ci/run installs Debian's prometheus-pushgateway)", pushgatewayBin)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, pushgatewayBin, "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	url := "http://" + addr
	for i := 0; i < 200; i++ { // up to 10 s for it to listen
		if resp, err := http.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("pushgateway on %s never became ready", addr)
	return ""
}

func metricsOf(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestPushgatewayReceivesRunMetrics(t *testing.T) {
	pg := startPushgateway(t)
	a := startAPI(t, emulator.Options{})
	a.seed(t, map[string]string{"7201": "amzn1.old"})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.new\n7202,amzn1.b\n7203,amzn1.c\n")
	if res := a.sync(t, nil, "--pushgateway", pg, "--report", filepath.Join(dir, "r.csv"), in); res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	m := metricsOf(t, pg)
	for _, want := range []string{
		`bulksync_rows{instance="",job="bulksync",outcome="created"} 2`,
		`bulksync_rows{instance="",job="bulksync",outcome="updated"} 1`,
		`bulksync_api_calls{instance="",job="bulksync",kind="create",status="2xx"} 2`,
		`bulksync_api_calls{instance="",job="bulksync",kind="query",status="2xx"} 1`,
		`bulksync_exit_code{instance="",job="bulksync"} 0`,
		`bulksync_last_success_timestamp_seconds{instance="",job="bulksync"}`,
		`bulksync_duration_seconds{instance="",job="bulksync"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("pushgateway lacks %s\n%s", want, grep(m, "bulksync_"))
		}
	}
	// A failed run adds its figures but keeps the last success.
	bad := writeFile(t, dir, "bad.csv", "externalUserId,amazonId\n7204,\n7205,amzn1.e\n")
	if res := a.sync(t, nil, "--pushgateway", pg, "--report", filepath.Join(dir, "r.csv"), bad); res.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", res.code, res.stderr)
	}
	m = metricsOf(t, pg)
	if !strings.Contains(m, `bulksync_exit_code{instance="",job="bulksync"} 1`) || !strings.Contains(m, `bulksync_rows{instance="",job="bulksync",outcome="invalid"} 1`) {
		t.Errorf("failed run not pushed:\n%s", grep(m, "bulksync_"))
	}
	if !strings.Contains(m, "bulksync_last_success_timestamp_seconds") {
		t.Errorf("a failed run wiped the last success timestamp")
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return fmt.Sprint(strings.Join(out, "\n"))
}
