package main

import (
	"context"
	"time"

	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/job"
	"github.com/bulksync/bulksync/internal/reconcile"
)

// inputFlags say how to read the files.
type inputFlags struct {
	ServiceProviderID string             `name:"service-provider-id" placeholder:"ID" help:"Provider for rows without a serviceProviderId value."`
	Delimiter         csvmodel.Delimiter `default:"auto" placeholder:"C" help:"Field delimiter: , ; or tab; sniffed from the header line when auto (the default)."`
	Column            []string           `sep:"none" placeholder:"FIELD=HEADER" help:"Read FIELD from the column named HEADER, whatever the aliases say (repeatable), e.g. --column externalUserId=\"Room Ext\"."`
	fileFlags         `embed:""`
}

// fileFlags say which files are the input.
type fileFlags struct {
	MaxAge time.Duration `name:"max-age" placeholder:"D" help:"Refuse (exit 3, before any call) a file modified longer ago than D, e.g. 26h: an export that stopped coming is not applied again."`
	Newest bool          `help:"Each FILE is a pattern (a * in its last part, e.g. s3://pms/exports/rooms-*.csv): read its newest match."`
	Files  []string      `arg:"" optional:"" name:"FILE" help:"CSV files, paths or URLs (s3://, gs://, azblob://, sftp://USER@HOST/PATH); several files are one input; - reads standard input."`
}

func (f *inputFlags) input() job.Input {
	return job.Input{Files: f.Files, Delimiter: f.Delimiter, DefaultProvider: f.ServiceProviderID, Columns: f.Column, MaxAge: f.MaxAge, Newest: f.Newest}
}

// runFlags shape a sync or a plan, of rooms or of products.
type runFlags struct {
	apiFlags         `embed:""`
	logFlags         `embed:""`
	Prune            bool             `help:"Mirror mode: also delete the associations of each provider (skill) in the files that no row names."`
	MaxDeletes       *reconcile.Limit `placeholder:"N|P%" help:"Abort before the first write when the plan deletes more than N, or P% of a provider's (skill's) existing associations; -1: no limit; default 10%. Judged on the whole plan, whatever --shard. With --plan, the stricter of this (or 10%) and the limit the plan was made under."`
	AllowEmpty       bool             `help:"Allow input with no valid row (otherwise it aborts: an empty export must never wipe a property)."`
	Strict           bool             `help:"Any invalid row aborts the run before the first call."`
	Report           string           `default:"bulksync-report.csv" placeholder:"PATH" help:"Per-row report (CSV); - for stdout; default ${default}. Output paths take {run_id} and {time} (UTC)."`
	Summary          string           `placeholder:"PATH" help:"Write the run summary as JSON here."`
	Rejects          string           `placeholder:"PATH" help:"Write the rows that end invalid or failed here, in their file's own columns plus error_type and error: fix the cells and feed it to sync again."`
	Undo             []string         `sep:"none" placeholder:"REPORT" help:"Revert what the run of this report changed, where the API still holds what it left (repeatable; instead of FILE)."`
	Progress         string           `enum:"auto,on,off" default:"auto" help:"Live progress bar: auto shows it on a terminal and logs a progress line every 10 s otherwise; on forces the bar; off shows neither."`
	ProgressInterval time.Duration    `default:"10s" hidden:"" help:"Interval of progress log lines."`
	Pushgateway      string           `placeholder:"URL" help:"Push the run's metrics to this Prometheus Pushgateway at the end (also of an interrupted run)."`
	MetricsInstance  string           `placeholder:"NAME" help:"Name of the property in the metrics' group (instance); default: the run's providers (skills), sorted and joined with commas."`
	Shard            *reconcile.Shard `placeholder:"I/N" help:"Only rows whose stable hash of (provider, externalUserId), or of the skill for products, falls in shard I of N; every shard judges the whole plan's guards. Default from JOB_COMPLETION_INDEX and BULKSYNC_SHARD_COUNT. Give each shard --rps divided by N."`
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

type exportCmd struct {
	onboardFlags      `embed:""`
	ServiceProviderID []string `name:"service-provider-id" placeholder:"ID" help:"Provider whose associations to export (repeatable; with --emulate, the demo provider by default)."`
	Out               string   `default:"-" placeholder:"FILE" help:"Write the file here, whole or not at all ({run_id} and {time} filled); - (the default) for stdout."`
}

type validateCmd struct {
	inputFlags `embed:""`
	logFlags   `embed:""`
	Rejects    string `placeholder:"PATH" help:"Write the invalid rows here, in their file's own columns plus error_type and error."`
}

func (c *syncCmd) Help() string     { return help("sync") }
func (c *planCmd) Help() string     { return help("plan") }
func (c *validateCmd) Help() string { return help("validate") }
func (c *exportCmd) Help() string   { return help("export") }

func (c *syncCmd) Run(ctx context.Context, g *globals) error {
	return c.run(ctx, g, job.Options{Command: "sync", Input: c.input(), PlanIn: c.Plan, CreateProfiles: c.CreateProfiles})
}

func (c *planCmd) Run(ctx context.Context, g *globals) error {
	return c.run(ctx, g, job.Options{Command: "plan", DryRun: true, Input: c.input(), PlanOut: c.Out, DetailedChanges: c.DetailedExitcode,
		CreateProfiles: c.CreateProfiles})
}

func (c *validateCmd) Run(ctx context.Context, g *globals) error {
	o := g.io(c.logFlags, "")
	res, err := job.Validate(ctx, c.input(), c.Rejects, o)
	return g.end(o, res, err)
}

// run connects and runs a sync or plan o, of rooms or (smapi) products,
// with the flags they share, and tells how it ended.
func (f *runFlags) run(ctx context.Context, g *globals, o job.Options) error {
	s, streams, err := f.open(g, f.logFlags, o.Products, o.Command)
	if err == nil {
		defer s.Close()
		o.Prune, o.MaxDeletes, o.AllowEmpty, o.Strict = f.Prune, f.MaxDeletes, f.AllowEmpty, f.Strict
		o.Report, o.Summary, o.Progress, o.ProgressInterval = f.Report, f.Summary, f.Progress, f.ProgressInterval
		o.Pushgateway, o.MetricsInstance, o.Rejects, o.Undo = f.Pushgateway, f.MetricsInstance, f.Rejects, f.Undo
		o.IO = streams
		if o.Shard, err = job.ShardOf(f.Shard, g.env); err == nil {
			var res job.Result
			res, err = job.Run(ctx, s, o)
			return g.end(streams, res, err)
		}
	}
	return g.end(streams, job.Result{Verdict: job.VerdictOf(err)}, err)
}

func (c *exportCmd) Run(ctx context.Context, g *globals) error {
	return c.manage(ctx, g, job.ManageOptions{Op: "export", Providers: c.ServiceProviderID, Out: c.Out}, false)
}
