package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/reconcile"
)

// Exit codes (SPEC section 6).
const (
	exitOK          = 0
	exitRowsFailed  = 1
	exitUsage       = 2
	exitAborted     = 3
	exitInterrupted = 4
	exitChanges     = 5
)

// exitError carries an exit code with the message to print; a nil err means
// the story was already told (the summary) and only the code is left.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

// exitCode maps an error to its exit code: the one place that does.
func exitCode(err error) int {
	var ee *exitError
	var fe *csvmodel.FileError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &fe), errors.Is(err, reconcile.ErrStrict):
		return exitUsage
	case errors.Is(err, reconcile.ErrEmpty), errors.Is(err, reconcile.ErrGuard), errors.Is(err, reconcile.ErrStale),
		errors.Is(err, reconcile.ErrAuth), client.IsAuthError(err):
		return exitAborted
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitRowsFailed
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
	cli    *CLI
	env    env
	stdout io.Writer
	stderr io.Writer
}

// kongExit is how kong's exit (after --help) unwinds to run.
type kongExit int

// run is the whole program: main only calls it, tests call it too.
func run(ctx context.Context, args []string, environ []string, stdout, stderr io.Writer) (code int) {
	g := &globals{env: parseEnv(environ), stdout: stdout, stderr: stderr}
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("bulksync"),
		kong.Description(description),
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { panic(kongExit(c)) }),
		kong.DefaultEnvars("BULKSYNC"),
		kong.WithHyphenPrefixedParameters(true), // --max-deletes -1, --report -
		kong.Resolvers(envResolver(g.env)),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, WrapUpperBound: 100}),
		kong.Vars{"version": version(), "demo_provider": emulator.DefaultProvider},
		kong.Bind(g),
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	if err != nil {
		fmt.Fprintf(stderr, "bulksync: %v\n", err)
		return exitUsage
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
		fmt.Fprintf(stderr, "bulksync: %v\nRun 'bulksync --help' (or 'bulksync COMMAND --help') for usage.\n", err)
		return exitUsage
	}
	g.cli = &cli
	err = kctx.Run()
	var ee *exitError
	if err != nil && !(errors.As(err, &ee) && ee.err == nil) {
		fmt.Fprintf(stderr, "bulksync: %v\n", err)
	}
	return exitCode(err)
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
