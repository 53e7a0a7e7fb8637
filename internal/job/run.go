package job

import (
	"context"
	"fmt"
	"iter"
	"strconv"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
)

// spec is what a run needs to know of one resource beyond the engine's
// Resource: its input, its report columns, and how people see a value.
type spec[V any] struct {
	res reconcile.Resource[V]
	// rows reads the input: its first pass checks every row; the rows are
	// then ranged by the engine (twice).
	rows func(shard reconcile.Shard) (source[V], error)
	// check says why a saved plan's write could not have come from a valid row.
	check        func(reconcile.Write[V]) string
	header       []string
	record       func(reconcile.Fate[V]) []string
	describe     func(V) string
	words        planWords // what the plan view calls the writes; zero: create, update, delete
	defaultGroup string
}

// source is a run's input, checked and ready to be ranged.
type source[V any] struct {
	rows  iter.Seq2[reconcile.Row[V], error]
	total int // rows of the shard, for progress
	blank int // rows skipped because every field was empty
	close func() error
}

// run is a sync or plan of one resource.
func run[V any](ctx context.Context, cfg Config, d Deps, sp spec[V]) (Result, error) {
	start := d.Now()
	in, saved, err := input(cfg, d, sp)
	if err != nil {
		return Result{Verdict: VerdictOf(err)}, err
	}
	limit := DefaultMaxDeletes
	switch {
	case saved != nil && cfg.MaxDeletes != nil:
		limit = saved.MaxDeletes.Stricter(*cfg.MaxDeletes)
	case saved != nil:
		limit = saved.MaxDeletes // as it was reviewed
	case cfg.MaxDeletes != nil:
		limit = *cfg.MaxDeletes
	}
	if in.close != nil {
		defer in.close()
	}
	total := in.total
	rep, err := openReport(cfg.Report, d.Stdout, sp.header)
	if err != nil {
		return Result{Verdict: VerdictOf(err)}, err
	}
	if d.OnReport != nil {
		d.OnReport(rep.Flush)
	}
	stopLog := context.AfterFunc(ctx, func() {
		d.Log.Warn().Str("why", context.Cause(ctx).Error()).
			Msg("stopping: no new call starts; calls in flight finish (signal again to quit at once)")
	})
	defer stopLog()
	var prog *report.Progress
	if cfg.Progress != "off" {
		prog = report.NewProgress(total, cfg.Progress == "on" || d.Terminal, d.Stderr, d.Log, cfg.ProgressInterval, func() int {
			n := 0
			for _, c := range d.Pool.Stats().Calls {
				n += c
			}
			return n
		})
	}
	view := newPlanView(sp.describe, sp.words)
	eng := &reconcile.Engine[V]{Res: sp.res, Pool: d.Pool, Log: d.Log,
		Opts: reconcile.Options{DryRun: cfg.DryRun, MaxDeletes: limit, AllowEmpty: cfg.AllowEmpty, Strict: cfg.Strict,
			Prune: cfg.Prune, Shard: cfg.Shard, DefaultGroup: sp.defaultGroup, KeepPlan: cfg.PlanOut != ""},
		Emit: func(f reconcile.Fate[V]) {
			rep.Write(sp.record(f))
			if prog != nil {
				prog.Add(f.Outcome)
			}
			if f.Outcome == report.Planned {
				view.add(f)
			}
		},
	}
	var res reconcile.Result[V]
	var runErr error
	if saved != nil {
		d.Log.Info().Str("plan", cfg.PlanIn).Int("writes", len(saved.Writes)).Str("max_deletes", limit.String()).Msg("applying saved plan")
		res, runErr = eng.Apply(ctx, saved.Writes)
	} else {
		res, runErr = eng.Run(ctx, in.rows)
	}
	if cfg.PlanOut != "" && runErr == nil {
		if err := reconcile.SavePlan(cfg.PlanOut, sp.res, reconcile.Plan[V]{Writes: res.Plan, MaxDeletes: limit}, d.Now()); err != nil {
			runErr = &UsageError{err}
		}
	}
	if prog != nil {
		prog.Close()
	}
	if err := rep.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("report %s: %w", cfg.Report, err)
	}

	stats := d.Pool.Stats()
	sum := report.NewSummary(cfg.Command, res.Counts, stats.Calls, stats.Retries, stats.Throttled, d.Now().Sub(start))
	if cfg.Report != "-" {
		sum.Report = cfg.Report
	}
	sum.BlankRows = in.blank
	if cfg.DryRun {
		view.write(d.Stderr)
	}
	verdict := VerdictOf(runErr)
	if runErr == nil {
		switch {
		case res.Counts[report.Invalid]+res.Counts[report.Failed] > 0:
			verdict = RowsFailed
		case cfg.DetailedChanges && res.Counts[report.Planned] > 0:
			verdict = Changes
		}
	}
	sum.ExitCode = d.ExitCode(verdict)
	if runErr != nil {
		sum.Message = runErr.Error()
	}
	sum.WriteText(d.Stderr)
	if cfg.Pushgateway != "" {
		m := report.RunMetrics{Summary: sum, Statuses: stats.Statuses, Success: verdict == Clean}
		if cfg.Shard.Count > 1 {
			m.Shard = cfg.Shard.String()
		}
		if err := report.Push(cfg.Pushgateway, m, d.Now()); err != nil {
			d.Log.Error().Err(err).Msg("metrics not pushed")
		}
	}
	if cfg.Summary != "" {
		if err := writeSummary(cfg.Summary, sum); err != nil {
			d.Log.Error().Err(err).Msg("summary not written")
		}
	}
	return Result{Verdict: verdict, Summary: sum}, runErr
}

// input is the rows of the files, or a saved plan.
func input[V any](cfg Config, d Deps, sp spec[V]) (source[V], *reconcile.Plan[V], error) {
	switch {
	case cfg.PlanIn != "" && len(cfg.Input.Files) > 0:
		return source[V]{}, nil, usage("a saved plan is applied alone: give no FILE with it")
	case cfg.PlanIn != "":
		saved, err := reconcile.LoadPlan(cfg.PlanIn, sp.res)
		if err != nil {
			return source[V]{}, nil, &UsageError{err}
		}
		for i, w := range saved.Writes {
			if msg := sp.check(w); msg != "" {
				return source[V]{}, nil, usage("plan %s: write %d: %s", cfg.PlanIn, i+1, msg)
			}
		}
		return source[V]{total: len(saved.Writes)}, &saved, nil
	case len(cfg.Input.Files) == 0:
		return source[V]{}, nil, usage("no FILE given: name the CSV files to %s (or a saved plan)", cfg.Command)
	}
	in, err := sp.rows(cfg.Shard)
	return in, nil, err
}

// cells of a report record shared by every resource.
func where(src reconcile.Source) (file, line string) {
	if src.Line == 0 {
		return src.File, ""
	}
	return src.File, strconv.Itoa(src.Line)
}

func status(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func outcomeCells[V any](f reconcile.Fate[V]) []string {
	return []string{f.Action.String(), f.Outcome.String(), status(f.Status), f.ErrType, f.ErrMsg,
		strconv.Itoa(f.Attempts), strconv.FormatInt(f.Duration.Milliseconds(), 10)}
}
