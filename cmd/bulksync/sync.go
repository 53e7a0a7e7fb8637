package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/rs/zerolog"
)

// inputFlags say how to read the files.
type inputFlags struct {
	ServiceProviderID string   `name:"service-provider-id" placeholder:"ID" help:"Provider for rows without a serviceProviderId value."`
	Delimiter         string   `default:"auto" placeholder:"C" help:"Field delimiter: , ; or tab; sniffed from the header line when auto (the default)."`
	Files             []string `arg:"" optional:"" name:"FILE" help:"CSV files; several files are one input."`
}

// runFlags shape a sync or a plan.
type runFlags struct {
	apiFlags         `embed:""`
	inputFlags       `embed:""`
	logFlags         `embed:""`
	Prune            bool          `help:"Mirror mode: also delete the provider's associations whose externalUserId is in no file."`
	MaxDeletes       string        `default:"10%" placeholder:"N|P%" help:"Abort before the first write when the plan deletes more than N, or P% of the provider's existing associations; -1: no limit; default ${default}."`
	AllowEmpty       bool          `help:"Allow input with no valid row (otherwise it aborts: an empty export must never wipe a property)."`
	Strict           bool          `help:"Any invalid row aborts the run before the first call."`
	Report           string        `default:"bulksync-report.csv" placeholder:"PATH" help:"Per-row report (CSV); - for stdout; default ${default}."`
	Summary          string        `placeholder:"PATH" help:"Write the run summary as JSON here."`
	Progress         string        `enum:"auto,on,off" default:"auto" help:"Live progress bar: auto shows it on a terminal and logs a progress line every 10 s otherwise; on forces the bar; off shows neither."`
	ProgressInterval time.Duration `default:"10s" hidden:"" help:"Interval of progress log lines."`
	Pushgateway      string        `placeholder:"URL" help:"Push the run's metrics to this Prometheus Pushgateway at the end (also of an interrupted run)."`
	Shard            string        `placeholder:"I/N" help:"Only rows whose stable hash of (provider, externalUserId) falls in shard I of N; default from JOB_COMPLETION_INDEX and BULKSYNC_SHARD_COUNT. Give each shard --rps divided by N."`
}

type syncCmd struct {
	runFlags `embed:""`
	Plan     string `placeholder:"FILE" help:"Apply exactly this saved plan (from plan --out), refusing (exit 3) if any id it touches changed since."`
}

type planCmd struct {
	runFlags         `embed:""`
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
4 interrupted by SIGINT/SIGTERM.`
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
  bulksync validate --service-provider-id amzn1.comms.csp.id.hotel1 rooms.csv`
}

func (c *syncCmd) Run(ctx context.Context, g *globals) error {
	return runSync(ctx, g, "sync", &c.runFlags, runOpts{planIn: c.Plan})
}

func (c *planCmd) Run(ctx context.Context, g *globals) error {
	return runSync(ctx, g, "plan", &c.runFlags, runOpts{planOut: c.Out, detailedExit: c.DetailedExitcode})
}

// runOpts are what only one of sync and plan has.
type runOpts struct {
	planIn, planOut string
	detailedExit    bool
}

func (c *validateCmd) Run(g *globals) error {
	log := newLogger(g.stderr, c.logFlags, newRunID())
	// Rows stream through: validate holds no row, so any size of file fits.
	r, err := readInput(&c.inputFlags, "", func(row csvmodel.Checked) {
		switch row.Status {
		case csvmodel.Invalid:
			fmt.Fprintf(g.stdout, "%s: %s\n", row.Where(), row.Reason)
		case csvmodel.Duplicate:
			fmt.Fprintf(g.stdout, "%s: duplicate, %s (not sent twice)\n", row.Where(), row.Reason)
		}
	})
	if err != nil {
		return err
	}
	valid, dups, invalid := r.Counts()
	log.Info().Int("valid", valid).Int("duplicate", dups).Int("invalid", invalid).Strs("files", c.Files).Msg("validated")
	fmt.Fprintf(g.stderr, "%d rows: %d valid, %d duplicate, %d invalid\n", valid+dups+invalid, valid, dups, invalid)
	if invalid > 0 {
		return &exitError{code: exitRowsFailed}
	}
	return nil
}

// shardOf reads --shard, or JOB_COMPLETION_INDEX and BULKSYNC_SHARD_COUNT
// as an Indexed Job sets them.
func shardOf(flag string, e env) (reconcile.Shard, error) {
	if flag == "" {
		idx, cnt := e["JOB_COMPLETION_INDEX"], e["BULKSYNC_SHARD_COUNT"]
		if idx == "" || cnt == "" {
			return reconcile.Shard{}, nil
		}
		flag = idx + "/" + cnt
	}
	s, err := reconcile.ParseShard(flag)
	if err != nil {
		return s, usageErr("--%v (or JOB_COMPLETION_INDEX and BULKSYNC_SHARD_COUNT)", err)
	}
	return s, nil
}

// readInput reads and checks every file; a rejected file is an error.
func readInput(f *inputFlags, defaultProvider string, onRow func(csvmodel.Checked)) (*csvmodel.Reader, error) {
	delim, err := parseDelimiter(f.Delimiter)
	if err != nil {
		return nil, err
	}
	provider := f.ServiceProviderID
	if provider == "" {
		provider = defaultProvider
	}
	if provider != "" {
		if msg := csvmodel.CheckProvider(provider); msg != "" {
			return nil, usageErr("--service-provider-id: %s", msg)
		}
	}
	r := csvmodel.NewReader(csvmodel.Options{Delimiter: delim, DefaultProvider: provider, OnRow: onRow})
	for _, path := range f.Files {
		if err := r.ReadFile(path); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func parseDelimiter(s string) (rune, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return 0, nil
	case ",", "comma":
		return ',', nil
	case ";", "semicolon":
		return ';', nil
	case "\t", "tab", `\t`:
		return '\t', nil
	}
	return 0, usageErr("--delimiter %q: want , ; tab or auto", s)
}

func newRunID() string { return randomToken()[len("emulate."):][:12] }

// runSync is sync and plan: they share every step up to the first write.
func runSync(ctx context.Context, g *globals, command string, f *runFlags, o runOpts) error {
	start := time.Now()
	runID := newRunID()
	log := newLogger(g.stderr, f.logFlags, runID).With().Str("command", command).Logger()
	if err := checkAPIFlags(&f.apiFlags); err != nil {
		return err
	}
	limit, err := reconcile.ParseLimit(f.MaxDeletes)
	if err != nil {
		return usageErr("--%v", err)
	}
	shard, err := shardOf(f.Shard, g.env)
	if err != nil {
		return err
	}
	defaultProvider := ""
	if f.Emulate {
		defaultProvider = emulator.DefaultProvider
	}
	var input *csvmodel.Reader
	var saved []reconcile.Write
	switch {
	case o.planIn != "" && len(f.Files) > 0:
		return usageErr("--plan applies a saved plan: give no FILE with it")
	case o.planIn != "":
		if saved, err = reconcile.LoadPlan(o.planIn); err != nil {
			return usageErr("%v", err)
		}
	case len(f.Files) == 0:
		return usageErr("no FILE given: name the CSV files to %s (or --plan FILE)", command)
	default:
		if input, err = readInput(&f.inputFlags, defaultProvider, nil); err != nil {
			return err
		}
	}
	sess, err := connect(g, &f.apiFlags, log)
	if err != nil {
		return err
	}
	defer sess.close()

	rep, err := openReport(g, f.Report)
	if err != nil {
		return err
	}
	ctx, stopSignals := interruptible(ctx, log, rep)
	defer stopSignals()

	plan := newPlanView()
	var prog *report.Progress
	total := len(saved)
	if input != nil {
		total = len(input.Rows())
	}
	if f.Progress != "off" {
		bar := f.Progress == "on" || isTerminal(g.stderr)
		prog = report.NewProgress(total, bar, g.stderr, log, f.ProgressInterval, func() int {
			n := 0
			for _, c := range sess.pool.Stats().Calls {
				n += c
			}
			return n
		})
	}
	var planned []reconcile.Write
	eng := &reconcile.Engine{
		Planned: func(w reconcile.Write) { planned = append(planned, w) },
		API:     sess.api,
		Pool:    sess.pool,
		Report: func(r report.Row) {
			rep.Write(r)
			if prog != nil {
				prog.Add(r)
			}
			if r.Outcome == report.Planned {
				plan.add(r)
			}
		},
		Log: log,
		Opts: reconcile.Options{DryRun: command == "plan", MaxDeletes: limit, AllowEmpty: f.AllowEmpty, Strict: f.Strict,
			Prune: f.Prune, Shard: shard},
	}
	var runErr error
	if input != nil {
		valid, dups, invalid := input.Counts()
		rows := input.Rows()
		if shard.Count > 1 {
			mine := rows[:0:0]
			for _, r := range rows {
				if shard.Has(r.ServiceProviderID, r.ExternalUserID) {
					mine = append(mine, r)
				}
			}
			rows = mine
		}
		log.Info().Strs("files", f.Files).Int("valid", valid).Int("duplicate", dups).Int("invalid", invalid).
			Str("shard", shard.String()).Int("rows_in_shard", len(rows)).Msg("input read")
		runErr = eng.Run(ctx, rows)
	} else {
		log.Info().Str("plan", o.planIn).Int("writes", len(saved)).Msg("applying saved plan")
		runErr = eng.RunPlan(ctx, saved)
	}
	if o.planOut != "" && runErr == nil {
		if err := reconcile.SavePlan(o.planOut, planned, time.Now()); err != nil {
			runErr = &exitError{code: exitUsage, err: err}
		}
	}
	if prog != nil {
		prog.Close()
	}
	if err := rep.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("report %s: %w", f.Report, err)
	}

	stats := sess.pool.Stats()
	sum := report.NewSummary(command, rep.Counts(), stats.Calls, stats.Retries, stats.Throttled, time.Since(start))
	if f.Report != "-" {
		sum.Report = f.Report
	}
	if command == "plan" {
		plan.write(g.stderr)
	}
	code := exitCode(runErr)
	if runErr == nil {
		if sum.Outcomes[report.Invalid]+sum.Outcomes[report.Failed] > 0 {
			code = exitRowsFailed
			runErr = &exitError{code: exitRowsFailed}
		} else if o.detailedExit && plan.changes() > 0 {
			code = exitChanges
			runErr = &exitError{code: exitChanges}
		}
	}
	sum.ExitCode = code
	if runErr != nil {
		var ee *exitError
		if !errors.As(runErr, &ee) || ee.err != nil {
			sum.Message = runErr.Error()
		}
	}
	sum.WriteText(g.stderr)
	if f.Pushgateway != "" {
		shardLabel := ""
		if shard.Count > 1 {
			shardLabel = shard.String()
		}
		m := report.RunMetrics{Summary: sum, Statuses: stats.Statuses, Shard: shardLabel, Success: code == exitOK}
		if err := report.Push(f.Pushgateway, m, time.Now()); err != nil {
			log.Error().Err(err).Msg("metrics not pushed")
		}
	}
	if f.Summary != "" {
		if err := writeSummary(f.Summary, sum); err != nil {
			log.Error().Err(err).Msg("summary not written")
		}
	}
	if sum.Message != "" {
		return &exitError{code: code} // told in the summary already
	}
	return runErr
}

func writeSummary(path string, s report.Summary) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := s.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func openReport(g *globals, path string) (*report.Writer, error) {
	if path == "-" {
		return report.NewWriter(g.stdout, nil)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, usageErr("--report: %v", err)
	}
	return report.NewWriter(f, f)
}

// interrupted is why a run stopped early on a signal; it is a
// context.Canceled, so the exit code is 4.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string {
	return fmt.Sprintf("interrupted by %v: no new call was started, rows not sent are reported as skipped", i.sig)
}

func (interrupted) Is(target error) bool { return target == context.Canceled }

// interruptible cancels ctx on the first SIGINT or SIGTERM, so no new call
// starts and calls in flight finish. A second signal exits at once, after
// flushing what the report has.
func interruptible(ctx context.Context, log zerolog.Logger, rep *report.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case sig := <-sigs:
			log.Warn().Str("signal", sig.String()).Msg("stopping: no new calls; waiting for calls in flight (signal again to quit at once)")
			cancel(interrupted{sig})
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			log.Error().Str("signal", sig.String()).Msg("quitting at once; the report has every row finished so far")
			rep.Flush()
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel(nil)
		})
	}
}

// planView gathers what a plan would write, for people.
type planView struct {
	mu    sync.Mutex
	byP   map[string]map[string]int
	first map[string][]report.Row
}

func newPlanView() *planView {
	return &planView{byP: map[string]map[string]int{}, first: map[string][]report.Row{}}
}

func (p *planView) add(r report.Row) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.byP[r.ServiceProviderID]
	if m == nil {
		m = map[string]int{}
		p.byP[r.ServiceProviderID] = m
	}
	m[r.Action]++
	key := r.ServiceProviderID + " " + r.Action
	if len(p.first[key]) < 5 {
		p.first[key] = append(p.first[key], r)
	}
}

func (p *planView) changes() int {
	n := 0
	for _, m := range p.byP {
		for _, c := range m {
			n += c
		}
	}
	return n
}

func (p *planView) write(w io.Writer) {
	if p.changes() == 0 {
		fmt.Fprintln(w, "\nplan: no changes; the API already matches the files")
		return
	}
	for _, id := range slices.Sorted(maps.Keys(p.byP)) {
		m := p.byP[id]
		fmt.Fprintf(w, "\nplan for %s: %d to create, %d to update, %d to delete\n", id, m[report.ActCreate], m[report.ActUpdate], m[report.ActDelete])
		for _, act := range []string{report.ActCreate, report.ActUpdate, report.ActDelete} {
			rows := p.first[id+" "+act]
			sort.Slice(rows, func(i, j int) bool {
				return rows[i].File < rows[j].File || rows[i].File == rows[j].File && rows[i].Line < rows[j].Line
			})
			for _, r := range rows {
				where := "(pruned)"
				if r.File != "" {
					where = fmt.Sprintf("%s:%d", r.File, r.Line)
				}
				switch act {
				case report.ActCreate:
					fmt.Fprintf(w, "  + %-8s -> %s   %s\n", r.ExternalUserID, r.AmazonID, where)
				case report.ActUpdate:
					fmt.Fprintf(w, "  ~ %-8s %s -> %s   %s\n", r.ExternalUserID, r.PreviousAmazonID, r.AmazonID, where)
				default:
					fmt.Fprintf(w, "  - %-8s (was %s)   %s\n", r.ExternalUserID, r.PreviousAmazonID, where)
				}
			}
			if n := m[act]; n > len(rows) {
				fmt.Fprintf(w, "    … and %d more\n", n-len(rows))
			}
		}
	}
}
