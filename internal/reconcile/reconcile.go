// Package reconcile makes the API match the input: it batches ids by 30,
// queries what exists, diffs, checks the guards, and applies the writes
// through the worker pool, resolving ambiguous answers to the truth.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// Errors that end a run early; the caller maps them to exit codes.
var (
	ErrStrict = errors.New("--strict")
	ErrEmpty  = errors.New("input has no valid row")
	ErrGuard  = errors.New("guard tripped")
	ErrAuth   = errors.New("authentication refused")
	ErrStale  = errors.New("plan is stale")
)

// API is what the engine needs of the service.
type API interface {
	QueryAssociations(ctx context.Context, providerID string, q client.QueryRequest) (*client.QueryResponse, error)
	CreateAssociation(ctx context.Context, providerID string, a client.Association) error
	UpdateAssociation(ctx context.Context, providerID string, a client.Association) error
	DeleteAssociation(ctx context.Context, providerID, externalUserID string) error
}

// Options shape a run.
type Options struct {
	DryRun     bool  // plan: query and diff, no writes
	MaxDeletes Limit // guard on deletes per provider
	AllowEmpty bool  // allow input with no valid row
	Strict     bool  // any invalid row aborts before the first call
	Prune      bool  // also delete the provider's associations no input row names
	Shard      Shard // with Prune, delete only ids of this shard
}

// Engine runs one reconciliation. Report receives exactly one row per input
// row, from any goroutine.
type Engine struct {
	API    API
	Pool   *worker.Pool
	Report func(report.Row)
	Log    zerolog.Logger
	Opts   Options
	// Planned receives, in a dry run, every write the plan would make.
	Planned func(Write)
}

// item is one valid row on its way through the run.
type item struct {
	row    csvmodel.Row
	prev   *client.Association // what the API had; nil when absent
	action string
	done   bool // reported; touched by one goroutine at a time

	planned bool                // from a saved plan: action is fixed
	before  *client.Association // the state the plan was computed from
	stale   string              // how the API differs from before, if it does
}

type batch struct {
	provider string
	items    []*item
	total    int // the provider's association count, from the query
	err      error
	listed   map[string]client.Association // set when a listing answered for it
}

// providerState is what the delete guard needs to know of a provider.
type providerState struct {
	deleteRows int // upper bound on the deletes the plan can make
	total      int // existing associations; -1 until a query answers
	deletes    int // deletes planned so far

	named map[string]bool // with --prune: the ids input rows name
}

// Run reconciles rows (all of them, as read: invalid and duplicate rows are
// reported here too). It returns nil when the run went to its end, even with
// failed rows; ErrStrict, ErrEmpty, ErrGuard or ErrAuth (wrapped with the
// reason) when it stopped early; ctx's error when it was interrupted.
func (e *Engine) Run(ctx context.Context, rows []csvmodel.Checked) error {
	var valid []*item
	invalid := 0
	for _, c := range rows {
		switch c.Status {
		case csvmodel.Valid:
			valid = append(valid, &item{row: c.Row})
		case csvmodel.Duplicate:
			e.Report(rowOf(c.Row, report.ActNone, report.Duplicate, "DUPLICATE", c.Reason))
		default:
			invalid++
			e.Report(rowOf(c.Row, report.ActNone, report.Invalid, "INVALID_ROW", c.Reason))
		}
	}
	if e.Opts.Strict && invalid > 0 {
		err := fmt.Errorf("%w: %d invalid rows; nothing was sent", ErrStrict, invalid)
		e.skipAll(valid, err.Error())
		return err
	}
	if len(valid) == 0 && !e.Opts.AllowEmpty {
		return fmt.Errorf("%w: refusing to run without --allow-empty (an empty export must never wipe a property)", ErrEmpty)
	}
	if len(valid) == 0 && !e.Opts.Prune {
		return nil
	}

	return e.execute(ctx, valid, rows)
}

// RunPlan applies exactly the writes of a saved plan: it re-reads every id
// they touch and, unless all are as the plan found them, writes nothing
// and returns ErrStale.
func (e *Engine) RunPlan(ctx context.Context, writes []Write) error {
	items := make([]*item, 0, len(writes))
	for _, w := range writes {
		action := csvmodel.ActionUpsert
		if w.Action == report.ActDelete {
			action = csvmodel.ActionDelete
		}
		items = append(items, &item{
			row: csvmodel.Row{File: w.File, Line: w.Line, ServiceProviderID: w.Provider, ExternalUserID: w.ExternalUserID,
				AmazonID: w.AmazonID, AmazonIDType: w.AmazonIDType, Action: action},
			action: w.Action, planned: true, before: w.Before,
		})
	}
	if len(items) == 0 {
		return nil
	}
	return e.execute(ctx, items, nil)
}

// execute queries, diffs, guards and writes items; rows are all the input
// rows (for --prune, an id named by any of them is kept).
func (e *Engine) execute(ctx context.Context, items []*item, rows []csvmodel.Checked) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	r := &run{Engine: e, ctx: ctx, stop: stop, states: map[string]*providerState{}}
	batches := r.batches(items, rows)
	if e.Opts.Prune {
		batches = r.listAll(batches)
	}
	r.dispatch(batches)
	e.Pool.Wait()

	cause := context.Cause(ctx)
	msg := "not attempted"
	switch {
	case errors.Is(cause, ErrAuth), errors.Is(cause, ErrGuard), errors.Is(cause, ErrStale):
		msg = cause.Error()
	case cause != nil:
		msg = "interrupted before this row was sent"
	}
	e.skipAll(items, msg)
	e.skipAll(r.prunedItems, msg)
	return cause
}

type run struct {
	*Engine
	ctx         context.Context
	stop        context.CancelCauseFunc
	states      map[string]*providerState
	pending     int     // batches not yet answered
	open        bool    // writes may start: no guard can trip any more
	held        []*item // writes waiting for the gate
	stale       []string
	prunedItems []*item
}

// batches groups the items by provider, 30 distinct ids per query.
func (r *run) batches(items []*item, rows []csvmodel.Checked) []*batch {
	var out []*batch
	open := map[string]*batch{}
	for _, it := range items {
		p := it.row.ServiceProviderID
		st := r.state(p)
		switch {
		case it.planned || r.Opts.Prune:
			st.deleteRows = math.MaxInt // unknown until every answer is in
		case it.row.Action == csvmodel.ActionDelete:
			st.deleteRows++
		}
		b := open[p]
		if b == nil || len(b.items) == client.MaxQueryIDs {
			b = &batch{provider: p}
			open[p] = b
			out = append(out, b)
			r.pending++
		}
		b.items = append(b.items, it)
	}
	if r.Opts.Prune {
		for _, c := range rows {
			if msg := csvmodel.CheckProvider(c.ServiceProviderID); msg == "" {
				r.state(c.ServiceProviderID).named[c.ExternalUserID] = true
			}
		}
		if len(items) == 0 && r.Opts.AllowEmpty {
			// Nothing valid to query, but pruning still needs the listing of
			// the default provider, if one is known from the input rows.
			for p := range r.states {
				out = append(out, &batch{provider: p})
				r.pending++
			}
		}
	}
	return out
}

func (r *run) state(p string) *providerState {
	st := r.states[p]
	if st == nil {
		st = &providerState{total: -1, named: map[string]bool{}}
		r.states[p] = st
	}
	return st
}

// dispatch runs the queries and, as each answers, the writes it calls for.
// Writes of a provider start at once when the delete guard can't trip
// whatever the remaining answers say; otherwise they wait for every answer
// of that provider and the guard decides.
func (r *run) dispatch(batches []*batch) {
	answered := make(chan *batch, len(batches))
	next, waiting := 0, 0
	for next < len(batches) || waiting > 0 {
		// Writes first: they are what the run is for, and the sooner a
		// batch's writes start the fewer answers sit waiting.
		select {
		case b := <-answered:
			waiting--
			r.settle(b)
			continue
		default:
		}
		if next < len(batches) && r.ctx.Err() == nil {
			b := batches[next]
			next++
			waiting++
			if !r.Pool.Go(r.ctx, func() { r.query(b); answered <- b }) {
				waiting--
			}
			continue
		}
		if r.ctx.Err() != nil && next < len(batches) {
			next = len(batches) // the rest are skipped by the caller
			continue
		}
		r.settle(<-answered)
		waiting--
	}
}

// query reads what exists for a batch's ids, following pages.
func (r *run) query(b *batch) {
	if b.err != nil {
		return // the listing for it failed
	}
	if b.listed != nil {
		r.resolve(b, b.listed)
		return
	}
	if len(b.items) == 0 {
		return
	}
	ids := make([]string, len(b.items))
	for i, it := range b.items {
		ids[i] = it.row.ExternalUserID
	}
	found, total, err := r.read(b.provider, ids)
	b.total, b.err = total, err
	if err != nil {
		return
	}
	r.resolve(b, found)
}

// resolve sets what the API has for each item and what to do about it.
func (r *run) resolve(b *batch, found map[string]client.Association) {
	for _, it := range b.items {
		it.prev = nil
		if a, ok := found[it.row.ExternalUserID]; ok {
			it.prev = &a
		}
		if it.planned {
			if !sameAssociation(it.before, it.prev) {
				it.stale = fmt.Sprintf("%s: planned from %s, now %s", it.row.ExternalUserID, describe(it.before), describe(it.prev))
			}
			continue
		}
		it.action = diff(it.row, it.prev)
	}
}

func sameAssociation(a, b *client.Association) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.AmazonID == b.AmazonID && a.AmazonIDType == b.AmazonIDType
}

func describe(a *client.Association) string {
	if a == nil {
		return "absent"
	}
	return a.AmazonID
}

// read queries ids (at most 30; none lists every association, counted as
// kind "list") and returns what exists and the provider's association count.
func (r *run) read(provider string, ids []string) (map[string]client.Association, int, error) {
	found := map[string]client.Association{}
	total := 0
	kind := "query"
	if len(ids) == 0 {
		kind = "list"
	}
	q := client.QueryRequest{Filters: client.QueryFilters{ExternalUserIDs: ids}}
	err := client.Pages(r.ctx, q, func(ctx context.Context, q client.QueryRequest) (*client.QueryResponse, error) {
		return r.fetch(ctx, provider, kind, q)
	}, func(page *client.QueryResponse) error {
		total = page.PaginationContext.TotalCount
		for _, a := range page.AccountAssociations {
			found[a.ExternalUserID] = a
		}
		return nil
	})
	return found, total, err
}

// fetch asks for one page through the pool.
func (r *run) fetch(ctx context.Context, provider, kind string, q client.QueryRequest) (*client.QueryResponse, error) {
	var resp *client.QueryResponse
	res := r.Pool.Do(ctx, kind, func(ctx context.Context) error {
		var err error
		resp, err = r.API.QueryAssociations(ctx, provider, q)
		return err
	})
	if res.Err != nil || res.Interrupted {
		return nil, r.failure(res)
	}
	return resp, nil
}

// failure turns a finished call into the error a row reports, stopping the
// whole run when the credentials are refused.
func (r *run) failure(res worker.Result) error {
	if res.Err == nil {
		return context.Cause(r.ctx)
	}
	if client.IsAuthError(res.Err) {
		r.stop(fmt.Errorf("%w: %v", ErrAuth, res.Err))
	}
	return res.Err
}

func diff(row csvmodel.Row, prev *client.Association) string {
	switch {
	case row.Action == csvmodel.ActionDelete && prev != nil:
		return report.ActDelete
	case row.Action == csvmodel.ActionDelete:
		return report.ActNone
	case prev == nil:
		return report.ActCreate
	case prev.AmazonID != row.AmazonID || prev.AmazonIDType != row.AmazonIDType:
		return report.ActUpdate
	}
	return report.ActNone
}

// settle takes a batch's answer: reports what needs no write and starts the
// writes, or holds them while a guard could still trip.
func (r *run) settle(b *batch) {
	r.pending--
	st := r.states[b.provider]
	if st.total < 0 && b.err == nil {
		st.total = b.total
	}
	if r.Opts.Prune && b.listed != nil && b.err == nil {
		r.prune(b.provider, st, b.listed)
	}
	for _, it := range b.items {
		switch {
		case it.stale != "":
			r.stale = append(r.stale, it.stale)
			r.held = append(r.held, it)
		case b.err != nil:
			if r.ctx.Err() == nil {
				r.emit(it, r.errorRow(it, report.ActNone, worker.Result{Err: b.err}))
			}
		case it.action == report.ActNone:
			r.emit(it, r.resultRow(it, report.ActNone, report.Unchanged, 0, worker.Result{}))
		case r.Opts.DryRun:
			r.emit(it, r.resultRow(it, it.action, report.Planned, 0, worker.Result{}))
			r.plan(it)
		default:
			if it.action == report.ActDelete {
				st.deletes++
			}
			r.held = append(r.held, it)
		}
	}
	if r.Opts.DryRun || !r.gate() {
		return
	}
	writes := r.held
	r.held = nil
	for _, it := range writes {
		if !r.Pool.Go(r.ctx, func() { r.apply(it) }) {
			return
		}
	}
}

// gate says whether writes may start. Before the first write every guard
// must be sure to hold: at once when no provider can exceed its delete limit
// whatever the remaining answers say (the usual case, so reading and writing
// overlap), otherwise once every answer is in. A tripped guard stops the run.
func (r *run) gate() bool {
	if r.open {
		return true
	}
	safe := true
	for _, st := range r.states {
		if st.total < 0 || st.deleteRows > r.Opts.MaxDeletes.Max(st.total) {
			safe = false
		}
	}
	if !safe && r.pending > 0 {
		return false
	}
	if len(r.stale) > 0 {
		sort.Strings(r.stale)
		r.stop(fmt.Errorf("%w: %d of the ids it writes changed since it was made (%s); nothing was written; make a new plan",
			ErrStale, len(r.stale), strings.Join(r.stale[:min(3, len(r.stale))], "; ")))
		return false
	}
	for p, st := range r.states {
		if limit := r.Opts.MaxDeletes.Max(max(st.total, 0)); st.deletes > limit {
			r.stop(fmt.Errorf("%w: --max-deletes %s: the plan deletes %d of the %d associations of %s (at most %d allowed); nothing was written",
				ErrGuard, r.Opts.MaxDeletes, st.deletes, st.total, p, limit))
			return false
		}
	}
	r.open = true
	return true
}

// apply makes one write, following the API's answers to the truth: a create
// that finds the id taken re-reads it, an update that finds it gone creates
// it, and a delete of what is already gone is done.
func (r *run) apply(it *item) {
	row := it.row
	a := client.Association{ExternalUserID: row.ExternalUserID, AmazonID: row.AmazonID, AmazonIDType: row.AmazonIDType}
	var total worker.Result
	action := it.action
	for hop := 0; hop < 4; hop++ {
		var res worker.Result
		switch action {
		case report.ActCreate:
			res = r.Pool.Do(r.ctx, "create", func(ctx context.Context) error { return r.API.CreateAssociation(ctx, row.ServiceProviderID, a) })
		case report.ActUpdate:
			res = r.Pool.Do(r.ctx, "update", func(ctx context.Context) error { return r.API.UpdateAssociation(ctx, row.ServiceProviderID, a) })
		case report.ActDelete:
			res = r.Pool.Do(r.ctx, "delete", func(ctx context.Context) error {
				return r.API.DeleteAssociation(ctx, row.ServiceProviderID, row.ExternalUserID)
			})
		}
		total.Attempts += res.Attempts
		total.Duration += res.Duration
		total.Err, total.Interrupted = res.Err, res.Interrupted
		status := client.StatusOf(res.Err)
		switch {
		case res.Err == nil && res.Interrupted:
			r.emit(it, r.skippedRow(it, "interrupted before this row was sent"))
			return
		case res.Err == nil:
			r.emit(it, r.resultRow(it, it.action, doneOutcome(action), successStatus(action), total))
			return
		case action == report.ActDelete && status == 404:
			r.emit(it, r.resultRow(it, it.action, report.Deleted, 404, total))
			return
		case action == report.ActUpdate && status == 404:
			action = report.ActCreate
			continue
		case action == report.ActCreate && status == 409:
			found, _, err := r.read(row.ServiceProviderID, []string{row.ExternalUserID})
			if err != nil {
				total.Err = err
				r.emit(it, r.errorRow(it, it.action, total))
				return
			}
			now, ok := found[row.ExternalUserID]
			if !ok {
				continue // gone again between our calls: create once more
			}
			if diff(row, &now) == report.ActNone {
				outcome := report.Unchanged
				if total.Attempts > 1 || it.action != report.ActCreate {
					outcome = report.Created // an earlier attempt of ours made it
				}
				r.emit(it, r.resultRow(it, it.action, outcome, 409, total))
				return
			}
			action = report.ActUpdate
			continue
		}
		if total.Attempts == 0 {
			r.emit(it, r.skippedRow(it, "interrupted before this row was sent"))
			return
		}
		r.failure(res)
		r.emit(it, r.errorRow(it, it.action, total))
		return
	}
	total.Err = fmt.Errorf("the API kept changing under us: gave up after create, update and re-read")
	r.emit(it, r.errorRow(it, it.action, total))
}

func doneOutcome(action string) string {
	switch action {
	case report.ActCreate:
		return report.Created
	case report.ActUpdate:
		return report.Updated
	}
	return report.Deleted
}

func successStatus(action string) int {
	if action == report.ActCreate {
		return 201
	}
	return 200
}

func (r *run) emit(it *item, row report.Row) {
	it.done = true
	r.Report(row)
	ev := r.Log.Debug()
	if row.Outcome == report.Failed {
		ev = r.Log.Warn()
	}
	ev.Str("provider", row.ServiceProviderID).Str("external_user_id", row.ExternalUserID).Str("op", row.Action).
		Str("outcome", row.Outcome).Int("status", row.HTTPStatus).Int("attempt", row.Attempts).
		Int64("duration_ms", row.Duration.Milliseconds()).Str("error", row.ErrorMessage).Msg("row done")
}

func rowOf(row csvmodel.Row, action, outcome, errType, msg string) report.Row {
	return report.Row{File: row.File, Line: row.Line, ServiceProviderID: row.ServiceProviderID, ExternalUserID: row.ExternalUserID,
		AmazonID: row.AmazonID, AmazonIDType: row.AmazonIDType, Action: action, Outcome: outcome, ErrorType: errType, ErrorMessage: msg}
}

func (r *run) resultRow(it *item, action, outcome string, status int, res worker.Result) report.Row {
	out := rowOf(it.row, action, outcome, "", "")
	if it.prev != nil {
		out.PreviousAmazonID = it.prev.AmazonID
	}
	out.HTTPStatus, out.Attempts, out.Duration = status, res.Attempts, res.Duration
	return out
}

func (r *run) errorRow(it *item, action string, res worker.Result) report.Row {
	out := r.resultRow(it, action, report.Failed, client.StatusOf(res.Err), res)
	var ae *client.APIError
	switch {
	case errors.As(res.Err, &ae):
		out.ErrorType, out.ErrorMessage = ae.Type, ae.Message
		if out.ErrorType == "" {
			out.ErrorType = fmt.Sprintf("HTTP_%d", ae.Status)
		}
	case errors.Is(res.Err, context.DeadlineExceeded):
		out.ErrorType, out.ErrorMessage = "TIMEOUT", res.Err.Error()
	case res.Err != nil:
		out.ErrorType, out.ErrorMessage = "TRANSPORT", res.Err.Error()
	}
	if res.Attempts > 1 {
		out.ErrorMessage = fmt.Sprintf("%s (after %d attempts)", out.ErrorMessage, res.Attempts)
	}
	return out
}

func (r *run) skippedRow(it *item, msg string) report.Row {
	out := r.resultRow(it, it.action, report.Skipped, 0, worker.Result{})
	out.ErrorType, out.ErrorMessage = "SKIPPED", msg
	return out
}

// skipAll reports every row not reported yet as skipped, with why.
func (e *Engine) skipAll(items []*item, msg string) {
	for _, it := range items {
		if it.done {
			continue
		}
		action := it.action
		if action == "" {
			action = report.ActNone
		}
		it.action = action
		out := rowOf(it.row, action, report.Skipped, "SKIPPED", msg)
		if it.prev != nil {
			out.PreviousAmazonID = it.prev.AmazonID
		}
		it.done = true
		e.Report(out)
	}
}
