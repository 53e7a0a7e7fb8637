package main

import (
	"context"
	"fmt"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/job"
)

type emulatorCmd struct {
	logFlags            `embed:""`
	Addr                string        `default:"127.0.0.1:8080" help:"Address to listen on (loopback by default)."`
	State               string        `placeholder:"FILE" help:"Load the state at start, save it on change and on exit (JSON)."`
	Token               string        `placeholder:"T" help:"Also accept this static bearer token (a test token, not a secret)."`
	TokenTTL            time.Duration `name:"token-ttl" default:"1h" help:"Lifetime of issued access tokens."`
	RPS                 float64       `name:"rps" default:"0" help:"Server-side limit of calls per second, judged as a call arrives; beyond it answer 429 with Retry-After (0: none)."`
	Burst               int           `default:"0" help:"Calls the server-side limit lets through at once (0: same as --rps; 1: a strict server)."`
	NoRetryAfter        bool          `name:"no-retry-after" help:"Answer 429 without a Retry-After header."`
	RPSSchedule         string        `name:"rps-schedule" placeholder:"SPEC" help:"Later server-side limits, counted from the first call, e.g. 6s:15,12s:30 (halve at 6 s, back at 12 s)."`
	Latency             time.Duration `default:"0s" help:"Added to every answer, with jitter."`
	PageSize            int           `default:"10" help:"Page limit of queries."`
	Faults              string        `placeholder:"SPEC" help:"Share of calls answered badly, e.g. 500:0.05,503:0.05,429:0.02,reset:0.01,commit500:0.02,slow:0.01."`
	TokenFaults         string        `placeholder:"SPEC" help:"The same, for the token endpoint (status, reset or slow)."`
	TotalCount          string        `enum:"provider,matches" default:"provider" help:"What a filtered query's totalCount counts: every association of the provider, or the matches (the reference page allows either)."`
	FaultSeed           uint64        `default:"1" help:"Seed of the fault sequence: the same seed replays the same faults."`
	SlowDelay           time.Duration `default:"35s" help:"How late a 'slow' fault answers (above the client's timeout)."`
	SeedProvider        string        `default:"${demo_provider}" help:"Create this provider at start (- for none)."`
	SeedProducts        int           `default:"0" help:"Create this many demo in-skill products of vendor ${demo_vendor} at start."`
	RotateRefreshTokens bool          `help:"Answer every token grant with a new refresh token, as Login with Amazon may."`
	EchoSecrets         bool          `name:"echo-secrets" help:"Repeat the posted token form and the Authorization header in error answers, as a hostile server may."`
	QueryAmazonIDType   string        `name:"query-amazon-id-type" placeholder:"omit|SPELLING" help:"Answer queries without amazonIdType (omit) or with this spelling of it."`
	ISPBlankID          string        `name:"isp-blank-id" placeholder:"empty|omit" help:"List the first entry of every in-skill product list with an empty (empty) or no (omit) id."`
	EndlessPages        string        `name:"endless-pages" placeholder:"empty|repeat|same" help:"Never end a listing: new tokens with empty pages (empty) or the listing again (repeat), or the same token again (same)."`
}

func (c *emulatorCmd) Help() string {
	return fmt.Sprintf(help("emulator"), emulator.DefaultClientID, emulator.DefaultClientSecret, emulator.DefaultRefreshToken, emulator.DefaultProvider)
}

func (c *emulatorCmd) Run(ctx context.Context, g *globals) error {
	log := g.io(c.logFlags, "").Log
	srv, err := emulator.Listen(emulator.Options{
		StateFile: c.State, StaticToken: c.Token, TokenTTL: c.TokenTTL, RPS: c.RPS, Burst: c.Burst,
		NoRetryAfter: c.NoRetryAfter, RPSSchedule: c.RPSSchedule, Latency: c.Latency,
		PageSize: c.PageSize, Faults: c.Faults, TokenFaults: c.TokenFaults, TotalCount: c.TotalCount, Seed: c.FaultSeed, SlowDelay: c.SlowDelay,
		SeedProvider: c.SeedProvider, SeedProducts: c.SeedProducts, RotateRefreshTokens: c.RotateRefreshTokens,
		EchoSecrets: c.EchoSecrets, QueryAmazonIDType: c.QueryAmazonIDType, ISPBlankID: c.ISPBlankID, EndlessPages: c.EndlessPages,
	}, c.Addr)
	if err != nil {
		return g.told(job.Usage, fmt.Errorf("emulator: %w", err))
	}
	fmt.Fprintf(g.stdout, "listening on %s\n", srv.URL)
	log.Info().Str("url", srv.URL).Str("state", c.State).Str("faults", c.Faults).Float64("rps", c.RPS).Msg("emulator serving")
	err = srv.Wait(ctx)
	log.Info().Msg("stopping: saving state")
	if cerr := srv.Close(); cerr != nil {
		return fmt.Errorf("emulator: %w", cerr)
	}
	return err
}
