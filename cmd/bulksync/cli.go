package main

import (
	"fmt"
	"runtime/debug"
	"time"
)

// CLI is the command line: one field per command.
type CLI struct {
	Sync     syncCmd     `cmd:"" help:"Make the associations match the files (the main job)."`
	Plan     planCmd     `cmd:"" help:"Read, query and diff like sync, but write nothing: show what sync would do."`
	Validate validateCmd `cmd:"" help:"Check the files offline; no network at all."`
	Emulator emulatorCmd `cmd:"" help:"Run the local Alexa Smart Properties API emulator."`
	Provider providerCmd `cmd:"" help:"Service provider onboarding: create, get, update, delete."`
	Network  networkCmd  `cmd:"" help:"Network mapping of a provider to a skill: create, get, update, delete."`
	Products productsCmd `cmd:"" help:"In-skill products: sync or plan skill associations from CSV; list, get, create, update, delete, skills."`
	Version  versionCmd  `cmd:"" help:"Print the version."`
}

// logFlags are on every command that talks.
type logFlags struct {
	LogFormat string `enum:"auto,json,console" default:"auto" help:"Log format: console on a terminal, JSON lines otherwise."`
	LogLevel  string `enum:"debug,info,warn,error" default:"info" help:"Log level."`
}

// apiFlags reach the API: host, credentials' token endpoint, and the pool.
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
