// Package reconcile makes an API's associations match the input, for any
// resource that can say how to read what exists and how to write one
// association (Resource). It is three parts with one job each:
//
//   - the planner (planner.go) is pure: which reads learn what exists with
//     the fewest calls, what each row calls for (diff), what --prune deletes,
//     and whether the guards let writes start;
//   - the applier (applier.go) makes one write and follows the API's
//     ambiguous answers to the truth;
//   - the scheduler (scheduler.go) runs reads and writes through the worker
//     pool and is the only place where a decision becomes a row's Fate.
package reconcile

import (
	"errors"
	"time"
)

// Errors that end a run early; the caller maps them to exit codes.
var (
	ErrStrict = errors.New("strict mode")
	ErrEmpty  = errors.New("input has no valid row")
	ErrGuard  = errors.New("guard tripped")
	ErrStale  = errors.New("plan is stale")
	// ErrIncomplete ends a run that went to its end but knows a listing it
	// read was incomplete (it kept changing while read).
	ErrIncomplete = errors.New("a listing kept changing while it was read")
)

// Key names one association. Group is what guards and pruning count by (a
// service provider; a skill), ID what is associated within it (a room's
// externalUserId; a product).
type Key struct{ Group, ID string }

// Source is where a row came from: a file and line, or nothing for an
// association found only in the API (pruned).
type Source struct {
	File string
	Line int
}

// Valid is the Verdict of a row the engine is to decide: reading gave it
// no outcome yet.
const Valid Outcome = 0

// Row is one input row as the engine sees it.
type Row[V any] struct {
	Src    Source
	Key    Key
	Want   V    // what the row asks the association to be (also kept for invalid rows, for the report)
	Delete bool // the row asks for the association to be gone
	// Verdict is what reading made of the row: Valid, or the outcome it
	// already has: Duplicate, Invalid, Skipped (never sent: Reason and
	// ErrType say why), or Failed (a stage before the engine,
	// such as resolving a room's unit, could not complete it: it is reported
	// with its ErrType, Status and Reason, never sent, and still keeps its id
	// from being pruned).
	Verdict Outcome
	Reason  string // why the row is not Valid
	ErrType string // Failed and Skipped rows: the error type of what stopped it
	Status  int    // Failed rows: that answer's HTTP status; 0 when none
	Retry   bool   // Failed rows: the failure was transient, a rerun may fix it
	// Conditional rows are written only where the API holds Expect (nil:
	// nothing at all) when read; elsewhere they are Skipped with what it
	// holds (ChangedSince). An undo touches only what its run left.
	Conditional bool
	Expect      *V
	// Cells are the row's cells as its file holds them, every column: the
	// engine hands them back in the row's Fate (a rejects file writes them).
	Cells []string
}

// ChangedSince is the error type of a Conditional row left alone because
// the API no longer holds what the row expects.
const ChangedSince = "CHANGED_SINCE"

// Fate is what became of one row, or of one association pruned: the one
// thing the engine reports.
type Fate[V any] struct {
	Row     Row[V]
	Prev    *V // what the API had; nil when absent or never read
	Action  Action
	Outcome Outcome
	Status  int    // HTTP status of the answer that decided it; 0 when none
	ErrType string // the API's error type, or the local reason's (INVALID_ROW, SKIPPED, …)
	ErrMsg  string
	// Retry marks a Failed row that a rerun may fix: its last failure was
	// transient (a 5xx, a timeout, throttling past the attempts). A failed
	// row without it was refused, and no rerun will help (a 400, say).
	Retry    bool
	Attempts int // calls made for the row's write, retries included
	Duration time.Duration
}

// Options shape a run.
type Options struct {
	DryRun     bool  // plan: read and diff, no writes
	MaxDeletes Limit // guard on deletes per group
	AllowEmpty bool  // allow input with no valid row
	Strict     bool  // any invalid row aborts before the first call
	Prune      bool  // also delete the associations of a group that no row names
	Shard      Shard // only rows, and pruned associations, of this shard
	// DefaultGroup is pruned when no row names any group (an empty export
	// with --prune --allow-empty empties the group it was run for).
	DefaultGroup string
	// KeepPlan collects, in a dry run, the writes the plan would make.
	KeepPlan bool
}

// Result is what a run did.
type Result[V any] struct {
	Counts Counts     // rows by outcome
	Plan   []Write[V] // a dry run's writes, with Options.KeepPlan
	Groups []string   // the groups the rows named (and a pruned default group), sorted
}
