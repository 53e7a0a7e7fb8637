package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/job"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/secret"
	"github.com/rs/zerolog"
)

// exitCodes is the one table from a run's verdict to its exit code (SPEC
// section 6). An output that can't be written (6) is not a row failure
// (1): the rows may all be fine, but their record is not whole. Rows no
// rerun will fix (7) are not rows a rerun may fix (1): a Job retries on 1,
// and gives up on 7.
var exitCodes = map[job.Verdict]int{job.Clean: 0, job.RowsFailed: 1, job.Usage: 2, job.Aborted: 3, job.Interrupted: 4, job.Changes: 5,
	job.OutputLost: 6, job.Refused: 7}

// env is the process environment as given to run.
type env map[string]string

func parseEnv(kv []string) env {
	e := env{}
	for _, s := range kv {
		if k, v, ok := strings.Cut(s, "="); ok {
			e[k] = v
		}
	}
	return e
}

// globals are what every command is handed.
type globals struct {
	env    env
	stdin  io.Reader // what the file name - reads
	stdout io.Writer
	stderr io.Writer // shared by the logger, plain messages and progress: a *report.Console once run starts
	term   bool      // stderr is a terminal
	args   []string  // the command line, for the summary
	// secrets scrubs every secret the process holds from stdout and
	// stderr, and is handed to the job for what it writes itself.
	secrets *secret.Scrubber
}

// exit is the end of a command whose end has been told: only its exit code
// is left.
type exit int

func (e exit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// run is the whole program as tests see it.
func run(ctx context.Context, args []string, environ []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, &globals{env: parseEnv(environ), stdout: stdout, stderr: stderr})
}

// runWith parses the command line and runs the command; it returns the
// exit code.
func runWith(ctx context.Context, args []string, g *globals) (code int) {
	// Log lines, messages and a progress bar share stderr: every write
	// whole, and a log line never glued onto the bar. Both streams are
	// scrubbed of every secret the process holds.
	g.secrets, g.term, g.args = secret.New(), isTerminal(g.stderr), args
	g.secrets.Add(job.KnownSecrets(args, g.env)...)
	g.stderr, g.stdout = report.NewConsole(g.secrets.Writer(g.stderr)), g.secrets.Writer(g.stdout)
	var cli CLI
	parser, err := kong.New(&cli, kong.Name("bulksync"), kong.Description(help("bulksync")),
		kong.Writers(g.stdout, g.stderr),
		kong.Exit(func(c int) { panic(exit(c)) }),
		kong.DefaultEnvars("BULKSYNC"),
		kong.WithHyphenPrefixedParameters(true), // --max-deletes -1, --report -
		kong.Resolvers(kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
			for _, name := range flag.Envs { // the environment given to run, not the process's: tests set it
				if v, ok := g.env[name]; ok {
					return v, nil
				}
			}
			return nil, nil
		})),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, WrapUpperBound: 100}),
		kong.Vars{"version": version(), "demo_provider": emulator.DefaultProvider, "demo_vendor": emulator.DefaultVendor},
		kong.Bind(g), kong.BindTo(ctx, (*context.Context)(nil)))
	if err != nil {
		fmt.Fprintf(g.stderr, "bulksync: %v\n", err)
		return exitCodes[job.Usage]
	}
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exit)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	kctx, err := parser.Parse(args)
	if err == nil {
		err = kctx.Run()
	}
	var e exit
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return int(e)
	}
	fmt.Fprintf(g.stderr, "bulksync: %v\nRun 'bulksync --help' (or 'bulksync COMMAND --help') for usage.\n", err)
	return exitCodes[job.Usage]
}

// end tells how a command ended and returns its exit code as an exit. With
// JSON logs a sync or plan ends with one closing event; on the console
// with its plan, its summary and, when it stopped, why and what to do.
func (g *globals) end(o job.IO, res job.Result, err error) error {
	code := exitCodes[res.Verdict]
	sum := res.Summary
	sum.ExitCode = code
	if err != nil {
		sum.Message, sum.Hint = err.Error(), job.Hint(err)
	}
	if res.Plan != nil && o.JSONLogs {
		res.Plan.Log(o.Log)
	} else if res.Plan != nil {
		res.Plan.Write(g.stderr)
	}
	switch c := res.Checked; {
	case o.JSONLogs && (c == nil || err != nil):
		level := zerolog.ErrorLevel
		switch res.Verdict {
		case job.Clean, job.Changes:
			level = zerolog.InfoLevel
		case job.RowsFailed, job.Refused:
			level = zerolog.WarnLevel
		}
		sum.Log(o.Log, level)
		return exit(code)
	case c != nil && !o.JSONLogs:
		blank := ""
		if c.Blank > 0 {
			blank = fmt.Sprintf("; %d blank %s skipped", c.Blank, map[bool]string{true: "row", false: "rows"}[c.Blank == 1])
		}
		fmt.Fprintf(g.stderr, "%d rows: %d valid, %d duplicate, %d invalid%s\n", c.Valid+c.Duplicate+c.Invalid, c.Valid, c.Duplicate, c.Invalid, blank)
	case res.Ran:
		sum.WriteText(g.stderr)
	}
	return g.told(res.Verdict, err)
}

// told prints why a command stopped, and what to do about it, and returns
// its exit code as an exit.
func (g *globals) told(v job.Verdict, err error) error {
	if err != nil {
		fmt.Fprintf(g.stderr, "bulksync: %v\n", err)
		if h := job.Hint(err); h != "" {
			fmt.Fprintf(g.stderr, "bulksync: %s\n", h)
		}
	}
	return exit(exitCodes[v])
}
