package report

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/rs/zerolog"
	"github.com/schollz/progressbar/v3"
)

// Console is a terminal's stderr, shared by log lines and a live progress
// bar: every write is whole, and a log line first clears the bar, so that
// it never glues onto the bar's line nor leaves a frozen copy of it; the
// bar is drawn again under it.
type Console struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar // the live bar, drawn on w; nil when none
}

// NewConsole shares w between log lines and a progress bar.
func NewConsole(w io.Writer) *Console { return &Console{w: w} }

// Write writes p whole, below the live bar if there is one.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		_ = c.bar.Clear()
	}
	n, err := c.w.Write(p)
	if c.bar != nil {
		_ = c.bar.RenderBlank()
	}
	return n, err
}

// do runs f, which draws the bar, alone on the console.
func (c *Console) do(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
}

// Stats are the figures of a run's calls that progress shows.
type Stats struct{ Calls, Retries, Throttled int }

// Progress shows how a run goes: a live bar for a person at a terminal, or
// a progress log line every interval for a log collector. Never both.
type Progress struct {
	mu      sync.Mutex
	total   int
	done    int
	counts  reconcile.Counts
	start   time.Time
	stats   func() Stats
	console *Console
	bar     *progressbar.ProgressBar
	log     zerolog.Logger
	stop    chan struct{}
	ended   chan struct{}
}

// NewProgress starts showing progress of total rows: a bar on the console
// when bar is set (w is then a *Console, or the bar's own writer), else a
// log line every interval. stats counts the calls so far.
func NewProgress(total int, bar bool, w io.Writer, log zerolog.Logger, interval time.Duration, stats func() Stats) *Progress {
	p := &Progress{total: total, start: time.Now(), stats: stats, log: log,
		stop: make(chan struct{}), ended: make(chan struct{})}
	if !bar {
		go p.ticker(interval)
		return p
	}
	c, ok := w.(*Console)
	if !ok {
		c = NewConsole(w)
	}
	p.console = c
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(c.w),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetDescription("starting"),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(c.w) }),
	)
	c.do(func() { c.bar = p.bar })
	close(p.ended)
	return p
}

func (p *Progress) ticker(interval time.Duration) {
	defer close(p.ended)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.logLine("progress")
		}
	}
}

// Add counts a finished row.
func (p *Progress) Add(o reconcile.Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.counts.Add(o)
	if p.bar == nil {
		return
	}
	p.console.do(func() {
		if p.done > p.total { // pruned rows come on top of the input's
			p.total = p.done
			p.bar.ChangeMax(p.total)
		}
		p.bar.Describe(p.describe())
		// A bar that reaches its end is done for good: stop one short until
		// Close, since pruned rows may still come after the input's last.
		_ = p.bar.Set(min(p.done, p.total-1))
	})
}

// describe is the outcomes so far, the call rate, and the retries and
// throttled answers if any, e.g. "12 created, 3 failed | 31.5 calls/s,
// 4 retries, 2 throttled".
func (p *Progress) describe() string {
	var parts []string
	for _, o := range reconcile.Outcomes {
		if n := p.counts[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	s := p.stats()
	calls := fmt.Sprintf("%.1f calls/s", p.rate(s))
	if s.Retries > 0 {
		calls += fmt.Sprintf(", %d retries", s.Retries)
	}
	if s.Throttled > 0 {
		calls += fmt.Sprintf(", %d throttled", s.Throttled)
	}
	return strings.Join(parts, ", ") + " | " + calls
}

func (p *Progress) rate(s Stats) float64 {
	if el := time.Since(p.start).Seconds(); el > 0 {
		return float64(s.Calls) / el
	}
	return 0
}

func (p *Progress) logLine(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats()
	ev := p.log.Info().Int("done", p.done).Int("total", p.total).Float64("calls_per_second", p.rate(s)).
		Int("retries", s.Retries).Int("throttled", s.Throttled)
	for o, n := range p.counts.Map() {
		ev = ev.Int(o, n)
	}
	if p.done > 0 && p.done < p.total {
		left := time.Duration(float64(time.Since(p.start)) / float64(p.done) * float64(p.total-p.done))
		ev = ev.Str("eta", left.Round(time.Second).String())
	}
	ev.Msg(msg)
}

// Close stops the ticker, or ends the bar: full when every row is done,
// where it stands when the run stopped short (it never claims 100% of an
// interrupted run).
func (p *Progress) Close() {
	if p.bar == nil {
		close(p.stop)
		<-p.ended
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.console.do(func() {
		if p.done >= p.total {
			_ = p.bar.Finish()
		} else {
			_ = p.bar.Clear()
			fmt.Fprintf(p.console.w, "stopped at %d of %d rows: %s\n", p.done, p.total, p.describe())
		}
		p.console.bar = nil
	})
}
