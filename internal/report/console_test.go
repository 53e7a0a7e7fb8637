package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/rs/zerolog"
)

// A log line written while the bar is live starts on a line of its own:
// the bar is cleared first, so the line is never glued onto it
// ("…7.5 calls/s15:02:22 INF request rate changed").
func TestConsoleLogLineClearsTheBar(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole(&out)
	p := NewProgress(10, true, c, zerolog.Nop(), time.Second, func() Stats { return Stats{Calls: 4} })
	p.Add(reconcile.Created)
	if !strings.Contains(out.String(), "1 created") {
		t.Fatalf("no bar drawn: %q", out.String())
	}
	before := out.Len()
	if _, err := c.Write([]byte("15:02:22 INF request rate changed\n")); err != nil {
		t.Fatal(err)
	}
	written := out.String()[before:]
	at := strings.Index(written, "15:02:22")
	if at <= 0 || written[at-1] != '\r' || !strings.HasPrefix(written, "\r") {
		t.Errorf("log line not on a cleared line: %q", written)
	}
	p.Close()
}

// The bar counts the rows the outcomes count, shows retries and throttled
// answers, and a run that stopped short does not end at 100%.
func TestBarOfAStoppedRun(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(10, true, NewConsole(&out), zerolog.Nop(), time.Second, func() Stats { return Stats{Calls: 9, Retries: 2, Throttled: 1} })
	for _, o := range []reconcile.Outcome{reconcile.Created, reconcile.Failed, reconcile.Created} {
		p.Add(o)
	}
	if got := p.bar.State().CurrentNum; got != 3 {
		t.Errorf("bar at %d, want the 3 rows done", got)
	}
	p.Close()
	s := out.String()
	if strings.Contains(s, "100%") || !strings.Contains(s, "stopped at 3 of 10 rows: 2 created, 1 failed | ") ||
		!strings.Contains(s, "2 retries, 1 throttled") {
		t.Errorf("stopped run's last line: %q", s)
	}
	out.Reset()
	p = NewProgress(2, true, NewConsole(&out), zerolog.Nop(), time.Second, func() Stats { return Stats{} })
	p.Add(reconcile.Created)
	p.Add(reconcile.Unchanged)
	p.Close()
	if !strings.Contains(out.String(), "100%") {
		t.Errorf("finished run's bar: %q, want 100%%", out.String())
	}
}
