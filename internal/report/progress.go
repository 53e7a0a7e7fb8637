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

// Progress shows how a run goes: a live bar for a person at a terminal, or
// a progress log line every interval for a log collector. Never both.
type Progress struct {
	mu     sync.Mutex
	total  int
	done   int
	counts reconcile.Counts
	start  time.Time
	calls  func() int
	bar    *progressbar.ProgressBar
	log    zerolog.Logger
	stop   chan struct{}
	ended  chan struct{}
}

// NewProgress starts showing progress of total rows: a bar on w when bar
// is set, else a log line every interval. calls counts API calls so far.
func NewProgress(total int, bar bool, w io.Writer, log zerolog.Logger, interval time.Duration, calls func() int) *Progress {
	p := &Progress{total: total, start: time.Now(), calls: calls, log: log,
		stop: make(chan struct{}), ended: make(chan struct{})}
	if bar {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetDescription("starting"),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
		close(p.ended)
		return p
	}
	go p.ticker(interval)
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
	if p.done > p.total { // pruned rows come on top of the input's
		p.total = p.done
		p.bar.ChangeMax(p.total)
	}
	p.bar.Describe(p.describe())
	_ = p.bar.Add(1)
}

// describe is the outcomes so far and the call rate, e.g.
// "12 created, 3 updated, 40 unchanged | 31.5 calls/s".
func (p *Progress) describe() string {
	var parts []string
	for _, o := range reconcile.Outcomes {
		if n := p.counts[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	return fmt.Sprintf("%s | %.1f calls/s", strings.Join(parts, ", "), p.rate())
}

func (p *Progress) rate() float64 {
	if el := time.Since(p.start).Seconds(); el > 0 {
		return float64(p.calls()) / el
	}
	return 0
}

func (p *Progress) logLine(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := p.log.Info().Int("done", p.done).Int("total", p.total).Float64("calls_per_second", p.rate())
	for o, n := range p.counts.Map() {
		ev = ev.Int(o, n)
	}
	if p.done > 0 && p.done < p.total {
		left := time.Duration(float64(time.Since(p.start)) / float64(p.done) * float64(p.total-p.done))
		ev = ev.Str("eta", left.Round(time.Second).String())
	}
	ev.Msg(msg)
}

// Close stops the ticker, or finishes the bar.
func (p *Progress) Close() {
	if p.bar != nil {
		p.mu.Lock()
		_ = p.bar.Finish()
		p.mu.Unlock()
		return
	}
	close(p.stop)
	<-p.ended
}
