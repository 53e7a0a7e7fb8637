package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/job"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/rs/zerolog"
)

// exitInterrupted is the exit code of a run stopped by a signal.
const exitInterrupted = 4

// exitCodes is the one table from a run's verdict to its exit code (SPEC
// section 6). An output that can't be written (6) is not a row failure
// (1): the rows may all be fine, but their record is not whole.
var exitCodes = [...]int{job.Clean: 0, job.RowsFailed: 1, job.Usage: 2, job.Aborted: 3, job.Interrupted: exitInterrupted, job.Changes: 5,
	job.OutputLost: 6}

func exitCode(v job.Verdict) int { return exitCodes[v] }

// verdictError ends a command with a verdict; a nil err means the story was
// already told (the summary) and only the exit code is left.
type verdictError struct {
	verdict job.Verdict
	err     error
}

func (e *verdictError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", exitCode(e.verdict))
	}
	return e.err.Error()
}
func (e *verdictError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &verdictError{job.Usage, fmt.Errorf(format, args...)}
}

// hint is what to do about an error that ended a run, in flag terms.
func hint(err error) string {
	var ge *reconcile.GuardError
	var oe *job.OutputError
	switch {
	case errors.Is(err, job.ErrSamePath):
		return "give --report, --summary and plan --out paths of their own, apart from the input files"
	case errors.Is(err, job.ErrTooSlow):
		return "raise --rps: a run must be able to finish within a day"
	case errors.As(err, &oe) && oe.What == "answer":
		return "the call was made, but its answer is lost: read it back with get"
	case errors.As(err, &oe) && oe.Early:
		return "fix the path (or free the disk) and run again"
	case errors.As(err, &oe) && oe.What == "report":
		return "rows finished after the failure are missing from the report; what was sent is done: run again once the report can be written (a second run makes no needless write)"
	case errors.As(err, &oe):
		return "fix the path (or free the disk) and run again: a second run makes no needless write"
	case errors.Is(err, reconcile.ErrEmpty):
		return "refusing to run without --allow-empty: an empty export must never wipe a property"
	case errors.Is(err, reconcile.ErrStrict):
		return "--strict is set: fix the rows (bulksync validate lists them) or drop --strict"
	case errors.As(err, &ge):
		return "if these deletes are meant, raise --max-deletes (-1: no limit)"
	case errors.Is(err, csvmodel.ErrAmbiguousColumn):
		return "name the column to read with --column FIELD=HEADER, e.g. --column externalUserId=Extension"
	case errors.Is(err, csvmodel.ErrColumnChoice):
		return "--column takes FIELD=HEADER, e.g. --column externalUserId=\"Room Ext\""
	}
	return ""
}

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
	stderr io.Writer  // shared by the logger and plain messages: writes are whole and never interleave
	term   bool       // stderr is a terminal
	last   *lastWords // what a forced quit saves; nil in tests
}

func newGlobals(environ []string, stdout, stderr io.Writer, last *lastWords) *globals {
	return &globals{env: parseEnv(environ), stdout: stdout, stderr: zerolog.SyncWriter(stderr), term: isTerminal(stderr), last: last}
}

// withStdin gives the globals what the file name - reads.
func withStdin(g *globals, stdin io.Reader) *globals {
	g.stdin = stdin
	return g
}

// onReport registers a report's flush for a forced quit.
func (g *globals) onReport(flush func()) {
	if g.last != nil {
		g.last.flush.Store(&flush)
	}
}

// kongExit is how kong's exit (after --help) unwinds to run.
type kongExit int

// run is the whole program as tests see it.
func run(ctx context.Context, args []string, environ []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, newGlobals(environ, stdout, stderr, nil))
}

// runWith parses the command line, runs the command and returns the exit
// code: the one place errors become codes and messages.
func runWith(ctx context.Context, args []string, g *globals) (code int) {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("bulksync"),
		kong.Description(description),
		kong.Writers(g.stdout, g.stderr),
		kong.Exit(func(c int) { panic(kongExit(c)) }),
		kong.DefaultEnvars("BULKSYNC"),
		kong.WithHyphenPrefixedParameters(true), // --max-deletes -1, --report -
		kong.Resolvers(envResolver(g.env)),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, WrapUpperBound: 100}),
		kong.Vars{"version": version(), "demo_provider": emulator.DefaultProvider, "demo_vendor": emulator.DefaultVendor},
		kong.Bind(g),
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	if err != nil {
		fmt.Fprintf(g.stderr, "bulksync: %v\n", err)
		return exitCode(job.Usage)
	}
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(kongExit)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(g.stderr, "bulksync: %v\nRun 'bulksync --help' (or 'bulksync COMMAND --help') for usage.\n", err)
		return exitCode(job.Usage)
	}
	err = kctx.Run()
	var ve *verdictError
	switch {
	case err == nil:
		return exitCode(job.Clean)
	case errors.As(err, &ve) && ve.err == nil:
		return exitCode(ve.verdict)
	}
	fmt.Fprintf(g.stderr, "bulksync: %v\n", err)
	if h := hint(err); h != "" {
		fmt.Fprintf(g.stderr, "bulksync: %s\n", h)
	}
	return exitCode(verdictOf(err))
}

// verdictOf is the verdict an error ends a command with.
func verdictOf(err error) job.Verdict {
	var ve *verdictError
	if errors.As(err, &ve) {
		return ve.verdict
	}
	return job.VerdictOf(err)
}

// envResolver reads flags' BULKSYNC_* variables from the environment given
// to run rather than the process's, so tests can set them.
func envResolver(e env) kong.Resolver {
	return kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
		for _, name := range flag.Envs {
			if v, ok := e[name]; ok {
				return v, nil
			}
		}
		return nil, nil
	})
}

const description = `Keep the Alexa Smart Properties WebRTC account associations of a property in line
with a CSV export: which room extension (externalUserId) rings which Alexa communication
profile (amazonId).

Every flag can also be set by an environment variable, shown beside it; a flag on the
command line wins. Credentials come only from the environment (or files it names):
BULKSYNC_ACCESS_TOKEN, or BULKSYNC_LWA_CLIENT_ID + BULKSYNC_LWA_CLIENT_SECRET +
BULKSYNC_LWA_REFRESH_TOKEN; any of them with _FILE names a file holding the value.

Try it on the built-in emulator:
  bulksync sync --emulate samples/rooms.csv`
