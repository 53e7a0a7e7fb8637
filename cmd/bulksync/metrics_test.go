package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/report/pushgatewaytest"
)

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

// A sync pushes its figures into its property's group: command sync, the
// provider as instance; a plan of the same property never touches it.
func TestPushgatewayReceivesRunMetrics(t *testing.T) {
	pg := pushgatewaytest.Start(t)
	a := startAPI(t, emulator.Options{})
	a.seed(t, map[string]string{"7201": "amzn1.old"})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.new\n7202,amzn1.b\n7203,amzn1.c\n")
	if res := a.sync(t, nil, "--pushgateway", pg, "--report", filepath.Join(dir, "r.csv"), in); res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	m := metricsOf(t, pg)
	for _, want := range []string{
		`bulksync_rows{command="sync",instance="amzn1.comms.csp.id.demo",job="bulksync",outcome="created"} 2`,
		`bulksync_rows{command="sync",instance="amzn1.comms.csp.id.demo",job="bulksync",outcome="updated"} 1`,
		`bulksync_api_calls{command="sync",instance="amzn1.comms.csp.id.demo",job="bulksync",kind="create",status="2xx"} 2`,
		`bulksync_api_calls{command="sync",instance="amzn1.comms.csp.id.demo",job="bulksync",kind="query",status="2xx"} 1`,
		`bulksync_exit_code{command="sync",instance="amzn1.comms.csp.id.demo",job="bulksync"} 0`,
		`bulksync_last_success_timestamp_seconds{command="sync",instance="amzn1.comms.csp.id.demo",job="bulksync"}`,
		`bulksync_duration_seconds{command="sync",instance="amzn1.comms.csp.id.demo",job="bulksync"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("pushgateway lacks %s\n%s", want, grep(m, "bulksync_"))
		}
	}
	// A failed run adds its figures but keeps the last success.
	bad := writeFile(t, dir, "bad.csv", "externalUserId,amazonId\n7204,\n7205,amzn1.e\n")
	if res := a.sync(t, nil, "--pushgateway", pg, "--report", filepath.Join(dir, "r.csv"), bad); res.code != 7 {
		t.Fatalf("exit %d, want 7:\n%s", res.code, res.stderr)
	}
	m = metricsOf(t, pg)
	if !strings.Contains(m, `bulksync_exit_code{command="sync",instance="amzn1.comms.csp.id.demo",job="bulksync"} 7`) || !strings.Contains(m, `bulksync_rows{command="sync",instance="amzn1.comms.csp.id.demo",job="bulksync",outcome="invalid"} 1`) {
		t.Errorf("failed run not pushed:\n%s", grep(m, "bulksync_"))
	}
	if !strings.Contains(m, `bulksync_last_success_timestamp_seconds{command="sync",instance="`+sp+`",job="bulksync"}`) {
		t.Errorf("a failed run wiped the last success timestamp")
	}
	// A plan, and a sync named by --metrics-instance, each push a group of
	// their own.
	if res := a.cmd(t, "plan", nil, "--pushgateway", pg, "--report", filepath.Join(dir, "r.csv"), in); res.code != 0 {
		t.Fatalf("plan: exit %d:\n%s", res.code, res.stderr)
	}
	if res := a.sync(t, nil, "--pushgateway", pg, "--metrics-instance", "grand-hotel", "--report", filepath.Join(dir, "r.csv"), in); res.code != 0 {
		t.Fatalf("named sync: exit %d:\n%s", res.code, res.stderr)
	}
	m = metricsOf(t, pg)
	for _, want := range []string{
		`bulksync_exit_code{command="plan",instance="` + sp + `",job="bulksync"} 0`,
		`bulksync_exit_code{command="sync",instance="grand-hotel",job="bulksync"} 0`,
		`bulksync_exit_code{command="sync",instance="` + sp + `",job="bulksync"} 7`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("pushgateway lacks %s\n%s", want, grep(m, "bulksync_exit_code"))
		}
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
