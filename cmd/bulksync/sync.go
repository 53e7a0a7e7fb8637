package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/job"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/rs/zerolog"
)

// inputFlags say how to read the files.
type inputFlags struct {
	ServiceProviderID string             `name:"service-provider-id" placeholder:"ID" help:"Provider for rows without a serviceProviderId value."`
	Delimiter         csvmodel.Delimiter `default:"auto" placeholder:"C" help:"Field delimiter: , ; or tab; sniffed from the header line when auto (the default)."`
	Column            []string           `sep:"none" placeholder:"FIELD=HEADER" help:"Read FIELD from the column named HEADER, whatever the aliases say (repeatable), e.g. --column externalUserId=\"Room Ext\"."`
	Files             []string           `arg:"" optional:"" name:"FILE" help:"CSV files; several files are one input; - reads standard input."`
}

// runFlags shape a sync or a plan, of rooms or of products.
type runFlags struct {
	apiFlags         `embed:""`
	logFlags         `embed:""`
	Prune            bool             `help:"Mirror mode: also delete the associations of each provider (skill) in the files that no row names."`
	MaxDeletes       *reconcile.Limit `placeholder:"N|P%" help:"Abort before the first write when the plan deletes more than N, or P% of a provider's (skill's) existing associations; -1: no limit; default 10%, or with --plan the limit the plan was made under (a stricter one given here also applies)."`
	AllowEmpty       bool             `help:"Allow input with no valid row (otherwise it aborts: an empty export must never wipe a property)."`
	Strict           bool             `help:"Any invalid row aborts the run before the first call."`
	Report           string           `default:"bulksync-report.csv" placeholder:"PATH" help:"Per-row report (CSV); - for stdout; default ${default}."`
	Summary          string           `placeholder:"PATH" help:"Write the run summary as JSON here."`
	Progress         string           `enum:"auto,on,off" default:"auto" help:"Live progress bar: auto shows it on a terminal and logs a progress line every 10 s otherwise; on forces the bar; off shows neither."`
	ProgressInterval time.Duration    `default:"10s" hidden:"" help:"Interval of progress log lines."`
	Pushgateway      string           `placeholder:"URL" help:"Push the run's metrics to this Prometheus Pushgateway at the end (also of an interrupted run)."`
	Shard            *reconcile.Shard `placeholder:"I/N" help:"Only rows whose stable hash of (provider, externalUserId) or (skill, product) falls in shard I of N; default from JOB_COMPLETION_INDEX and BULKSYNC_SHARD_COUNT. Give each shard --rps divided by N."`
}

// roomFlags are the rooms' own flags of sync and plan.
type roomFlags struct {
	CreateProfiles bool `name:"create-profiles" help:"Create the communication profile of a row's unitId that has none (report column profile: created); plan lists them and creates none."`
}

type syncCmd struct {
	runFlags   `embed:""`
	inputFlags `embed:""`
	roomFlags  `embed:""`
	Plan       string `placeholder:"FILE" help:"Apply exactly this saved plan (from plan --out), refusing (exit 3) if any id it touches changed since."`
}

type planCmd struct {
	runFlags         `embed:""`
	inputFlags       `embed:""`
	roomFlags        `embed:""`
	Out              string `placeholder:"FILE" help:"Save the plan: the exact writes and the state each was computed from, for sync --plan."`
	DetailedExitcode bool   `name:"detailed-exitcode" help:"Exit 5 when there are changes to make."`
}

type validateCmd struct {
	inputFlags `embed:""`
	logFlags   `embed:""`
}

func (c *syncCmd) Help() string {
	return `Reads the files, queries what exists 30 ids at a time, and creates, updates or deletes
associations so the API matches the files. A second run over the same files writes nothing.

Example:
  export BULKSYNC_ACCESS_TOKEN_FILE=/var/run/secrets/bulksync/token
  bulksync sync --service-provider-id amzn1.comms.csp.id.hotel1 --report out/report.csv rooms.csv

  bulksync sync --emulate samples/rooms.csv     # against the built-in emulator

Exit codes: 0 all rows in their desired state; 1 some rows invalid or failed (see the report);
2 usage or input error, nothing written; 3 a guard tripped or authentication was refused;
4 interrupted by SIGINT/SIGTERM; 6 an output (--report, --summary, stdout) could not be
written: up front nothing was sent; mid-run the run stopped as on SIGTERM.`
}

func (c *planCmd) Help() string {
	return `Does everything sync does up to the first write, then prints the plan instead:
creates, updates and deletes per provider. The report lists every row with outcome "planned"
for the writes sync would make.

Example:
  bulksync plan --emulate --detailed-exitcode samples/rooms-v2.csv`
}

func (c *validateCmd) Help() string {
	return `Reads and checks the files as sync would, with no network at all, and prints every
problem as FILE:LINE: reason. Exit 0 when every row is valid, 1 when some are not, 2 when a file
can't be read at all.

Example:
  bulksync validate --service-provider-id amzn1.comms.csp.id.hotel1 rooms.csv
  bulksync validate --service-provider-id amzn1.comms.csp.id.demo --column externalUserId=Extension samples/messy-export.csv`
}

func (c *syncCmd) Run(ctx context.Context, g *globals) error {
	cfg, err := c.config("sync", g, c.input(c.Emulate, g))
	if err != nil {
		return err
	}
	cfg.PlanIn, cfg.CreateProfiles = c.Plan, c.CreateProfiles
	return runJob(ctx, g, &c.runFlags, cfg, runRooms)
}

func (c *planCmd) Run(ctx context.Context, g *globals) error {
	cfg, err := c.config("plan", g, c.input(c.Emulate, g))
	if err != nil {
		return err
	}
	cfg.DryRun, cfg.PlanOut, cfg.DetailedChanges, cfg.CreateProfiles = true, c.Out, c.DetailedExitcode, c.CreateProfiles
	return runJob(ctx, g, &c.runFlags, cfg, runRooms)
}

func (c *validateCmd) Run(g *globals) error {
	log := newLogger(g, c.logFlags, newRunID())
	asJSON := jsonLogs(g, c.logFlags)
	res, err := job.Validate(c.input(false, g), job.Deps{Stdout: g.stdout, Stderr: g.stderr, Log: log, JSONLogs: asJSON})
	if asJSON && err != nil {
		return closingEvent(log, &verdictError{res.Verdict, err})
	}
	return verdict(res, err)
}

// input is what the input flags ask for; with --emulate, rows without a
// provider go to the emulator's demo provider.
func (f *inputFlags) input(emulate bool, g *globals) job.Input {
	in := job.Input{Files: f.Files, Delimiter: f.Delimiter, DefaultProvider: f.ServiceProviderID, Columns: f.Column, Stdin: g.stdin}
	if in.DefaultProvider == "" && emulate {
		in.DefaultProvider = emulator.DefaultProvider
	}
	return in
}

// config is the job a sync or plan's flags ask for, of input in.
func (f *runFlags) config(command string, g *globals, in job.Input) (job.Config, error) {
	shard, err := shardOf(f.Shard, g.env)
	if err != nil {
		return job.Config{}, err
	}
	return job.Config{Command: command, Input: in, Prune: f.Prune, MaxDeletes: f.MaxDeletes, AllowEmpty: f.AllowEmpty, Strict: f.Strict,
		Shard: shard, Report: f.Report, Summary: f.Summary, Progress: f.Progress, ProgressInterval: f.ProgressInterval,
		Pushgateway: f.Pushgateway}, nil
}

// jobRun is one resource's sync or plan in an open session.
type jobRun func(ctx context.Context, cfg job.Config, s *job.Session, d job.Deps) (job.Result, error)

func runRooms(ctx context.Context, cfg job.Config, s *job.Session, d job.Deps) (job.Result, error) {
	d.Profiles = s.API // rows that name a unit are resolved to its profile
	return job.Run(ctx, cfg, d)
}

// runJob connects and runs a sync or plan.
func runJob(ctx context.Context, g *globals, f *runFlags, cfg job.Config, do jobRun) error {
	log := newLogger(g, f.logFlags, newRunID()).With().Str("command", cfg.Command).Logger()
	asJSON := jsonLogs(g, f.logFlags)
	sess, err := connect(g, &f.apiFlags, log)
	if err != nil {
		if asJSON {
			return closingEvent(log, err)
		}
		return err
	}
	defer sess.Close()
	res, err := do(ctx, cfg, sess, job.Deps{API: sess.API, Caller: sess.Caller, Stdout: g.stdout, Stderr: g.stderr,
		Terminal: g.term, JSONLogs: asJSON, Log: log, Hint: hint, ExitCode: exitCode, OnReport: g.onReport})
	switch {
	case asJSON && res.Told:
		return &verdictError{res.Verdict, nil}
	case asJSON && err != nil:
		return closingEvent(log, &verdictError{res.Verdict, err})
	}
	return verdict(res, err)
}

// closingEvent tells, with JSON logs, how a sync or plan that stopped
// before its run could tell it ended: as the run's own closing event would.
func closingEvent(log zerolog.Logger, err error) error {
	v := verdictOf(err)
	report.Summary{ExitCode: exitCode(v), Message: err.Error(), Hint: hint(err)}.Log(log, zerolog.ErrorLevel)
	return &verdictError{v, nil}
}

// verdict is the error a job's result ends the command with.
func verdict(res job.Result, err error) error {
	if err == nil && res.Verdict == job.Clean {
		return nil
	}
	return &verdictError{res.Verdict, err}
}

// shardOf is --shard or, without it, JOB_COMPLETION_INDEX and
// BULKSYNC_SHARD_COUNT as an Indexed Job sets them.
func shardOf(flag *reconcile.Shard, e env) (reconcile.Shard, error) {
	idx, cnt := e["JOB_COMPLETION_INDEX"], e["BULKSYNC_SHARD_COUNT"]
	switch {
	case flag != nil:
		return *flag, nil
	case idx == "" || cnt == "":
		return reconcile.Shard{}, nil
	}
	s, err := reconcile.ParseShard(idx + "/" + cnt)
	if err != nil {
		return s, usageErr("JOB_COMPLETION_INDEX and BULKSYNC_SHARD_COUNT: %v", err)
	}
	return s, nil
}

func newRunID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
