package main

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// newLogger is the one place logging is set up: console on a terminal,
// JSON lines otherwise, with a run id on every line.
func newLogger(g *globals, f logFlags, runID string) zerolog.Logger {
	level, err := zerolog.ParseLevel(f.LogLevel)
	if err != nil {
		level = zerolog.InfoLevel
	}
	var out io.Writer = g.stderr
	if !jsonLogs(g, f) {
		out = zerolog.ConsoleWriter{Out: g.stderr, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(out).Level(level).With().Timestamp().Str("run_id", runID).Logger()
}

// jsonLogs says whether logs to stderr are JSON lines: a run then ends
// with one event, not text.
func jsonLogs(g *globals, f logFlags) bool {
	return f.LogFormat == "json" || f.LogFormat == "auto" && !g.term
}
