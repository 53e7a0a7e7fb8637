package job

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
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
	// prepare, when set, completes the input's rows before the engine sees
	// them (rooms: a unit's communication profile), through the pool. An
	// error stops the run: the engine reports every row it has not done
	// as skipped, with why.
	prepare func(ctx context.Context, rows iter.Seq2[reconcile.Row[V], error]) (iter.Seq2[reconcile.Row[V], error], error)
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
	e := &ending{cfg: cfg, d: d, start: d.Now()}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var in source[V]
	var saved *reconcile.Plan[V]
	err := checkPaths(cfg)
	if err == nil {
		in, saved, err = input(cfg, d, sp)
	}
	if in.close != nil {
		defer in.close()
	}
	e.blank = in.blank
	if err == nil && d.Caller != nil {
		writes := 0
		if saved != nil {
			writes = len(saved.Writes)
		}
		err = checkPace(d.Caller.Rate(), in.total, sp.res.BatchSize(), writes)
	}
	if err == nil && cfg.Progress != "off" && !e.bar() && cfg.ProgressInterval <= 0 {
		err = usage("progress interval must be above 0, got %v", cfg.ProgressInterval)
	}
	if err == nil {
		// An output that fails mid-run stops it as a signal does: no new
		// call; calls in flight finish; the rest is reported skipped.
		err = e.open(sp.header, func(oe *OutputError) { stop(oe) })
	}
	if err != nil {
		return e.finish(reconcile.Counts{}, err)
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
	if d.OnReport != nil {
		d.OnReport(e.rep.Flush)
	}
	logged := make(chan struct{})
	stopLog := context.AfterFunc(ctx, func() {
		defer close(logged)
		why := context.Cause(ctx)
		msg := "stopping: no new call starts; calls in flight finish (signal again to quit at once)"
		var oe *OutputError
		if errors.As(why, &oe) {
			msg = "stopping: an output can't be written; no new call starts; calls in flight finish"
		}
		d.Log.Warn().Str("why", why.Error()).Msg(msg)
	})
	// The stopping line, if it comes, comes before the end is told: once
	// quiet, a started line is waited for, and no other starts.
	quiet := false
	quietLog := func() {
		if !quiet && !stopLog() {
			<-logged
		}
		quiet = true
	}
	defer quietLog()
	var prog *report.Progress
	if cfg.Progress != "off" {
		prog = report.NewProgress(in.total, e.bar(), d.Stderr, d.Log, cfg.ProgressInterval, func() int {
			n := 0
			for _, c := range d.Caller.Stats().Calls {
				n += c
			}
			return n
		})
	}
	view := newPlanView(sp.describe, sp.words)
	eng := &reconcile.Engine[V]{Res: sp.res, Caller: d.Caller, Log: d.Log,
		Opts: reconcile.Options{DryRun: cfg.DryRun, MaxDeletes: limit, AllowEmpty: cfg.AllowEmpty, Strict: cfg.Strict,
			Prune: cfg.Prune, Shard: cfg.Shard, DefaultGroup: sp.defaultGroup, KeepPlan: cfg.PlanOut != ""},
		Emit: func(f reconcile.Fate[V]) {
			e.rep.Write(sp.record(f))
			if prog != nil {
				prog.Add(f.Outcome)
			}
			if f.Outcome == reconcile.Planned {
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
		rows, ectx := in.rows, ctx
		if sp.prepare != nil {
			var stop error
			if rows, stop = sp.prepare(ctx, rows); stop != nil {
				var cancel context.CancelCauseFunc
				ectx, cancel = context.WithCancelCause(ctx)
				cancel(stop)
			}
		}
		res, runErr = eng.Run(ectx, rows)
	}
	if cfg.PlanOut != "" && runErr == nil {
		if err := reconcile.SavePlan(cfg.PlanOut, sp.res, reconcile.Plan[V]{Writes: res.Plan, MaxDeletes: limit}, d.Now()); err != nil {
			runErr = &OutputError{What: "plan", Path: cfg.PlanOut, Err: err}
		}
	}
	if prog != nil {
		prog.Close()
	}
	quietLog()
	e.ran = true
	if cfg.DryRun {
		e.showPlan = func() {
			if d.JSONLogs {
				view.log(d.Log, sp.res.Names().LogGroup)
			} else {
				view.write(d.Stderr)
			}
		}
	}
	return e.finish(res.Counts, runErr)
}

// ending is the end of a run: its outputs, opened before the first call and
// closed after the last, and how the run is told.
type ending struct {
	cfg   Config
	d     Deps
	start time.Time

	rep      *report.Writer
	sumFile  *os.File
	repErr   atomic.Pointer[OutputError] // the report's first failed write
	blank    int                         // input rows skipped because every field was empty
	ran      bool                        // the engine ran: tell the run, not just its error
	showPlan func()
}

// bar says whether progress shows as a bar rather than log lines.
func (e *ending) bar() bool {
	return e.cfg.Progress == "on" || e.d.Terminal && !e.d.JSONLogs
}

// open creates the summary and the report before the first call, so that
// a path that can't be written stops the run before it sends anything.
func (e *ending) open(header []string, failed func(*OutputError)) error {
	if e.cfg.Summary != "" {
		f, err := os.Create(e.cfg.Summary)
		if err != nil {
			return &OutputError{What: "summary", Path: e.cfg.Summary, Err: err, Early: true}
		}
		e.sumFile = f
	}
	rep, err := openReport(e.cfg.Report, e.d.Stdout, header, func(err error) {
		oe := &OutputError{What: "report", Path: e.cfg.Report, Err: err}
		if e.repErr.CompareAndSwap(nil, oe) {
			failed(oe)
		}
	})
	if err != nil {
		return &OutputError{What: "report", Path: e.cfg.Report, Err: err, Early: true}
	}
	e.rep = rep
	return nil
}

// finish closes the outputs and tells how the run ended: the summary file,
// the metrics, then the plan and the summary for people (or, with JSON
// logs, one closing event). An output that failed ends the run
// OutputLost, and every later account says so.
func (e *ending) finish(counts reconcile.Counts, runErr error) (Result, error) {
	cfg, d := e.cfg, e.d
	if e.rep != nil {
		err := e.rep.Close()
		oe := e.repErr.Load()
		if oe == nil && err != nil {
			oe = &OutputError{What: "report", Path: cfg.Report, Err: err}
		}
		if oe != nil && !errors.Is(runErr, oe) {
			runErr = errors.Join(runErr, oe)
		}
	}
	var stats worker.Stats
	if d.Caller != nil {
		stats = d.Caller.Stats()
	}
	sum := report.NewSummary(cfg.Command, counts, stats.Calls, stats.Statuses, stats.Retries, stats.Throttled, d.Now().Sub(e.start))
	if e.rep != nil {
		sum.Report = cfg.Report
	}
	sum.BlankRows = e.blank
	verdict := VerdictOf(runErr)
	if runErr == nil {
		switch {
		case counts[reconcile.Invalid]+counts[reconcile.Failed] > 0:
			verdict = RowsFailed
		case cfg.DetailedChanges && counts[reconcile.Planned] > 0:
			verdict = Changes
		}
	}
	tell := func() {
		if d.ExitCode != nil {
			sum.ExitCode = d.ExitCode(verdict)
		}
		if runErr != nil {
			sum.Message = runErr.Error()
			if d.Hint != nil {
				sum.Hint = d.Hint(runErr)
			}
		}
	}
	tell()
	// The summary file first: if it fails, the exit code the rest tells
	// must say so.
	if e.sumFile != nil {
		if err := writeSummary(e.sumFile, sum); err != nil {
			runErr = errors.Join(runErr, &OutputError{What: "summary", Path: cfg.Summary, Err: err})
			verdict = OutputLost
			tell()
		}
	}
	if cfg.Pushgateway != "" && e.ran {
		m := report.RunMetrics{Summary: sum, Statuses: stats.Statuses, Success: verdict == Clean}
		if cfg.Shard.Count > 1 {
			m.Shard = cfg.Shard.String()
		}
		if err := report.Push(cfg.Pushgateway, m, d.Now()); err != nil {
			d.Log.Error().Err(err).Msg("metrics not pushed")
		}
	}
	if e.showPlan != nil {
		e.showPlan()
	}
	switch {
	case d.JSONLogs:
		level := zerolog.ErrorLevel
		switch verdict {
		case Clean, Changes:
			level = zerolog.InfoLevel
		case RowsFailed:
			level = zerolog.WarnLevel
		}
		sum.Log(d.Log, level)
	case e.ran:
		sum.WriteText(d.Stderr)
	}
	return Result{Verdict: verdict, Summary: sum, Told: d.JSONLogs}, runErr
}

// aDay is the longest run bulksync starts: a rate that can't make even the
// fewest calls an input needs within it is a mistake, not a plan.
const aDay = 24 * time.Hour

// ErrTooSlow is a rate at which a run could not finish within a day.
var ErrTooSlow = errors.New("rate too low to finish within a day")

// checkPace refuses a rate that could not finish the input within a day.
// The fewest calls are a read per batch of rows (one listing when the
// resource reads whole groups) and a saved plan's writes; the first call
// goes at once.
func checkPace(rate float64, rows, batch, writes int) error {
	reads := 1
	if batch > 0 {
		reads = max(1, (rows+batch-1)/batch)
	}
	calls := reads + writes
	secs := float64(calls-1) / rate
	if rate <= 0 || secs <= aDay.Seconds() {
		return nil
	}
	took := time.Duration(secs * float64(time.Second)).Round(time.Minute).String()
	if years := secs / (365 * aDay.Seconds()); years >= 1 {
		took = fmt.Sprintf("%.0f years", years)
	}
	return &UsageError{fmt.Errorf("%w: at %g calls per second, the %d calls this input needs at the least would take %s",
		ErrTooSlow, rate, calls, took)}
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
