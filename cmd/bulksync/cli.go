package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/bulksync/bulksync/internal/job"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// CLI is the command line: one field per command.
type CLI struct {
	Sync     syncCmd     `cmd:"" help:"Make the associations match the files (the main job)."`
	Plan     planCmd     `cmd:"" help:"Read, query and diff like sync, but write nothing: show what sync would do."`
	Validate validateCmd `cmd:"" help:"Check the files offline; no network at all."`
	Emulator emulatorCmd `cmd:"" help:"Run the local Alexa Smart Properties API emulator."`
	Provider providerCmd `cmd:"" help:"Service provider onboarding: create, get, update, delete."`
	Network  networkCmd  `cmd:"" help:"Network mapping of a provider to a skill: create, get, update, delete."`
	Products productsCmd `cmd:"" help:"In-skill products: sync or plan skill associations from CSV; export them; list, get, create, update, delete, skills."`
	Export   exportCmd   `cmd:"" help:"Write what exists as an input file that sync reads back with no write."`
	Version  versionCmd  `cmd:"" help:"Print the version."`
}

// logFlags are on every command that talks.
type logFlags struct {
	LogFormat string `enum:"auto,json,console" default:"auto" help:"Log format: console on a terminal, JSON lines otherwise."`
	LogLevel  string `enum:"debug,info,warn,error" default:"info" help:"Log level."`
}

// apiFlags reach the API: host, credentials' token endpoint, and the calls' limits.
type apiFlags struct {
	Region         string        `enum:"NA,EU,FE" default:"NA" help:"API region: NA, EU or FE (picks the host)."`
	Endpoint       string        `placeholder:"URL" help:"API base URL, overriding --region; https unless the host is loopback."`
	TokenURL       string        `name:"token-url" placeholder:"URL" default:"https://api.amazon.com/auth/o2/token" help:"Login with Amazon token endpoint (refresh-token grant); default ${default}."`
	RPS            float64       `name:"rps" default:"10" help:"Most API calls started per second, all kinds together, retries included; the rate starts at a quarter of it and adapts to the server's 429s."`
	Burst          int           `default:"1" help:"Calls that credit saved while idle may start back to back, until the server first answers 429 (0 or 1: calls always evenly spaced)."`
	Concurrency    int           `default:"8" help:"Most calls in flight at once."`
	MaxAttempts    int           `default:"8" help:"Attempts per call, the first included."`
	MaxBackoff     time.Duration `default:"30s" help:"Cap of one computed back-off."`
	MaxRetryAfter  time.Duration `default:"60s" help:"Longest Retry-After honoured as given (longer ones are capped)."`
	RequestTimeout time.Duration `default:"30s" help:"Timeout of one HTTP attempt."`
	Emulate        bool          `help:"Start the emulator inside this process on a loopback port and run against it."`
	EmulateState   string        `default:".bulksync/emulator.json" placeholder:"FILE" help:"State file of --emulate, so a second run sees the first; default ${default}."`
}

// open connects: the client, its credentials and the Caller; with
// --emulate, the emulator first. It returns the command's IO too.
func (f *apiFlags) open(g *globals, lf logFlags, smapi bool, command string) (*job.Session, job.IO, error) {
	o := g.io(lf, command)
	s, err := job.Open(job.Connect{Region: f.Region, Endpoint: f.Endpoint, TokenURL: f.TokenURL, UserAgent: "bulksync/" + version(),
		Emulate: f.Emulate, EmulateState: f.EmulateState, SMAPI: smapi, Secrets: g.secrets,
		Calls: worker.Config{RPS: f.RPS, Burst: f.Burst, Concurrency: f.Concurrency, MaxAttempts: f.MaxAttempts,
			MaxBackoff: f.MaxBackoff, MaxRetryAfter: f.MaxRetryAfter, RequestTimeout: f.RequestTimeout},
	}, g.env, o.Log)
	return s, o, err
}

// io is what a command hands the job: its streams and its logger, the one
// place logging is set up (console on a terminal, JSON lines otherwise,
// with a run id on every line).
func (g *globals) io(f logFlags, command string) job.IO {
	level, err := zerolog.ParseLevel(f.LogLevel)
	if err != nil {
		level = zerolog.InfoLevel
	}
	asJSON := f.LogFormat == "json" || f.LogFormat == "auto" && !g.term
	var out io.Writer = g.stderr
	if !asJSON {
		out = zerolog.ConsoleWriter{Out: g.stderr, TimeFormat: time.TimeOnly}
	}
	id := job.NewRunID()
	log := zerolog.New(out).Level(level).With().Timestamp().Str("run_id", id)
	if command != "" {
		log = log.Str("command", command)
	}
	return job.IO{Env: g.env, Stdin: g.stdin, Stdout: g.stdout, Stderr: g.stderr, Terminal: g.term, JSONLogs: asJSON, Log: log.Logger(), ExitCodes: exitCodes,
		RunID: id, Version: version(), CommandLine: job.CommandLine(g.args), Secrets: g.secrets}
}

type versionCmd struct{}

func (versionCmd) Run(g *globals) error {
	fmt.Fprintf(g.stdout, "bulksync %s\n", version())
	return nil
}

// buildVersion is stamped by the build: -ldflags "-X main.buildVersion=v1.2.3".
var buildVersion = ""

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

//go:embed help.txt
var helpText string

// help is the long help of a command: its section of help.txt, which
// starts with a line "## NAME".
func help(name string) string {
	_, rest, _ := strings.Cut(helpText, "## "+name+"\n")
	text, _, _ := strings.Cut(rest, "\n## ")
	return strings.TrimSpace(text)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
