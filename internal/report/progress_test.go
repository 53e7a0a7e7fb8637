package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/rs/zerolog"
)

// A bar counts every row, rows beyond the input's (pruned associations)
// included, and ends on a line of its own.
func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(2, true, &out, zerolog.Nop(), 0, func() Stats { return Stats{Calls: 7} })
	for _, o := range []reconcile.Outcome{reconcile.Created, reconcile.Unchanged, reconcile.Deleted} { // the third is pruned
		p.Add(o)
	}
	p.Close()
	// The bar is full once, at the end, with every row counted: not at the
	// input's last row, to be drawn again short of full for the pruned one.
	got := out.String()
	last := got[strings.LastIndex(got, "\r")+1:]
	if strings.Count(got, "100%") != 1 || strings.Count(got, "\n") != 1 || !strings.HasPrefix(last, " 100% |") ||
		!strings.Contains(last, "| (3/3) 1 created, 1 deleted, 1 unchanged | ") || !strings.HasSuffix(last, " calls/s\n") {
		t.Errorf("bar: %q\nwant it full once, at the end, counting 3 of 3, and its line ended", got)
	}
}

// lineLog is a log that hands each line it gets to a channel.
type lineLog struct {
	mu    sync.Mutex
	lines chan string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.lines <- string(p):
	default: // the test has what it wanted: drop the rest
	}
	return len(p), nil
}

// Without a bar, progress is a log line every interval: rows done of the
// total, the outcomes so far, the call rate and, midway, how long is left.
func TestProgressLines(t *testing.T) {
	log := &lineLog{lines: make(chan string)}
	var out bytes.Buffer
	p := NewProgress(4, false, &out, zerolog.New(log), 1, func() Stats { return Stats{Calls: 3} })
	p.Add(reconcile.Created)
	p.Add(reconcile.Failed)
	// Lines from before the rows were added may come first: read on to
	// the first one that counts them.
	var ev map[string]any
	for line := range log.lines {
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("progress line %q: %v", line, err)
		}
		if ev["done"] == 2.0 {
			break
		}
	}
	p.Close()
	if ev["message"] != "progress" || ev["total"] != 4.0 || ev["created"] != 1.0 || ev["failed"] != 1.0 || ev["eta"] == nil {
		t.Errorf("progress line: %v", ev)
	}
	if rate, _ := ev["calls_per_second"].(float64); rate <= 0 {
		t.Errorf("calls per second: %v, want above 0 after 3 calls", ev["calls_per_second"])
	}
	if out.Len() != 0 {
		t.Errorf("progress lines drew a bar too: %q", out.String())
	}
}
