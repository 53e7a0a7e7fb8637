package job

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
)

// ExportOptions is one export: what exists, written as an input file that
// sync (products sync) reads back unchanged, so that a sync of it makes no
// write.
type ExportOptions struct {
	Products bool
	// Providers are the service providers whose room associations are
	// written (with an emulated session, none is its demo provider).
	Providers []string
	// VendorID (every product of the vendor) or Skills say whose product
	// associations are written (with an emulated session, neither is its
	// demo vendor); Stage is the stage read.
	VendorID string
	Skills   []string
	Stage    string
	// Out is the file written ({run_id} and {time} filled), whole or not at
	// all; "-" is standard output.
	Out string
	IO  IO
}

// Export reads every association of the providers (skills, or the vendor's
// products) through the engine's listings, every page, and writes them
// sorted by key, so that two exports of one state are the same bytes. A
// listing that keeps changing while it is read, or a read that fails,
// writes nothing. Cells are written as they are, not defused as a report's
// are: the file is an input, and an id prefixed would read back as another.
func Export(ctx context.Context, s *Session, o ExportOptions) (Result, error) {
	start := o.IO.now()
	if o.IO.RunID == "" {
		o.IO.RunID = NewRunID()
	}
	o.Out = expandPath(o.Out, o.IO.RunID, start)
	command := "export"
	if o.Products {
		command = "products export"
	}
	if o.Out == "" {
		return failed(o.IO, command, usage("--out is empty: give a file, or - for standard output"))
	}
	var header []string
	var rows [][]string
	var err error
	if o.Products {
		header, rows, err = exportProducts(ctx, s, o)
	} else {
		header, rows, err = exportRooms(ctx, s, o)
	}
	if err == nil {
		err = writeOutput(ctx, s.store(), o.Out, o.IO.Stdout, func(w io.Writer) error {
			cw := csv.NewWriter(w)
			if err := cw.Write(header); err != nil {
				return err
			}
			return cw.WriteAll(rows) // flushes, and returns the first error
		})
		if err != nil {
			err = &OutputError{What: "export", Path: o.Out, Err: err}
		}
	}
	stats := s.Caller.Stats()
	end := o.IO.now()
	v := VerdictOf(err)
	sum := report.NewSummary(command, reconcile.Counts{}, stats.Calls, stats.Statuses, stats.Retries, stats.Throttled, end.Sub(start))
	sum.Rows, sum.ExitCode = len(rows), o.IO.ExitCodes[v]
	sum.RunID, sum.StartedAt, sum.FinishedAt, sum.Version, sum.CommandLine = o.IO.RunID, start.UTC(), end.UTC(), o.IO.Version, o.IO.CommandLine
	if err != nil {
		sum.Rows, sum.Message, sum.Hint = 0, err.Error(), Hint(err)
	} else {
		where := o.Out
		if where == "-" {
			where = "standard output"
		}
		o.IO.Log.Info().Int("associations", len(rows)).Str("out", where).Msg("exported")
	}
	return Result{Verdict: v, Summary: sum}, err
}

// exportRooms lists the providers' room associations: serviceProviderId,
// externalUserId, amazonId, amazonIdType.
func exportRooms(ctx context.Context, s *Session, o ExportOptions) ([]string, [][]string, error) {
	providers := slices.Clone(o.Providers)
	if len(providers) == 0 && s.Emulated {
		providers = []string{emulator.DefaultProvider}
	}
	if len(providers) == 0 {
		return nil, nil, usage("give --service-provider-id: the provider whose associations to export (repeatable)")
	}
	slices.Sort(providers)
	providers = slices.Compact(providers)
	reads := make([]reconcile.Read, len(providers))
	for i, p := range providers {
		if msg := csvmodel.CheckProvider(p); msg != "" {
			return nil, nil, usage("--service-provider-id: %s", msg)
		}
		reads[i] = reconcile.Read{Side: reconcile.ByGroup, Scope: p}
	}
	eng := &reconcile.Engine[reconcile.Profile]{Res: reconcile.Associations{API: s.API}, Caller: s.Caller, Log: o.IO.Log}
	found, err := eng.List(ctx, reads)
	if err != nil {
		return nil, nil, err
	}
	rows := make([][]string, len(found))
	var odd []string
	for i, f := range found {
		rows[i] = []string{f.Key.Group, f.Key.ID, f.Value.AmazonID, f.Value.AmazonIDType}
		msg := checkRoom(f.Key, f.Value, false)
		if msg == "" && f.Value.AmazonIDType == "" {
			msg = "amazonIdType is empty"
		}
		odd = readsBack(odd, rows[i], msg)
	}
	warnOdd(o.IO, odd)
	return roomColumns[:4], rows, nil
}

// exportProducts lists the skills' product associations, or those of the
// vendor's products: skillId, productId.
func exportProducts(ctx context.Context, s *Session, o ExportOptions) ([]string, [][]string, error) {
	if s.Emulated && o.VendorID == "" && len(o.Skills) == 0 {
		o.VendorID = emulator.DefaultVendor
	}
	if o.Stage != client.StageDevelopment && o.Stage != client.StageLive {
		return nil, nil, usage("stage %q: want development or live", o.Stage)
	}
	var reads []reconcile.Read
	switch {
	case (o.VendorID == "") == (len(o.Skills) == 0):
		return nil, nil, usage("give --vendor-id or --skill-id (one of them)")
	case o.VendorID != "":
		products, err := every(ctx, s, "products export", o.IO, func(ctx context.Context, api *client.Client, token string) ([]client.ProductSummary, string, error) {
			p, err := api.ListVendorProducts(ctx, o.VendorID, client.VendorFilter{Stage: o.Stage}, token)
			if err != nil {
				return nil, "", err
			}
			return p.Products, p.Next, nil
		})
		if err != nil {
			return nil, nil, err
		}
		for _, p := range products {
			if msg := checkSMAPIID("productId", p.ProductID, ProductPrefix); msg != "" {
				o.IO.Log.Warn().Str("product", p.ProductID).Str("why", msg).Msg("a product of the vendor's list is left out: its skills can't be read")
				continue
			}
			reads = append(reads, reconcile.Read{Side: reconcile.ByID, Scope: p.ProductID})
		}
	default:
		for _, sk := range o.Skills {
			if err := CheckSMAPIID("--skill-id", sk, SkillPrefix); err != nil {
				return nil, nil, err
			}
			reads = append(reads, reconcile.Read{Side: reconcile.ByGroup, Scope: sk})
		}
	}
	slices.SortFunc(reads, func(a, b reconcile.Read) int { return strings.Compare(a.Scope, b.Scope) })
	reads = slices.CompactFunc(reads, func(a, b reconcile.Read) bool { return a.Scope == b.Scope })
	eng := &reconcile.Engine[reconcile.Associated]{Res: reconcile.Products{API: s.API, Stage: o.Stage}, Caller: s.Caller, Log: o.IO.Log}
	found, err := eng.List(ctx, reads)
	if err != nil {
		return nil, nil, err
	}
	rows := make([][]string, len(found))
	var odd []string
	for i, f := range found {
		rows[i] = []string{f.Key.Group, f.Key.ID}
		odd = readsBack(odd, rows[i], checkProductKey(f.Key))
	}
	warnOdd(o.IO, odd)
	return productInputColumns[:2], rows, nil
}

// readsBack adds to odd a row that would not read back as it is written:
// a value an input check refuses (msg), or one with spaces around it
// (input values are trimmed).
func readsBack(odd, row []string, msg string) []string {
	for _, v := range row {
		if msg == "" && strings.TrimSpace(v) != v {
			msg = fmt.Sprintf("%q has spaces around it, which reading trims", v)
		}
	}
	if msg != "" {
		odd = append(odd, strings.Join(row[:2], " ")+": "+msg)
	}
	return odd
}

// warnOdd tells of the associations an export holds that a sync of it
// would not read as they are.
func warnOdd(o IO, odd []string) {
	if len(odd) > 0 {
		o.Log.Warn().Int("associations", len(odd)).Strs("first", odd[:min(3, len(odd))]).
			Msg("written as the API has them, but a sync of the export reads these differently (or refuses them): fix them in the API")
	}
}
