package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// A run whose context ends (a signal): no new call starts, calls in flight
// finish, every row not done is reported skipped, and the run ends
// Interrupted with a whole report.
func TestRunInterrupted(t *testing.T) {
	const rows = 5
	var in strings.Builder
	in.WriteString("externalUserId,amazonId\n")
	for i := range rows {
		fmt.Fprintf(&in, "72%02d,amzn1.p%d\n", i, i)
	}
	tests := []struct {
		name string
		// stopAt is the answer after which the context ends: "" before
		// the run starts.
		stopAt   string
		outcomes string
		writes   int
	}{
		{name: "before the first call", outcomes: "skipped=5"},
		// One call at a time: the write answered is the only one.
		{name: "after the first write", stopAt: "association.create", outcomes: "created=1 skipped=4", writes: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.stopAt == "" {
				cancel()
			}
			a := newAPI(t, emulator.Options{OnAnswer: func(op, status string) {
				if op == tt.stopAt {
					cancel()
				}
			}})
			var st streams
			o := Options{Command: "sync", Input: Input{Files: []string{a.file(t, "rooms.csv", in.String())}, DefaultProvider: demo},
				Report: a.path("report.csv"), Progress: "off", IO: st.io()}
			res, err := Run(ctx, a.session(t, Connect{Calls: oneAtATime()}), o)
			if res.Verdict != Interrupted || !errors.Is(err, context.Canceled) || res.Summary.ExitCode != exitCodes[Interrupted] {
				t.Fatalf("got %d (exit %d), %v; want Interrupted", res.Verdict, res.Summary.ExitCode, err)
			}
			if got := outcomes(res.Summary.Outcomes); got != tt.outcomes {
				t.Errorf("outcomes: got %s, want %s", got, tt.outcomes)
			}
			if got := a.writes(); got != tt.writes {
				t.Errorf("writes: got %d, want %d", got, tt.writes)
			}
			rep := readReportFile(t, o.Report)
			if len(rep) != rows {
				t.Errorf("report has %d rows, want all %d", len(rep), rows)
			}
			for _, r := range rep {
				if r["outcome"] == "skipped" && r["error_type"] != "SKIPPED" {
					t.Errorf("a skipped row: %v", r)
				}
			}
			if len(st.events(t, "stopping: no new call starts; calls in flight finish (signal again to quit at once)")) != 1 {
				t.Errorf("log: want one stopping event:\n%s", st.log.String())
			}
		})
	}
}

// A rate at which the input could not be done within a day is refused
// before the first call, with what to do about it.
func TestRunTooSlow(t *testing.T) {
	a := newAPI(t, emulator.Options{})
	var in strings.Builder
	in.WriteString("externalUserId,amazonId\n")
	for i := range 100 { // 4 queries: 3 gaps of 1/rps
		fmt.Fprintf(&in, "7%03d,amzn1.p%d\n", i, i)
	}
	s := &Session{API: a.session(t, Connect{}).API, Caller: worker.New(worker.Config{RPS: 2.0 / (24 * 60 * 60)})}
	var st streams
	res, err := Run(context.Background(), s, Options{Command: "sync", Input: Input{Files: []string{a.file(t, "rooms.csv", in.String())}, DefaultProvider: demo},
		Progress: "off", IO: st.io()})
	if res.Verdict != Usage || !errors.Is(err, ErrTooSlow) || !strings.Contains(err.Error(), "the 4 calls this input needs at the least would take 36h0m0s") {
		t.Errorf("got %d, %v; want a usage error", res.Verdict, err)
	}
	if res.Summary.Hint != "raise --rps: a run must be able to finish within a day" || a.Stats().Total != 0 {
		t.Errorf("hint %q after %d calls", res.Summary.Hint, a.Stats().Total)
	}
}

func TestCheckPace(t *testing.T) {
	for _, tt := range []struct {
		rate                float64
		rows, batch, writes int
		want                string
	}{
		{rate: 10, rows: 1_000_000, batch: 30},
		{rate: 1.0 / 86400, rows: 30, batch: 30, writes: 1}, // 2 calls: the first goes at once
		{rate: 1.0 / 86400, rows: 31, batch: 30, writes: 1, want: "the 3 calls this input needs at the least would take 48h0m0s"},
		{rate: 1e-9, rows: 10, batch: 0, writes: 1, want: "at 1e-09 calls per second, the 2 calls this input needs at the least would take 32 years"},
	} {
		err := checkPace(tt.rate, tt.rows, tt.batch, tt.writes)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || VerdictOf(err) != Usage) {
			t.Errorf("checkPace(%g, %d rows, batch %d, %d writes): %v, want %q", tt.rate, tt.rows, tt.batch, tt.writes, err, tt.want)
		}
	}
}

// watched is a log that says when a line with a given message came.
type watched struct {
	lockedBuffer
	msg  string
	seen chan struct{}
	once sync.Once
}

func (w *watched) Write(p []byte) (int, error) {
	if strings.Contains(string(p), `"message":"`+w.msg+`"`) {
		w.once.Do(func() { close(w.seen) })
	}
	return w.lockedBuffer.Write(p)
}

// Progress shows as a bar for a person at a terminal (or --progress on),
// and as log lines otherwise, never both; off shows neither.
func TestRunProgress(t *testing.T) {
	const in = "externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n7203,amzn1.c\n"
	tests := []struct {
		name           string
		progress       string
		terminal, json bool
		interval       time.Duration
		bar, lines     bool
		err            string
	}{
		{name: "on: a bar", progress: "on", json: true, bar: true},
		{name: "auto at a terminal: a bar", progress: "auto", terminal: true, bar: true},
		{name: "auto at a terminal with JSON logs: lines", progress: "auto", terminal: true, json: true, interval: time.Millisecond, lines: true},
		{name: "auto elsewhere: lines", progress: "auto", interval: time.Millisecond, lines: true},
		{name: "off: neither", progress: "off", interval: time.Millisecond},
		{name: "lines need an interval", progress: "auto", err: "progress interval must be above 0, got 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &watched{msg: "progress", seen: make(chan struct{})}
			// The first answer waits for the first progress line: the run
			// lasts at least one interval, however fast the machine.
			var once sync.Once
			a := newAPI(t, emulator.Options{OnAnswer: func(op, status string) {
				if tt.lines {
					once.Do(func() { <-log.seen })
				}
			}})
			var st streams
			o := Options{Command: "sync", Input: Input{Files: []string{a.file(t, "rooms.csv", in)}, DefaultProvider: demo},
				Progress: tt.progress, ProgressInterval: tt.interval, IO: st.io()}
			o.IO.Terminal, o.IO.JSONLogs, o.IO.Log = tt.terminal, tt.json, zerolog.New(log)
			res, err := Run(context.Background(), a.session(t, Connect{}), o)
			if tt.err != "" {
				if res.Verdict != Usage || err == nil || err.Error() != tt.err || a.Stats().Total != 0 {
					t.Errorf("got %d, %v after %d calls; want a usage error %q before any call", res.Verdict, err, a.Stats().Total, tt.err)
				}
				return
			}
			if err != nil || res.Verdict != Clean {
				t.Fatalf("got %d, %v", res.Verdict, err)
			}
			bar := st.stderr.String()
			if got := strings.Contains(bar, "100%") && strings.Contains(bar, "3/3"); got != tt.bar {
				t.Errorf("bar shown: %v, want %v:\n%q", got, tt.bar, bar)
			}
			if !tt.bar && bar != "" {
				t.Errorf("stderr: %q, want nothing", bar)
			}
			if got := strings.Contains(log.String(), `"total":3,"calls_per_second":`) && strings.Contains(log.String(), `"message":"progress"`); got != tt.lines {
				t.Errorf("progress lines: %v, want %v:\n%s", got, tt.lines, log.String())
			}
		})
	}
}
