package job

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"slices"
	"sync"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// ProfileAPI is what resolving rooms' units needs of the Communication
// Profile API (api/PROFILE-NOTES.md) and of Unit Management.
type ProfileAPI interface {
	GetProfileByUnit(ctx context.Context, unitID string) (*client.Profile, error)
	CreateProfile(ctx context.Context, r client.ProfileRequest) (*client.Profile, error)
	CreateProfiles(ctx context.Context, reqs []client.ProfileRequest, numericIDs bool) (*client.BatchResult, error)
	UnitExists(ctx context.Context, unitID string) (bool, error)
}

// How a row's unit was resolved: the report's profile column.
const (
	ProfileFound    = "found"     // the unit's existing profile
	ProfileCreated  = "created"   // this run created the unit's profile
	ProfileToCreate = "to_create" // plan only: sync would create it
	ProfileMissing  = "missing"   // the unit has none and creation is off: the row failed
)

// Error types of rows failed by resolution, for the report's error_type.
const (
	errNoProfile   = "NO_PROFILE"
	errUnknownUnit = "UNKNOWN_UNIT"
)

// Call kinds of the pool's statistics and the summary.
const (
	kindProfileGet   = "profile_get"
	kindProfileNew   = "profile_create"
	kindProfileBatch = "profile_batch"
	kindUnitGet      = "unit_get"
)

// profileScopeHint is said when the profile API refuses the credentials:
// the association scope alone does not cover it (README, Credentials).
const profileScopeHint = "the Login with Amazon consent needs the scope alexa::enterprise:management for communication profiles"

// checkProfiles refuses profile creation with a saved plan: a plan holds
// association writes only, each with the profile it points at.
func checkProfiles(o Options) error {
	switch {
	case !o.CreateProfiles:
	case o.PlanIn != "":
		return usage("a saved plan creates no communication profile: apply it without profile creation")
	case o.PlanOut != "":
		return usage("a saved plan can't hold profiles to create: create them with sync first, or plan without saving")
	}
	return nil
}

// resolver turns rows that name an Alexa unit into rows with its
// communication profile: one read per distinct unit, and, when told to,
// the missing profiles created, in batches where the batch answer can be
// read and one by one otherwise. It runs before the diff, through the
// run's pool (rate limit, retries), and writes nothing in a dry run. It
// keeps what it learns per unit, not per row: the rows stream past.
type resolver struct {
	api    ProfileAPI
	caller *worker.Caller
	log    zerolog.Logger
	create bool // create the profiles units lack
	dryRun bool
	strict bool
	owns   func(reconcile.Key) bool // the row is this shard's (reconcile.Owns); nil: every row is
	// noUnits says the input's first pass saw no unitId: nothing to resolve,
	// and no pass over the rows to find out.
	noUnits bool

	units    map[string]*unitRows
	resolved bool        // the API was asked about every unit
	held     bool        // strict, with a row to abort for: no profile is created
	planned  []*unitRows // a dry run's profiles to create
}

type row = reconcile.Row[reconcile.Profile]

// unitRows is what the rows of one unit ask for and what the API said.
type unitRows struct {
	unit     string
	first    reconcile.Source // its first row, for people
	name     string           // the display name its rows give; "" when none
	nameAt   reconcile.Source
	conflict string          // its rows give different names: why they are all invalid
	bare     bool            // a row gives no amazonId: only a profile of the unit can do
	given    map[string]bool // the amazonIds its rows give alongside the unit

	profile *client.Profile
	created bool            // this run created the profile
	missing string          // why the unit has no profile (the answer)
	missSt  int             // that answer's status
	fail    *worker.Failure // reading, checking or creating failed
	planned bool            // a dry run would create its profile
}

// needs reports whether resolution is for this row: a valid upsert of the
// shard that names a unit.
func (r *resolver) needs(x row) bool {
	return x.Verdict == reconcile.Valid && !x.Delete && x.Want.UnitID != "" && (r.owns == nil || r.owns(x.Key))
}

// prepare resolves the units the rows name and returns the rows as the
// engine must see them. A non-nil error stops the run (credentials
// refused, interrupted): the rows then go to the engine as they are, to be
// reported skipped.
func (r *resolver) prepare(ctx context.Context, rows iter.Seq2[row, error]) (iter.Seq2[row, error], error) {
	if r.noUnits {
		return rows, nil
	}
	r.units = map[string]*unitRows{}
	var order []*unitRows
	invalid := false
	for x, err := range rows {
		if err != nil {
			return rows, nil // the engine meets it too, and says so
		}
		// --strict judges the whole input, every shard's rows (as the
		// engine does): an invalid row anywhere creates no profile.
		invalid = invalid || x.Verdict == reconcile.Invalid
		if !r.needs(x) {
			continue
		}
		u := r.units[x.Want.UnitID]
		if u == nil {
			u = &unitRows{unit: x.Want.UnitID, first: x.Src, given: map[string]bool{}}
			r.units[u.unit] = u
			order = append(order, u)
		}
		u.add(x)
	}
	if len(order) == 0 {
		return rows, nil
	}
	if err := r.resolve(ctx, order, invalid); err != nil {
		return rows, err
	}
	return func(yield func(row, error) bool) {
		for x, err := range rows {
			if err == nil && r.needs(x) {
				x = r.settle(x, r.units[x.Want.UnitID])
			}
			if !yield(x, err) {
				return
			}
		}
	}, nil
}

// add takes one row of the unit: its name, and its amazonId if it gives one.
func (u *unitRows) add(x row) {
	switch n := x.Want.Name; {
	case n == "" || u.conflict != "":
	case u.name == "":
		u.name, u.nameAt = n, x.Src
	case n != u.name:
		u.conflict = fmt.Sprintf("unitId %s is given conflicting names: %q at %s and %q at %s",
			u.unit, u.name, whereSrc(u.nameAt), n, whereSrc(x.Src))
	}
	if x.Want.AmazonID == "" {
		u.bare = true
	} else {
		u.given[x.Want.AmazonID] = true
	}
}

func whereSrc(s reconcile.Source) string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// resolve asks the API about units; invalid says the input has an invalid
// row already (with strict, nothing is called: the run aborts).
func (r *resolver) resolve(ctx context.Context, all []*unitRows, invalid bool) error {
	units := slices.DeleteFunc(slices.Clone(all), func(u *unitRows) bool { return u.conflict != "" })
	if r.strict && (invalid || len(units) < len(all)) {
		return nil // the engine aborts before its first call, and so do we
	}
	r.resolved = true
	if r.api == nil {
		for _, u := range units {
			u.fail = &worker.Failure{Type: "ERROR", Message: "no communication profile API to resolve the unit with"}
		}
		return nil
	}
	if err := r.read(ctx, units); err != nil {
		return err
	}
	// With strict, a row whose amazonId contradicts its unit aborts the
	// run before the first write: no profile is created.
	r.held = r.strict && slices.ContainsFunc(units, contradicted)
	if r.create && !r.held {
		// A unit that does not exist has no profile either, and a create
		// for it would be refused on every run: a read tells them apart.
		var create []*unitRows
		for _, u := range units {
			if u.fail == nil && u.profile == nil && u.bare {
				create = append(create, u)
			}
		}
		if err := r.checkUnits(ctx, create); err != nil {
			return err
		}
		create = slices.DeleteFunc(create, func(u *unitRows) bool { return u.fail != nil })
		if r.dryRun {
			for _, u := range create {
				u.planned = true
			}
		} else if err := r.createAll(ctx, create); err != nil {
			return err
		}
	}
	r.report(units)
	return nil
}

// contradicted reports whether a row of u gives an amazonId u does not have.
func contradicted(u *unitRows) bool {
	if u.fail != nil || len(u.given) == 0 {
		return false
	}
	return u.profile == nil || len(u.given) > 1 || !u.given[u.profile.ID]
}

// read asks for the profile of every unit, one call each. A 404, or a 200
// that names no profile, means the unit has none.
func (r *resolver) read(ctx context.Context, units []*unitRows) error {
	return eachUnit(ctx, r, kindProfileGet, "reading communication profiles", units,
		func(ctx context.Context, u *unitRows) (*client.Profile, error) {
			return r.api.GetProfileByUnit(ctx, u.unit)
		},
		func(u *unitRows, p *client.Profile, f worker.Failure, err error) {
			switch {
			case err == nil && p == nil:
				u.missing, u.missSt = "the API answered 200 naming none", http.StatusOK
			case err == nil:
				u.profile = p
			case f.Status == http.StatusNotFound:
				u.missing, u.missSt = fmt.Sprintf("the API answered %d: %s", f.Status, f.Message), f.Status
			default:
				f.Message = "reading the unit's communication profile: " + f.Message
				u.fail = &f
			}
		})
}

// checkUnits asks whether each unit exists, one call each.
func (r *resolver) checkUnits(ctx context.Context, units []*unitRows) error {
	return eachUnit(ctx, r, kindUnitGet, "reading units", units,
		func(ctx context.Context, u *unitRows) (bool, error) { return r.api.UnitExists(ctx, u.unit) },
		func(u *unitRows, exists bool, f worker.Failure, err error) {
			switch {
			case err == nil && !exists:
				u.fail = &worker.Failure{Type: errUnknownUnit, Status: http.StatusNotFound,
					Message: fmt.Sprintf("unitId %s is not a unit the API knows (it answered 404); no profile was created for it", u.unit)}
			case err != nil:
				f.Message = "checking that the unit exists: " + f.Message
				u.fail = &f
			}
		})
}

// eachUnit makes one call per unit, a fan-out, and hands each answer to
// done (err nil: success), one at a time. Refused credentials stop the run:
// no call starts after one is refused, and the error says why.
func eachUnit[T any](ctx context.Context, r *resolver, kind, doing string, units []*unitRows,
	call func(context.Context, *unitRows) (T, error), done func(u *unitRows, v T, f worker.Failure, err error)) error {
	g, gctx := r.caller.Group(ctx)
	var mu sync.Mutex
	for _, u := range units {
		ok := worker.Go(gctx, g, func() error {
			var v T
			res, fatal := r.caller.Do(gctx, kind, func(ctx context.Context) error {
				var err error
				v, err = call(ctx, u)
				return err
			})
			if fatal != nil {
				return authStop(doing, fatal)
			}
			if res.Err == nil && res.Interrupted {
				return nil // said below
			}
			mu.Lock()
			defer mu.Unlock()
			done(u, v, worker.Classify(res.Err), res.Err)
			return nil
		})
		if !ok {
			break
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return context.Cause(ctx)
}

// authStop is the error that stops a run whose credentials the profile API
// refused (a worker.ErrAuth); a 403 most likely means a scope the consent
// lacks.
func authStop(doing string, fatal error) error {
	if client.StatusOf(fatal) == http.StatusForbidden {
		return fmt.Errorf("%s: %w (%s)", doing, fatal, profileScopeHint)
	}
	return fmt.Errorf("%s: %w", doing, fatal)
}

// batchPlan is what the run has learnt about the batch create: which
// itemId type the API takes, and whether its answer can be read at all.
type batchPlan struct {
	mu      sync.Mutex
	numeric bool // send itemIds as numbers (strings first, as the vendor's CLI does)
	flipped bool // the other type was tried after a 400
	off     bool // the answer can't be read, or the batch is refused: one by one
}

// createAll creates the profiles of units: the first batch alone, to learn
// whether batches work, then the other batches together; units no batch
// answer confirms are created one by one (the create is idempotent, so a
// unit a batch did create just gets its profile back).
func (r *resolver) createAll(ctx context.Context, units []*unitRows) error {
	var bp batchPlan
	var chunks [][]*unitRows
	for c := range slices.Chunk(units, client.MaxProfileBatch) {
		chunks = append(chunks, c)
	}
	var mu sync.Mutex
	var singles []*unitRows
	batch := func(ctx context.Context, c []*unitRows) error {
		left, err := r.batch(ctx, c, &bp)
		mu.Lock()
		singles = append(singles, left...)
		mu.Unlock()
		return err
	}
	switch len(units) {
	case 0:
		return nil
	case 1:
		singles = units
	default:
		if err := batch(ctx, chunks[0]); err != nil {
			return err
		}
		g, gctx := r.caller.Group(ctx)
		for _, c := range chunks[1:] {
			if !worker.Go(gctx, g, func() error { return batch(gctx, c) }) {
				break
			}
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return eachUnit(ctx, r, kindProfileNew, "creating communication profiles", singles,
		func(ctx context.Context, u *unitRows) (*client.Profile, error) {
			return r.api.CreateProfile(ctx, client.ProfileRequest{UnitID: u.unit, Name: u.name})
		},
		func(u *unitRows, p *client.Profile, f worker.Failure, err error) {
			if err != nil {
				f.Message = "creating the unit's communication profile: " + f.Message
				u.fail = &f
				return
			}
			u.profile, u.created = p, true
		})
}

// batch creates the profiles of one chunk in one call and returns the
// units its answer did not confirm. A 400 once tries the other itemId
// type; an answer that confirms nothing, or any other refusal, turns
// batches off for the run.
func (r *resolver) batch(ctx context.Context, c []*unitRows, bp *batchPlan) ([]*unitRows, error) {
	bp.mu.Lock()
	off, numeric := bp.off, bp.numeric
	bp.mu.Unlock()
	if off {
		return c, nil
	}
	reqs := make([]client.ProfileRequest, len(c))
	for i, u := range c {
		reqs[i] = client.ProfileRequest{UnitID: u.unit, Name: u.name}
	}
	var br *client.BatchResult
	res, fatal := r.caller.Do(ctx, kindProfileBatch, func(ctx context.Context) error {
		var err error
		br, err = r.api.CreateProfiles(ctx, reqs, numeric)
		return err
	})
	switch {
	case fatal != nil:
		return c, authStop("creating communication profiles", fatal)
	case res.Err == nil && res.Interrupted:
		return c, context.Cause(ctx)
	}
	f := worker.Classify(res.Err)
	switch {
	case res.Err == nil:
		var left []*unitRows
		for _, u := range c {
			if p, ok := br.Profiles[u.unit]; ok {
				u.profile, u.created = &p, true
			} else {
				left = append(left, u)
			}
		}
		if len(left) == len(c) {
			r.batchesOff(bp, fmt.Sprintf("the batch answer (%d) confirms none of its units", br.Status))
		}
		return left, nil
	case f.Status == http.StatusBadRequest:
		bp.mu.Lock()
		retry := !bp.flipped && bp.numeric == numeric
		if retry {
			bp.flipped, bp.numeric = true, !numeric
		}
		bp.mu.Unlock()
		if retry {
			r.log.Info().Bool("numeric_item_ids", !numeric).Str("error", f.Message).Msg("profile batch refused: trying the other itemId type")
			return r.batch(ctx, c, bp)
		}
		r.batchesOff(bp, "the batch is refused: "+f.Message)
		return c, nil
	case f.Status >= 400 && f.Status < 500:
		r.batchesOff(bp, "the batch is refused: "+f.Message)
	}
	return c, nil // a failure worth another try: one by one, idempotently
}

func (r *resolver) batchesOff(bp *batchPlan, why string) {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	if !bp.off {
		bp.off = true
		r.log.Warn().Str("why", why).Msg("profile batches off for this run: creating profiles one by one")
	}
}

// settle writes what resolution found about its unit into one row.
func (r *resolver) settle(x row, u *unitRows) row {
	switch {
	case u.conflict != "":
		x.Verdict, x.Reason = reconcile.Invalid, u.conflict
	case !r.resolved:
		// not asked (strict, with an invalid row): the engine aborts
	case u.fail != nil:
		x.Verdict, x.ErrType, x.Status, x.Reason, x.Retry = reconcile.Failed, u.fail.Type, u.fail.Status, u.fail.Message, u.fail.Retry
	case u.profile != nil && x.Want.AmazonID != "" && x.Want.AmazonID != u.profile.ID:
		x.Verdict = reconcile.Invalid
		x.Reason = fmt.Sprintf("unitId %s has communication profile %s, not the row's amazonId %s", u.unit, u.profile.ID, x.Want.AmazonID)
		x.Want.Resolution = ProfileFound
	case u.profile != nil:
		x.Want.AmazonID, x.Want.Resolution = u.profile.ID, ProfileFound
		if u.created {
			x.Want.Resolution = ProfileCreated
		}
	case x.Want.AmazonID != "":
		x.Verdict = reconcile.Invalid
		x.Reason = fmt.Sprintf("unitId %s has no communication profile, so it can't be the row's amazonId %s", u.unit, x.Want.AmazonID)
	case r.held && r.create:
		// creation held back (strict): the engine aborts, skipping the row
	case u.planned:
		x.Want.Resolution = ProfileToCreate
	default:
		x.Verdict, x.ErrType, x.Status = reconcile.Failed, errNoProfile, u.missSt
		x.Reason = fmt.Sprintf("unitId %s has no communication profile (%s); bulksync creates missing profiles only when told to", u.unit, u.missing)
		x.Want.Resolution = ProfileMissing
	}
	return x
}

// report logs what resolution found and, in a dry run, lists the profiles
// sync would create.
func (r *resolver) report(units []*unitRows) {
	found, created, failed := 0, 0, 0
	var planned []*unitRows
	for _, u := range units {
		switch {
		case u.planned:
			planned = append(planned, u)
		case u.created:
			created++
		case u.profile != nil:
			found++
		default:
			failed++
		}
	}
	r.log.Info().Int("units", len(units)).Int("found", found).Int("created", created).Int("to_create", len(planned)).
		Int("without", failed).Msg("units resolved to communication profiles")
	r.planned = planned
	if len(planned) == 0 {
		return
	}
	first := make([]string, 0, min(len(planned), planViewFirst))
	for _, u := range planned[:cap(first)] {
		first = append(first, u.unit)
	}
	r.log.Info().Int("profiles", len(planned)).Strs("units", first).Msg("plan: communication profiles to create")
}

// writePlanned lists, for people, the profiles a dry run would create.
func (r *resolver) writePlanned(w io.Writer) {
	if len(r.planned) == 0 {
		return
	}
	fmt.Fprintf(w, "\nplan: %d communication profiles to create, for units that have none:\n", len(r.planned))
	for i, u := range r.planned {
		if i == planViewFirst {
			fmt.Fprintf(w, "    … and %d more\n", len(r.planned)-i)
			break
		}
		name := ""
		if u.name != "" {
			name = fmt.Sprintf(" %q", u.name)
		}
		fmt.Fprintf(w, "  + %s%s   %s\n", u.unit, name, whereSrc(u.first))
	}
}
