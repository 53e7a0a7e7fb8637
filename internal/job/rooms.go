package job

import (
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/reconcile"
)

// roomsHeader is the report's columns for room associations: SPEC 5's, then
// the row's Alexa unit and how its profile was resolved (README).
var roomsHeader = []string{"file", "line", "service_provider_id", "external_user_id", "amazon_id", "amazon_id_type",
	"previous_amazon_id", "action", "outcome", "http_status", "error_type", "error_message", "attempts", "duration_ms",
	"unit_id", "profile"}

// rooms is the room association resource: CSV rows of externalUserId and
// amazonId (or the room's Alexa unit, resolved to its profile first) per
// service provider.
func rooms(cfg Config, d Deps) spec[reconcile.Profile] {
	in, log := cfg.Input, d.Log
	units := &resolver{api: d.Profiles, caller: d.Caller, log: log, create: cfg.CreateProfiles, dryRun: cfg.DryRun,
		strict: cfg.Strict, shard: cfg.Shard}
	if cfg.DryRun && !d.JSONLogs {
		units.plan = d.Stderr // with JSON logs, an event says it
	}
	return spec[reconcile.Profile]{
		res:          reconcile.Associations{API: d.API},
		header:       roomsHeader,
		defaultGroup: in.DefaultProvider,
		describe:     describeProfile,
		prepare:      units.prepare,
		rows: func(shard reconcile.Shard) (source[reconcile.Profile], error) {
			total := 0 // for progress only: the engine decides what is the shard's
			sawUnit := false
			r, err := readInput(in, true, func(c csvmodel.Checked) {
				if shard.Has(c.ServiceProviderID, c.ExternalUserID) {
					total++
				}
				sawUnit = sawUnit || c.UnitID != ""
			})
			if err != nil {
				return source[reconcile.Profile]{}, err
			}
			units.noUnits = !sawUnit // no pass over the rows to look for one
			valid, dups, invalid := r.Counts()
			log.Info().Strs("files", in.Files).Int("valid", valid).Int("duplicate", dups).Int("invalid", invalid).Int("blank", r.Blank()).
				Str("shard", shard.String()).Int("rows_in_shard", total).Msg("input read")
			return source[reconcile.Profile]{
				rows: func(yield func(reconcile.Row[reconcile.Profile], error) bool) {
					for c, err := range r.Rows() {
						if err != nil {
							yield(reconcile.Row[reconcile.Profile]{}, err)
							return
						}
						if !yield(roomRow(c), nil) {
							return
						}
					}
				},
				total: total, blank: r.Blank(), close: r.Close,
			}, nil
		},
		check: func(w reconcile.Write[reconcile.Profile]) string {
			row := csvmodel.Row{ServiceProviderID: w.Key.Group, ExternalUserID: w.Key.ID, AmazonID: w.Want.AmazonID,
				AmazonIDType: w.Want.AmazonIDType, Action: csvmodel.ActionUpsert}
			if w.Action == reconcile.ActDelete {
				row.Action = csvmodel.ActionDelete
			}
			return csvmodel.Check(row)
		},
		record: func(f reconcile.Fate[reconcile.Profile]) []string {
			file, line := where(f.Row.Src)
			prev := ""
			if f.Prev != nil {
				prev = f.Prev.AmazonID
			}
			rec := append([]string{file, line, f.Row.Key.Group, f.Row.Key.ID, f.Row.Want.AmazonID, f.Row.Want.AmazonIDType, prev},
				outcomeCells(f)...)
			return append(rec, f.Row.Want.UnitID, f.Row.Want.Resolution)
		},
	}
}

// describeProfile is a profile for people: its id, with the unit it was
// resolved from, or the profile a plan would create for the unit.
func describeProfile(p reconcile.Profile) string {
	switch {
	case p.UnitID == "":
		return p.AmazonID
	case p.AmazonID == "":
		return "a new profile for unit " + p.UnitID
	}
	return p.AmazonID + " (unit " + p.UnitID + ")"
}

func roomRow(c csvmodel.Checked) reconcile.Row[reconcile.Profile] {
	r := reconcile.Row[reconcile.Profile]{
		Src:    reconcile.Source{File: c.File, Line: c.Line},
		Key:    reconcile.Key{Group: c.ServiceProviderID, ID: c.ExternalUserID},
		Want:   reconcile.Profile{AmazonID: c.AmazonID, AmazonIDType: c.AmazonIDType, UnitID: c.UnitID, Name: c.Name},
		Delete: c.Action == csvmodel.ActionDelete,
		Reason: c.Reason,
	}
	switch c.Status {
	case csvmodel.Duplicate:
		r.Verdict = reconcile.Duplicate
	case csvmodel.Invalid:
		r.Verdict = reconcile.Invalid
	}
	return r
}
