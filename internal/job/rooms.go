package job

import (
	"cmp"
	"context"

	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
)

// roomReport is a row of the rooms report: SPEC 5's columns, then the
// row's Alexa unit and how its profile was resolved (README).
type roomReport struct {
	File              string           `csv:"file"`
	Line              report.BlankZero `csv:"line"`
	ServiceProviderID string           `csv:"service_provider_id"`
	ExternalUserID    string           `csv:"external_user_id"`
	AmazonID          string           `csv:"amazon_id"`
	AmazonIDType      string           `csv:"amazon_id_type"`
	PreviousAmazonID  string           `csv:"previous_amazon_id"`
	report.Fate
	UnitID  string `csv:"unit_id"`
	Profile string `csv:"profile"`
}

// reportHeaders are the headers of the reports bulksync writes: a file
// with one is refused as input (a report's columns alias the input's, and
// a previous report matched by *.csv would read as 200 invalid rows). The
// rooms report of before its unit columns is one too.
var reportHeaders = [][]string{report.Header[roomReport](), report.Header[roomReport]()[:14]}

// rooms is the room association resource: CSV rows of externalUserId and
// amazonId (or the room's Alexa unit, resolved to its profile first) per
// service provider.
func rooms(s *Session, o Options) spec[reconcile.Profile, roomReport] {
	in, log := o.Input, o.IO.Log
	units := &resolver{api: s.API, caller: s.Caller, log: log, create: o.CreateProfiles, dryRun: o.DryRun,
		strict: o.Strict, noUnits: len(o.Undo) > 0,
		owns: func(k reconcile.Key) bool { return reconcile.Owns(o.Shard, reconcile.Associations{}, k) }}
	records := o.Rejects != "" // rows carry their cells, for the rejects file
	return spec[reconcile.Profile, roomReport]{
		res:          reconcile.Associations{API: s.API},
		defaultGroup: in.DefaultProvider,
		describe:     describeProfile,
		prepare:      units.prepare,
		preface:      units.writePlanned,
		rows: func(ctx context.Context, shard reconcile.Shard) (source[reconcile.Profile], error) {
			total := 0 // for progress only: the engine decides what is the shard's
			sawUnit, noProvider, other := false, 0, 0
			var headers []inputHeader
			r, err := readFiles(ctx, s.store(), in, o.IO, true, records, func(c csvmodel.Checked) {
				if reconcile.Owns(shard, reconcile.Associations{}, reconcile.Key{Group: c.ServiceProviderID, ID: c.ExternalUserID}) {
					total++
				}
				sawUnit = sawUnit || c.UnitID != ""
				if c.Status == csvmodel.Invalid && c.Reason == csvmodel.NoProvider {
					noProvider++
				} else {
					other++
				}
				if records && (len(headers) == 0 || headers[len(headers)-1].file != c.File) {
					headers = append(headers, inputHeader{c.File, c.Raw.Header, c.Raw.Comma})
				}
			})
			if err != nil {
				return source[reconcile.Profile]{}, err
			}
			units.noUnits = !sawUnit // no pass over the rows to look for one
			emptyHint := ""
			if noProvider > 0 && other == 0 {
				emptyHint = "no row names a serviceProviderId: give --service-provider-id ID (or a serviceProviderId column)"
			}
			valid, dups, invalid := r.Counts()
			log.Info().Strs("files", redactAll(in.Files)).Int("valid", valid).Int("duplicate", dups).Int("invalid", invalid).Int("blank", r.Blank()).
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
				total: total, blank: r.Blank(), close: r.Close, emptyHint: emptyHint, headers: headers, inputs: names(r.files),
			}, nil
		},
		check: func(w reconcile.Write[reconcile.Profile]) string {
			return checkRoom(w.Key, w.Want, w.Action == reconcile.ActDelete)
		},
		undo: undoSpec[reconcile.Profile]{name: "rooms", headers: reportHeaders,
			others: map[string][][]string{"products sync": {report.Header[productReport]()}},
			key: func(cell func(string) string) reconcile.Key {
				return reconcile.Key{Group: cell("service_provider_id"), ID: cell("external_user_id")}
			},
			values: func(cell func(string) string) (left, before *reconcile.Profile) {
				if id := cell("amazon_id"); id != "" {
					left = &reconcile.Profile{AmazonID: id, AmazonIDType: cmp.Or(cell("amazon_id_type"), csvmodel.DefaultAmazonIDType)}
				}
				if id := cell("previous_amazon_id"); id != "" {
					// The API takes one type; the report keeps no other.
					before = &reconcile.Profile{AmazonID: id, AmazonIDType: csvmodel.DefaultAmazonIDType}
				}
				return left, before
			},
			check: func(r reconcile.Row[reconcile.Profile]) string { return checkRoom(r.Key, r.Want, r.Delete) },
			equal: reconcile.Associations{}.Equal,
		},
		plain: roomColumns,
		plainRow: func(r reconcile.Row[reconcile.Profile]) []string {
			action := csvmodel.ActionUpsert
			if r.Delete {
				action = csvmodel.ActionDelete
			}
			return []string{r.Key.Group, r.Key.ID, r.Want.AmazonID, r.Want.AmazonIDType, action}
		},
		listed: checkListedRoom,
		row: func(f reconcile.Fate[reconcile.Profile]) roomReport {
			r := roomReport{File: f.Row.Src.File, Line: line(f.Row.Src), ServiceProviderID: f.Row.Key.Group, ExternalUserID: f.Row.Key.ID,
				AmazonID: f.Row.Want.AmazonID, AmazonIDType: f.Row.Want.AmazonIDType, Fate: fate(f),
				UnitID: f.Row.Want.UnitID, Profile: f.Row.Want.Resolution}
			if f.Prev != nil {
				r.PreviousAmazonID = f.Prev.AmazonID
			}
			return r
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

// roomColumns are a room input file's columns as bulksync writes one
// (export, and rejected rows that have no file of their own).
var roomColumns = []string{"serviceProviderId", "externalUserId", "amazonId", "amazonIdType", "action"}

func roomRow(c csvmodel.Checked) reconcile.Row[reconcile.Profile] {
	r := reconcile.Row[reconcile.Profile]{
		Src:    reconcile.Source{File: c.File, Line: c.Line},
		Key:    reconcile.Key{Group: c.ServiceProviderID, ID: c.ExternalUserID},
		Want:   reconcile.Profile{AmazonID: c.AmazonID, AmazonIDType: c.AmazonIDType, UnitID: c.UnitID, Name: c.Name},
		Delete: c.Action == csvmodel.ActionDelete,
		Reason: c.Reason,
	}
	if c.Raw != nil {
		r.Cells = c.Raw.Record
	}
	switch c.Status {
	case csvmodel.Duplicate:
		r.Verdict = reconcile.Duplicate
	case csvmodel.Invalid:
		r.Verdict = reconcile.Invalid
	}
	return r
}

// line is a row's line in its file: none for a pruned association.
func line(src reconcile.Source) report.BlankZero { return report.BlankZero(src.Line) }
