// Package job is one run of a bulksync command: it reads the input, hands
// the rows to the engine, and wires the report, progress, summary, saved
// plans and metrics around it. A command builds its options once and gets
// back a Result and an error; how the run is told to people, and the exit
// code, are the command line's. The benchmarks drive the same Run.
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
	"github.com/bulksync/bulksync/internal/secret"
	"github.com/bulksync/bulksync/internal/storage"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// Options is one sync or plan, of rooms or of products.
type Options struct {
	Command  string // sync, plan, products sync or products plan: names the run in logs, the summary and metrics
	Products bool   // skill ↔ in-skill product associations, instead of rooms
	Stage    string // products: the stage read (development, or live for a plan)
	DryRun   bool   // plan: read and diff, write nothing
	Input    Input
	PlanIn   string // apply exactly this saved plan (instead of Input)
	PlanOut  string // save a dry run's writes here
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

	// Undo makes the input the inverse of the runs these reports tell
	// (instead of Input): what they changed, reverted where the API still
	// holds what they left.
	Undo []string

	// Output paths take {run_id} and {time} (the run's start, UTC).
	Report           string // path of the per-row report; "-" is standard output; "" none
	Summary          string // path of the JSON summary; "" none
	Rejects          string // path of the rejects file: rows that ended invalid or failed, in their input's columns; "" none
	Progress         string // auto, on or off
	ProgressInterval time.Duration
	Pushgateway      string // URL; "" none
	// MetricsInstance names the property in the metrics' group; "": the
	// providers (skills) the rows name, sorted and joined with ",".
	MetricsInstance string

	IO IO
}

// Input is where the rows come from and how to read them.
type Input struct {
	Files           []string           // "-" is IO.Stdin
	Delimiter       csvmodel.Delimiter // 0: sniffed
	DefaultProvider string             // for rows without a serviceProviderId
	Columns         []string           // FIELD=HEADER choices, winning over the aliases
	// Newest reads each file as a pattern (a glob in its last part, local
	// or remote) and takes its newest match.
	Newest bool
	// MaxAge refuses, before any call, a file modified longer ago; 0: none.
	MaxAge time.Duration
}

// IO is what every command is handed: its streams, its log, and the
// exit code of each verdict, which the summary and the metrics record.
type IO struct {
	// Env is the process environment: the credentials of remote files
	// (BULKSYNC_SFTP_*); the cloud SDKs read their own.
	Env      map[string]string
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Terminal bool // Stderr is a terminal: progress as a bar
	// JSONLogs is set when Log writes JSON lines: progress is then logged,
	// and a plan told as events.
	JSONLogs  bool
	Log       zerolog.Logger
	ExitCodes map[Verdict]int
	Now       func() time.Time // default time.Now
	// RunID names the run: the run_id of Log's lines, the summary's, and
	// {run_id} in output paths. "": a new one.
	RunID string
	// Version and CommandLine (CommandLine: no secret in it) are what the
	// summary says ran.
	Version, CommandLine string
	// Secrets is the process's one scrubber: told of every secret as it
	// becomes known, it keeps them out of the report, the summary and
	// every message. nil scrubs nothing.
	Secrets *secret.Scrubber
}

// expand fills {run_id} and {time} in the output paths, a run's id first
// when it has none.
func (o Options) expand(start time.Time) Options {
	if o.IO.RunID == "" {
		o.IO.RunID = NewRunID()
	}
	for _, p := range []*string{&o.Report, &o.Summary, &o.Rejects, &o.PlanOut} {
		*p = expandPath(*p, o.IO.RunID, start)
	}
	if len(o.Undo) > 0 {
		// An undo reverts what runs changed and prunes nothing: one with
		// nothing to revert writes nothing, and is no empty export.
		o.AllowEmpty = true
	}
	return o
}

func (o IO) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// DefaultMaxDeletes is the delete guard when none is given (SPEC 2).
var DefaultMaxDeletes = reconcile.Limit{Percent: 10}

// Verdict is how a run ended.
type Verdict int

// Verdicts, from best to worst.
const (
	Clean       Verdict = iota // every valid row in its desired state, no invalid row
	Changes                    // a dry run with writes to make (Options.DetailedChanges)
	Refused                    // the run finished; some rows were refused and no rerun will fix them (invalid, a 400, no profile)
	RowsFailed                 // some rows failed where a rerun may fix them (and maybe others were refused)
	Usage                      // bad input or configuration: nothing written
	Aborted                    // a guard tripped, a plan was stale, or credentials were refused
	Interrupted                // the context ended: no new call, the rest skipped
	OutputLost                 // an output could not be written (an *OutputError): the record is not whole
)

// Result is how a run ended and what it did, for the command line to tell.
type Result struct {
	Verdict Verdict
	// Summary is what the run did, with its exit code and, when it stopped
	// early, why and what to do about it.
	Summary report.Summary
	// Ran is set when the run got as far as its engine: there are rows and
	// calls to tell, not only an error.
	Ran bool
	// Plan is a dry run's writes for people; nil otherwise.
	Plan Plan
	// Checked is what validate found; nil otherwise.
	Checked *Checked
}

// Plan tells a dry run's writes: as text, or as one event per group.
type Plan interface {
	Write(w io.Writer)
	Log(log zerolog.Logger)
}

// Checked is what validate found in the files.
type Checked struct{ Valid, Duplicate, Invalid, Blank int }

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
		errors.Is(err, worker.ErrAuth), errors.Is(err, ErrTooOld):
		return Aborted
	case errors.Is(err, context.Canceled):
		return Interrupted
	}
	return RowsFailed
}

// failed is the Result of a run that ended before it began, with its error
// and what to do about it.
func failed(o IO, command string, err error) (Result, error) {
	v := VerdictOf(err)
	return Result{Verdict: v, Summary: report.Summary{Command: command, ExitCode: o.ExitCodes[v], Message: err.Error(), Hint: Hint(err)}}, err
}

// Validate reads and checks the files as a run would, with no network,
// printing every problem to Stdout as FILE:LINE: reason. It reads each file
// once: a row's own problems as it is read, duplicates once all are. With
// rejects (a path; {run_id} and {time} filled), it reads them a second
// time to write the invalid rows to a rejects file, in their own columns.
func Validate(ctx context.Context, in Input, rejects string, o IO) (Result, error) {
	start := o.now()
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	rejects = expandPath(rejects, o.RunID, start)
	if rejects == "-" {
		return failed(o, "validate", usage("--rejects needs a file: its rows are fed to sync again"))
	}
	if err := checkPaths(Options{Input: in, Rejects: rejects}); err != nil {
		return failed(o, "validate", err)
	}
	// validate has no API flags: a remote file gets the calls' default
	// timeout per attempt, so a store that never answers can't hold it.
	store := storage.New(storage.Options{Env: envFunc(o.Env), Timeout: 30 * time.Second})
	defer store.Close()
	var headers []inputHeader
	r, err := readFiles(ctx, store, in, o, rejects != "", rejects != "", func(row csvmodel.Checked) {
		if row.Status == csvmodel.Invalid {
			fmt.Fprintf(o.Stdout, "%s: %s\n", row.Where(), row.Reason)
		}
		if rejects != "" && (len(headers) == 0 || headers[len(headers)-1].file != row.File) {
			headers = append(headers, inputHeader{row.File, row.Raw.Header, row.Raw.Comma})
		}
	})
	if err != nil {
		return failed(o, "validate", err)
	}
	defer r.Close()
	for row, err := range r.Problems() {
		if err != nil {
			return Result{Verdict: VerdictOf(err)}, err
		}
		switch row.Status {
		case csvmodel.Invalid:
			fmt.Fprintf(o.Stdout, "%s: %s\n", row.Where(), row.Reason)
		case csvmodel.Duplicate:
			fmt.Fprintf(o.Stdout, "%s: duplicate, %s (not sent twice)\n", row.Where(), row.Reason)
		}
	}
	c := &Checked{Blank: r.Blank()}
	c.Valid, c.Duplicate, c.Invalid = r.Counts()
	o.Log.Info().Int("rows", c.Valid+c.Duplicate+c.Invalid).Int("valid", c.Valid).Int("duplicate", c.Duplicate).Int("invalid", c.Invalid).
		Int("blank", c.Blank).Strs("files", redactAll(in.Files)).Msg("validated")
	res := Result{Checked: c}
	if c.Invalid > 0 {
		res.Verdict = Refused // invalid rows are refused, whatever is run again
	}
	if rejects != "" {
		if err := writeRejected(ctx, store, r, rejects, headers); err != nil {
			return failed(o, "validate", err)
		}
		o.Log.Info().Str("rejects", rejects).Int("rows", c.Invalid).Msg("invalid rows written to the rejects file")
	}
	return res, nil
}

// writeRejected writes the invalid rows of a read input to a rejects file.
func writeRejected(ctx context.Context, store *storage.Store, r checkedInput, path string, headers []inputHeader) error {
	create := func(p string) (*storage.Writer, error) { return createOutput(ctx, store, p) }
	rej, err := newRejects(path, roomColumns, headers, create, nil)
	if err != nil {
		return &OutputError{What: "rejects", Path: path, Err: err}
	}
	for c, err := range r.Rows() {
		if err != nil {
			rej.abort()
			return err
		}
		if c.Status == csvmodel.Invalid {
			rej.add(c.File, c.Raw.Record, nil, "INVALID_ROW", c.Reason)
		}
	}
	if _, err := rej.close(ctx); err != nil {
		return &OutputError{What: "rejects", Path: path, Err: err}
	}
	return nil
}

// checkedInput is the rows of the files, read and checked (the first
// pass), and what must be closed once they are ranged.
type checkedInput struct {
	*csvmodel.Reader
	files []inputFile
}

// Close closes the reader and the remote files it read.
func (in checkedInput) Close() error { return errors.Join(in.Reader.Close(), closeInputs(in.files)) }

// readInput reads and checks every file (the first pass); a rejected file
// is an error. spool keeps a copy of standard input for a second pass.
func readInput(ctx context.Context, store *storage.Store, in Input, o IO, spool bool, onRow func(csvmodel.Checked)) (checkedInput, error) {
	return readFiles(ctx, store, in, o, spool, false, onRow)
}

// readFiles is readInput; with records, each row carries its cells and
// its file's header (csvmodel.Checked.Raw), for a rejects file.
func readFiles(ctx context.Context, store *storage.Store, in Input, o IO, spool, records bool, onRow func(csvmodel.Checked)) (checkedInput, error) {
	if in.DefaultProvider != "" {
		if msg := csvmodel.CheckProvider(in.DefaultProvider); msg != "" {
			return checkedInput{}, usage("default service provider: %s", msg)
		}
	}
	r, err := csvmodel.NewReader(csvmodel.Options{Delimiter: in.Delimiter, DefaultProvider: in.DefaultProvider, Columns: in.Columns,
		Reports: reportHeaders, Stdin: o.Stdin, Spool: spool, Records: records, OnRow: onRow})
	if err != nil {
		return checkedInput{}, &UsageError{err}
	}
	files, err := openInputs(ctx, store, in, o.now(), o.Log)
	if err != nil {
		return checkedInput{}, err
	}
	for _, f := range files {
		if f.obj != nil {
			err = r.Read(f.name, io.NewSectionReader(f.obj, 0, f.obj.Size()))
		} else {
			err = r.ReadFile(f.path)
		}
		if err != nil {
			r.Close()
			closeInputs(files)
			return checkedInput{}, err
		}
	}
	return checkedInput{r, files}, nil
}

// envFunc looks a variable up in env.
func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// ShardOf is the shard a run is given (flag, when not nil) or, without it,
// the one JOB_COMPLETION_INDEX and BULKSYNC_SHARD_COUNT of env name, as a
// Kubernetes Indexed Job sets them.
func ShardOf(flag *reconcile.Shard, env map[string]string) (reconcile.Shard, error) {
	idx, cnt := env["JOB_COMPLETION_INDEX"], env["BULKSYNC_SHARD_COUNT"]
	switch {
	case flag != nil:
		return *flag, nil
	case idx == "" && cnt == "":
		return reconcile.Shard{}, nil
	case idx == "" || cnt == "": // one alone would silently mean every row
		return reconcile.Shard{}, usage("JOB_COMPLETION_INDEX=%q and BULKSYNC_SHARD_COUNT=%q: set both, or neither", idx, cnt)
	}
	s, err := reconcile.ParseShard(idx + "/" + cnt)
	if err != nil {
		return s, usage("JOB_COMPLETION_INDEX and BULKSYNC_SHARD_COUNT: %w", err)
	}
	return s, nil
}
