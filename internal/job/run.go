package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bulksync/bulksync/internal/atomicfile"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/storage"
	"github.com/bulksync/bulksync/internal/worker"
)

// Run does one sync or plan, of rooms or of products, with the session's
// client and Caller. The error, when not nil, says why the run ended early;
// the Result says how it ended in any case, and what it did.
func Run(ctx context.Context, s *Session, o Options) (Result, error) {
	if o.Products {
		if err := checkStage(o); err != nil {
			return failed(o.IO, o.Command, err)
		}
		return run(ctx, s, o, products(s, o))
	}
	if s.Emulated && o.Input.DefaultProvider == "" {
		o.Input.DefaultProvider = emulatorProvider // rows without a provider go to its demo provider
	}
	if err := checkProfiles(o); err != nil {
		return failed(o.IO, o.Command, err)
	}
	return run(ctx, s, o, rooms(s, o))
}

// spec is what a run needs to know of one resource beyond the engine's
// Resource: its input, its report row, and how people see a value.
type spec[V, R any] struct {
	res reconcile.Resource[V]
	// rows reads the input: its first pass checks every row; the rows are
	// then ranged by the engine (twice).
	rows func(ctx context.Context, shard reconcile.Shard) (source[V], error)
	// check says why a saved plan's write could not have come from a valid row.
	check func(reconcile.Write[V]) string
	// listed says why a key the API listed could not be a valid row's
	// (reconcile.Engine.Check).
	listed func(reconcile.Key) string
	// row is a Fate as a row of the report, whose csv tags are its columns.
	row          func(reconcile.Fate[V]) R
	describe     func(V) string
	words        planWords // what the plan view calls the writes; zero: create, update, delete
	defaultGroup string
	// prepare, when set, completes the input's rows before the engine sees
	// them (rooms: a unit's communication profile), through the Caller. An
	// error stops the run: the engine reports every row it has not done
	// as skipped, with why.
	prepare func(ctx context.Context, rows iter.Seq2[reconcile.Row[V], error]) (iter.Seq2[reconcile.Row[V], error], error)
	// preface, when set, is what a plan tells before its writes (rooms: the
	// communication profiles sync would create).
	preface func(w io.Writer)
	// undo reads the resource's reports back (--undo).
	undo undoSpec[V]
	// plain is the header of a rejects file for rows that have no cells of
	// an input file (a saved plan's, an undo's), and plainRow such a row's
	// cells: an input file of the resource.
	plain    []string
	plainRow func(reconcile.Row[V]) []string
}

// source is a run's input, checked and ready to be ranged.
type source[V any] struct {
	rows    iter.Seq2[reconcile.Row[V], error]
	total   int           // rows of the shard, for progress
	blank   int           // rows skipped because every field was empty
	headers []inputHeader // of each file with rows, in input order, when its rows carry their cells (Options.Rejects)
	close   func() error
	// emptyHint, when set, is what to do when no row is valid: the rows'
	// own reason, not --allow-empty.
	emptyHint string
	inputs    []string // the files read, as messages name them
}

// run is a sync or plan of one resource.
func run[V, R any](ctx context.Context, s *Session, o Options, sp spec[V, R]) (Result, error) {
	start := o.IO.now()
	o = o.expand(start)
	e := &ending{o: o, start: start, caller: s.Caller}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var in source[V]
	var saved *reconcile.Plan[V]
	err := checkOutputs(o)
	if err == nil {
		err = checkPaths(o)
	}
	if err == nil {
		in, saved, err = input(ctx, s.store(), o, sp)
	}
	if in.close != nil {
		defer in.close()
	}
	e.blank, e.inputs = in.blank, in.inputs
	if err == nil {
		writes := 0
		if saved != nil {
			writes = len(saved.Writes)
		}
		err = checkPace(s.Caller.Rate(), in.total, sp.res.BatchSize(), writes)
	}
	if err == nil && o.Progress != "off" && !e.bar() && o.ProgressInterval <= 0 {
		err = usage("progress interval must be above 0, got %v", o.ProgressInterval)
	}
	var out *reportRows[R]
	if err == nil {
		// An output that fails mid-run stops it as a signal does: no new
		// call; calls in flight finish; the rest is reported skipped.
		out, err = openOutputs[R](ctx, s.store(), e, saved != nil, func(oe *OutputError) { stop(oe) })
	}
	if err == nil {
		e.closeReport = out.close
		err = e.openRejects(ctx, s.store(), sp.plain, in.headers, func(oe *OutputError) { stop(oe) })
	}
	if err != nil {
		return e.finish(ctx, reconcile.Counts{}, err)
	}
	limit := DefaultMaxDeletes
	if o.MaxDeletes != nil {
		limit = *o.MaxDeletes
	}
	if saved != nil {
		limit = appliedLimit(saved.MaxDeletes, limit)
	}
	log := o.IO.Log
	logged := make(chan struct{})
	stopLog := context.AfterFunc(ctx, func() {
		defer close(logged)
		why := context.Cause(ctx)
		msg := "stopping: no new call starts; calls in flight finish (signal again to quit at once)"
		var oe *OutputError
		if errors.As(why, &oe) {
			msg = "stopping: an output can't be written; no new call starts; calls in flight finish"
		}
		log.Warn().Str("why", why.Error()).Msg(msg)
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
	if o.Progress != "off" {
		prog = report.NewProgress(in.total, e.bar(), o.IO.Stderr, log, o.ProgressInterval, func() report.Stats {
			st := s.Caller.Stats()
			n := 0
			for _, c := range st.Calls {
				n += c
			}
			return report.Stats{Calls: n, Retries: st.Retries, Throttled: st.Throttled}
		})
	}
	view := newPlanView(sp.describe, sp.words)
	eng := &reconcile.Engine[V]{Res: sp.res, Caller: s.Caller, Log: log,
		Opts: reconcile.Options{DryRun: o.DryRun, MaxDeletes: limit, AllowEmpty: o.AllowEmpty, Strict: o.Strict,
			Prune: o.Prune, Shard: o.Shard, DefaultGroup: sp.defaultGroup, KeepPlan: o.PlanOut != ""},
		Check: sp.listed,
		Emit: func(f reconcile.Fate[V]) {
			switch {
			case f.Retry:
				e.transient.Add(1)
			case f.Outcome == reconcile.Skipped && f.ErrType == reconcile.ChangedSince:
				e.leftAlone.Add(1)
			}
			out.write(cleanRow(sp.row(f), o.IO.Secrets), saved != nil && f.Outcome == reconcile.Unchanged)
			if e.rejects != nil && (f.Outcome == reconcile.Invalid || f.Outcome == reconcile.Failed) && f.Row.Src.File != "" {
				e.rejects.add(f.Row.Src.File, f.Row.Cells, sp.plainRow(f.Row), f.ErrType, f.ErrMsg)
			}
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
		log.Info().Str("plan", o.PlanIn).Int("writes", len(saved.Writes)).Str("max_deletes", limit.String()).Msg("applying saved plan")
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
	if errors.Is(runErr, reconcile.ErrEmpty) && in.emptyHint != "" {
		runErr = &advice{runErr, in.emptyHint}
	}
	if o.PlanOut != "" && runErr == nil {
		data, err := reconcile.MarshalPlan(sp.res, reconcile.Plan[V]{Writes: res.Plan, MaxDeletes: limit}, o.IO.now())
		if err == nil {
			err = writeOutput(ctx, s.store(), o.PlanOut, o.IO.Stdout, func(w io.Writer) error { _, err := w.Write(data); return err })
		}
		if err != nil {
			runErr = &OutputError{What: "plan", Path: o.PlanOut, Err: err}
		}
	}
	if prog != nil {
		prog.Close()
	}
	quietLog()
	e.ran, e.groups = true, res.Groups
	if o.DryRun {
		view.preface, view.groupField = sp.preface, sp.res.Names().LogGroup
		e.plan = view
	}
	return e.finish(ctx, res.Counts, runErr)
}

// ending is the end of a run: its outputs, opened before the first call and
// closed after the last.
type ending struct {
	o      Options
	start  time.Time
	caller *worker.Caller

	closeReport func() error
	rejects     *rejects
	summary     *storage.Writer             // the summary file, written at the end
	sumStdout   bool                        // --summary -: the summary goes to standard output
	repErr      atomic.Pointer[OutputError] // the report's first failed write
	transient   atomic.Int64                // failed rows a rerun may fix
	leftAlone   atomic.Int64                // rows an undo left alone: changed since its run
	blank       int                         // input rows skipped because every field was empty
	inputs      []string                    // the files read
	ran         bool                        // the engine ran: tell the run, not just its error
	groups      []string                    // the providers (skills) the rows named
	plan        Plan
}

// bar says whether progress shows as a bar rather than log lines.
func (e *ending) bar() bool {
	return e.o.Progress == "on" || e.o.IO.Terminal && !e.o.IO.JSONLogs
}

// openOutputs makes the outputs' folders and creates the summary and the
// report before the first call, so that a path that can't be written stops
// the run before it sends anything. A run that applies a saved plan
// (deferred) only checks the report can be created: it opens it at its
// first row that is not a write already made.
func openOutputs[R any](ctx context.Context, store *storage.Store, e *ending, deferred bool, failed func(*OutputError)) (*reportRows[R], error) {
	o := e.o
	e.sumStdout = o.Summary == "-"
	if o.Summary != "" && !e.sumStdout {
		w, err := createOutput(ctx, store, o.Summary)
		if err != nil {
			return nil, &OutputError{What: "summary", Path: o.Summary, Err: err, Early: true}
		}
		e.summary = w
	}
	onErr := func(err error) {
		oe := &OutputError{What: "report", Path: o.Report, Err: err}
		if e.repErr.CompareAndSwap(nil, oe) {
			failed(oe)
		}
	}
	r := &reportRows[R]{deferred: deferred, open: func() (*report.Writer[R], error) {
		var rep *report.Writer[R]
		var err error
		switch o.Report {
		case "":
			rep, err = report.NewWriter[R](io.Discard, nil, nil)
		case "-":
			rep, err = report.NewWriter[R](o.IO.Stdout, nil, onErr)
		default:
			// Streamed: rows reach a local file as they finish; a remote
			// one lands whole at the end.
			var w *storage.Writer
			if w, err = store.Create(ctx, o.Report, storage.Stream); err == nil {
				land := closer(func() error { return commit(ctx, w) })
				if rep, err = report.NewWriter[R](w, land, onErr); err != nil {
					w.Abort()
				}
			}
		}
		if err != nil {
			return nil, &OutputError{What: "report", Path: o.Report, Err: err, Early: !deferred}
		}
		// From the moment the run is told to stop, every row reaches the
		// file as it is written: a second signal may end the process.
		context.AfterFunc(ctx, rep.FlushEach)
		return rep, nil
	}}
	if deferred {
		return r, canCreate(o.Report)
	}
	var err error
	r.rep, err = r.open()
	return r, err
}

// closer is an io.Closer that runs a function.
type closer func() error

func (c closer) Close() error { return c() }

// canCreate says whether the report at path could be created, without
// replacing what is there: a remote one is checked when it is written.
func canCreate(path string) error {
	if path == "" || path == "-" || storage.IsURL(path) {
		return nil
	}
	// A path that is not a regular file is refused (a FIFO would block
	// the open); a symlink is checked at its target.
	target, err := atomicfile.Target(path)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(target), 0o755)
	}
	if err != nil {
		return &OutputError{What: "report", Path: path, Err: err, Early: true}
	}
	_, statErr := os.Lstat(target)
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|syscall.O_NONBLOCK, 0o666)
	if err != nil {
		return &OutputError{What: "report", Path: path, Err: err, Early: true}
	}
	f.Close()
	if statErr != nil {
		os.Remove(target) // it did not exist: leave nothing behind
	}
	return nil
}

// reportRows is where a run's rows go. When the run applies a saved plan,
// rows that were already applied are held until a row that is not: a plan
// applied again keeps the report of the run that applied it, the record
// --undo needs, rather than replacing it with "unchanged".
type reportRows[R any] struct {
	deferred bool
	open     func() (*report.Writer[R], error)
	rep      *report.Writer[R]
	held     []R
	failed   error // opening it failed mid-run
}

func (r *reportRows[R]) write(row R, applied bool) {
	if r.rep == nil && r.failed == nil {
		if applied {
			r.held = append(r.held, row)
			return
		}
		if r.rep, r.failed = r.open(); r.failed != nil {
			return
		}
		for _, h := range r.held {
			r.rep.Write(h)
		}
		r.held = nil
	}
	if r.rep != nil {
		r.rep.Write(row)
	}
}

// close closes the report; a report never opened because every row was
// already applied leaves the earlier one as it is.
func (r *reportRows[R]) close() error {
	switch {
	case r.failed != nil:
		return r.failed
	case r.rep == nil && r.deferred:
		return errKept
	}
	return r.rep.Close()
}

// errKept says the report was left as it was: a saved plan found applied.
var errKept = errors.New("every write of the plan already holds: the earlier report is kept")

// finish closes the outputs and sums the run up: the summary file and the
// metrics, with the exit code the verdict is given. An output that failed
// ends the run OutputLost, and every later account says so.
func (e *ending) finish(ctx context.Context, counts reconcile.Counts, runErr error) (Result, error) {
	transient := e.transient.Load()
	o := e.o
	kept := false
	if e.closeReport != nil {
		err := e.closeReport()
		if kept = errors.Is(err, errKept); kept {
			o.IO.Log.Info().Str("report", o.Report).Msg(err.Error())
			err = nil
		}
		oe := e.repErr.Load()
		var failed *OutputError
		if oe == nil && errors.As(err, &failed) {
			oe = failed
		} else if oe == nil && err != nil {
			oe = &OutputError{What: "report", Path: o.Report, Err: err}
		}
		if oe != nil && !errors.Is(runErr, oe) {
			runErr = errors.Join(runErr, oe)
		}
	}
	var rejected []string
	if e.rejects != nil {
		var err error
		var told *OutputError
		if rejected, err = e.rejects.close(ctx); err != nil && !(errors.As(runErr, &told) && told.What == "rejects") {
			runErr = errors.Join(runErr, &OutputError{What: "rejects", Path: o.Rejects, Err: err})
		}
	}
	var stats worker.Stats
	if e.caller != nil {
		stats = e.caller.Stats()
	}
	end := o.IO.now()
	sum := report.NewSummary(o.Command, counts, stats.Calls, stats.Statuses, stats.Retries, stats.Throttled, end.Sub(e.start))
	sum.RunID, sum.StartedAt, sum.FinishedAt = o.IO.RunID, e.start.UTC(), end.UTC()
	sum.Version, sum.CommandLine, sum.Rejects = o.IO.Version, o.IO.CommandLine, rejected
	if e.closeReport != nil && !kept {
		sum.Report = o.Report
	}
	sum.BlankRows, sum.Inputs = e.blank, e.inputs
	verdict := VerdictOf(runErr)
	if runErr == nil {
		verdict = rowsVerdict(counts, transient, e.leftAlone.Load(), o.DetailedChanges)
	}
	tell := func() {
		sum.ExitCode = o.IO.ExitCodes[verdict]
		if runErr != nil {
			sum.Message, sum.Hint = cleanText(runErr.Error(), o.IO.Secrets), Hint(runErr)
		}
	}
	tell()
	// The summary file first: if it fails, the exit code the rest tells
	// must say so.
	if e.summary != nil || e.sumStdout {
		if err := e.writeSummary(ctx, sum); err != nil {
			runErr = errors.Join(runErr, &OutputError{What: "summary", Path: o.Summary, Err: err})
			verdict = OutputLost
			tell()
		}
	}
	if o.Pushgateway != "" && e.ran {
		m := report.RunMetrics{Command: o.Command, Instance: o.MetricsInstance, Summary: sum, Statuses: stats.Statuses,
			Success:      verdict == Clean || verdict == Refused,
			GuardTripped: errors.Is(runErr, reconcile.ErrGuard), AuthRefused: errors.Is(runErr, worker.ErrAuth)}
		if m.Instance == "" {
			m.Instance = strings.Join(e.groups, ",")
		}
		if o.Shard.Count > 1 {
			m.Shard = o.Shard.String()
		}
		if err := report.Push(o.Pushgateway, m, o.IO.now()); err != nil {
			o.IO.Log.Error().Err(err).Msg("metrics not pushed")
		}
	}
	return Result{Verdict: verdict, Summary: sum, Ran: e.ran, Plan: e.plan}, runErr
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

// input is the rows of the files, of an undo, or a saved plan.
func input[V, R any](ctx context.Context, store *storage.Store, o Options, sp spec[V, R]) (source[V], *reconcile.Plan[V], error) {
	switch {
	case len(o.Undo) > 0 && (o.PlanIn != "" || len(o.Input.Files) > 0):
		return source[V]{}, nil, usage("--undo reads its input from the reports: give no FILE or --plan with it")
	case len(o.Undo) > 0 && o.Prune:
		return source[V]{}, nil, usage("--undo reverts what the runs of the reports changed: it prunes nothing (drop --prune)")
	case len(o.Undo) > 0:
		rows, err := readUndo(ctx, store, o.Undo, o.IO.Stdin, sp.undo)
		if err != nil {
			return source[V]{}, nil, err
		}
		in := undoSource(rows, o.Shard)
		o.IO.Log.Info().Strs("reports", o.Undo).Int("rows", len(rows)).Str("shard", o.Shard.String()).Int("rows_in_shard", in.total).
			Msg("undo: the changes of the reports read")
		return in, nil, nil
	case o.PlanIn != "" && len(o.Input.Files) > 0:
		return source[V]{}, nil, usage("a saved plan is applied alone: give no FILE with it")
	case o.PlanIn != "":
		data, err := readWhole(ctx, store, o.PlanIn)
		if err != nil {
			return source[V]{}, nil, &UsageError{fmt.Errorf("plan %s: %w", storage.Redact(o.PlanIn), err)}
		}
		saved, err := reconcile.ParsePlan(storage.Redact(o.PlanIn), data, sp.res)
		if err != nil {
			return source[V]{}, nil, &UsageError{err}
		}
		for i, w := range saved.Writes {
			if msg := sp.check(w); msg != "" {
				return source[V]{}, nil, usage("plan %s: write %d: %s", o.PlanIn, i+1, msg)
			}
		}
		return source[V]{total: len(saved.Writes)}, &saved, nil
	case len(o.Input.Files) == 0:
		return source[V]{}, nil, usage("no FILE given: name the CSV files to %s (or a saved plan)", o.Command)
	}
	in, err := sp.rows(ctx, o.Shard)
	return in, nil, err
}

// fate is what became of a row, as the report's cells.
func fate[V any](f reconcile.Fate[V]) report.Fate {
	return report.Fate{Action: f.Action.String(), Outcome: f.Outcome.String(), HTTPStatus: report.BlankZero(f.Status),
		ErrorType: f.ErrType, ErrorMessage: f.ErrMsg, Attempts: f.Attempts, DurationMS: f.Duration.Milliseconds()}
}

// emulatorProvider is the emulator's demo provider: an --emulate run's rows
// without a provider go to it.
const emulatorProvider = emulator.DefaultProvider
