// Package job is one run of a bulksync command: it reads the input, hands
// the rows to the engine, and wires the report, progress, summary, saved
// plans and metrics around it. The command line builds a Config; the
// benchmarks drive the same Run.
package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// Config is one sync or plan.
type Config struct {
	Command string // sync or plan: names the run in logs and the summary
	DryRun  bool   // plan: read and diff, write nothing
	Input   Input
	PlanIn  string // apply exactly this saved plan (instead of Input)
	PlanOut string // save a dry run's writes here
	// DetailedChanges makes a dry run with writes to make end Changes.
	DetailedChanges bool

	// CreateProfiles lets sync create the communication profile of a
	// row's unit that has none (plan lists them, never creates one).
	CreateProfiles bool

	Prune bool
	// MaxDeletes is the delete guard given; nil: DefaultMaxDeletes, or a
	// saved plan's own. Applying a plan checks the plan's limit, or this one
	// where it is stricter.
	MaxDeletes *reconcile.Limit
	AllowEmpty bool
	Strict     bool
	Shard      reconcile.Shard

	Report           string // path of the per-row report; "-" is Stdout; "" none
	Summary          string // path of the JSON summary; "" none
	Progress         string // auto, on or off
	ProgressInterval time.Duration
	Pushgateway      string // URL; "" none
}

// Input is where the rows come from and how to read them.
type Input struct {
	Files           []string           // "-" is Stdin
	Delimiter       csvmodel.Delimiter // 0: sniffed
	DefaultProvider string             // for rows without a serviceProviderId
	Columns         []string           // FIELD=HEADER choices, winning over the aliases
	Stdin           io.Reader
}

// Deps are what a run works with.
type Deps struct {
	API      reconcile.AssociationAPI
	Profiles ProfileAPI // resolves rows that name a unit; nil fails them
	Caller   *worker.Caller
	Stdout   io.Writer
	Stderr   io.Writer
	Terminal bool // Stderr is a terminal: progress as a bar
	// JSONLogs is set when Log writes JSON lines: the run then ends with one
	// "run finished" event instead of text (and shows a plan as events).
	JSONLogs bool
	Log      zerolog.Logger
	// Hint, when set, is the caller's advice about an error that ended a
	// run, in its own terms, for the summary and the closing event.
	Hint func(error) string
	// ExitCode is the number a verdict exits with, for the summary and the
	// metrics; the caller owns the numbers.
	ExitCode func(Verdict) int
	// OnReport, when set, receives the report's flush once it is open, so
	// that a forced quit can save the rows finished so far.
	OnReport func(flush func())
	Now      func() time.Time
}

// DefaultMaxDeletes is the delete guard when none is given (SPEC 2).
var DefaultMaxDeletes = reconcile.Limit{Percent: 10}

// Verdict is how a run ended.
type Verdict int

// Verdicts, from best to worst.
const (
	Clean       Verdict = iota // every valid row in its desired state, no invalid row
	Changes                    // a dry run with writes to make (Config.DetailedChanges)
	RowsFailed                 // some rows invalid or failed
	Usage                      // bad input or configuration: nothing written
	Aborted                    // a guard tripped, a plan was stale, or credentials were refused
	Interrupted                // the context ended: no new call, the rest skipped
	OutputLost                 // an output could not be written (an *OutputError): the record is not whole
)

// Result is what a run did and how it ended.
type Result struct {
	Verdict Verdict
	Summary report.Summary
	// Told is set when the run ended with its closing event (JSON logs),
	// which carries its error and hint: the caller adds nothing.
	Told bool
}

// UsageError is bad input or configuration found by the job: nothing was
// sent.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// VerdictOf is the verdict an error ends a run with (nil: Clean).
func VerdictOf(err error) Verdict {
	var ue *UsageError
	var fe *csvmodel.FileError
	var oe *OutputError
	switch {
	case err == nil:
		return Clean
	case errors.As(err, &oe):
		return OutputLost
	case errors.As(err, &ue), errors.As(err, &fe), errors.Is(err, reconcile.ErrStrict):
		return Usage
	case errors.Is(err, reconcile.ErrEmpty), errors.Is(err, reconcile.ErrGuard), errors.Is(err, reconcile.ErrStale),
		errors.Is(err, worker.ErrAuth):
		return Aborted
	case errors.Is(err, context.Canceled):
		return Interrupted
	}
	return RowsFailed
}

// Run does one sync or plan of room associations. The error, when not nil,
// says why the run ended early; the Result's verdict says how it ended in
// any case.
func Run(ctx context.Context, cfg Config, d Deps) (Result, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if err := checkProfiles(cfg); err != nil {
		return Result{Verdict: VerdictOf(err)}, err
	}
	return run(ctx, cfg, d, rooms(cfg, d))
}

// Validate reads and checks the files as a run would, with no network,
// printing every problem to Stdout as FILE:LINE: reason. It reads each file
// once: a row's own problems as it is read, duplicates once all are.
func Validate(in Input, d Deps) (Result, error) {
	r, err := readInput(in, false, func(row csvmodel.Checked) {
		if row.Status == csvmodel.Invalid {
			fmt.Fprintf(d.Stdout, "%s: %s\n", row.Where(), row.Reason)
		}
	})
	if err != nil {
		return Result{Verdict: VerdictOf(err)}, err
	}
	defer r.Close()
	for row := range r.Problems() {
		switch row.Status {
		case csvmodel.Invalid:
			fmt.Fprintf(d.Stdout, "%s: %s\n", row.Where(), row.Reason)
		case csvmodel.Duplicate:
			fmt.Fprintf(d.Stdout, "%s: duplicate, %s (not sent twice)\n", row.Where(), row.Reason)
		}
	}
	valid, dups, invalid := r.Counts()
	d.Log.Info().Int("rows", valid+dups+invalid).Int("valid", valid).Int("duplicate", dups).Int("invalid", invalid).Int("blank", r.Blank()).
		Strs("files", in.Files).Msg("validated")
	if !d.JSONLogs { // the event above says it all to a log pipeline
		blank := ""
		if n := r.Blank(); n > 0 {
			blank = fmt.Sprintf("; %d blank %s skipped", n, map[bool]string{true: "row", false: "rows"}[n == 1])
		}
		fmt.Fprintf(d.Stderr, "%d rows: %d valid, %d duplicate, %d invalid%s\n", valid+dups+invalid, valid, dups, invalid, blank)
	}
	if invalid > 0 {
		return Result{Verdict: RowsFailed}, nil
	}
	return Result{Verdict: Clean}, nil
}

// reportHeaders are the headers of the reports bulksync writes: a file
// with one is refused as input (a report's columns alias the input's, and
// a previous report matched by *.csv would read as 200 invalid rows). The
// rooms report before its unit columns is one too.
var reportHeaders = [][]string{roomsHeader, roomsHeader[:len(roomsHeader)-2]}

// readInput reads and checks every file (the first pass); a rejected file
// is an error. spool keeps a copy of standard input for a second pass.
func readInput(in Input, spool bool, onRow func(csvmodel.Checked)) (*csvmodel.Reader, error) {
	if in.DefaultProvider != "" {
		if msg := csvmodel.CheckProvider(in.DefaultProvider); msg != "" {
			return nil, usage("default service provider: %s", msg)
		}
	}
	r, err := csvmodel.NewReader(csvmodel.Options{Delimiter: in.Delimiter, DefaultProvider: in.DefaultProvider, Columns: in.Columns,
		Reports: reportHeaders, Stdin: in.Stdin, Spool: spool, OnRow: onRow})
	if err != nil {
		return nil, &UsageError{err}
	}
	for _, path := range in.Files {
		if err := r.ReadFile(path); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}
