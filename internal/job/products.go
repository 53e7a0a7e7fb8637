package job

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/storage"
)

// Products are the skill ↔ in-skill product associations: CSV rows of
// skillId and productId, associated or (action disassociate) not.

// Actions a product row may ask for.
const (
	ActionAssociate    = "associate"
	ActionDisassociate = "disassociate"
)

// Id prefixes of skills and in-skill products.
const (
	SkillPrefix   = "amzn1.ask.skill."
	ProductPrefix = "amzn1.adg.product."
)

// productColumns are the product file's columns and their aliases.
var productColumns = []csvmodel.Column{
	{Name: "skillId", Aliases: []string{"skill"}, Required: true},
	{Name: "productId", Aliases: []string{"product", "inSkillProductId"}, Required: true},
	{Name: "action"},
}

// productReport is a row of the products report.
type productReport struct {
	File      string           `csv:"file"`
	Line      report.BlankZero `csv:"line"`
	SkillID   string           `csv:"skill_id"`
	ProductID string           `csv:"product_id"`
	Stage     string           `csv:"stage"`
	report.Fate
}

// checkStage refuses a stage that is not one, and a sync (not a plan) of
// live: the API writes associations of the development stage only.
func checkStage(o Options) error {
	switch {
	case o.Stage != client.StageDevelopment && o.Stage != client.StageLive:
		return usage("stage %q: want development or live", o.Stage)
	case o.Stage == client.StageLive && !o.DryRun:
		return usage("associations are written to the development stage and reach live only through certification: sync the development stage, or plan against live to compare")
	}
	return nil
}

func products(s *Session, o Options) spec[reconcile.Associated, productReport] {
	api, in, stage, log, store := s.API, o.Input, o.Stage, o.IO.Log, s.store()
	res := reconcile.Products{API: api, Stage: stage}
	return spec[reconcile.Associated, productReport]{
		res:      res,
		listed:   checkProductKey,
		describe: func(reconcile.Associated) string { return "" },
		words:    planWords{create: "associate", delete: "disassociate"},
		rows: func(ctx context.Context, shard reconcile.Shard) (source[reconcile.Associated], error) {
			rows, headers, inputs, err := readProducts(ctx, store, in, o.IO)
			if err != nil {
				return source[reconcile.Associated]{}, err
			}
			total, counts := 0, map[reconcile.Outcome]int{}
			for _, r := range rows {
				counts[r.Verdict]++
				if reconcile.Owns(shard, reconcile.Resource[reconcile.Associated](res), r.Key) {
					total++
				}
			}
			log.Info().Strs("files", redactAll(in.Files)).Int("valid", counts[reconcile.Valid]).Int("duplicate", counts[reconcile.Duplicate]).
				Int("invalid", counts[reconcile.Invalid]).Str("shard", shard.String()).Int("rows_in_shard", total).Msg("input read")
			return source[reconcile.Associated]{total: total, headers: headers, inputs: inputs, rows: func(yield func(reconcile.Row[reconcile.Associated], error) bool) {
				for _, r := range rows {
					if !yield(r, nil) {
						return
					}
				}
			}}, nil
		},
		check: func(w reconcile.Write[reconcile.Associated]) string {
			if w.Action == reconcile.ActUpdate {
				return "a product association has nothing to update"
			}
			return checkProductKey(w.Key)
		},
		row: func(f reconcile.Fate[reconcile.Associated]) productReport {
			return productReport{File: f.Row.Src.File, Line: line(f.Row.Src), SkillID: f.Row.Key.Group, ProductID: f.Row.Key.ID,
				Stage: stage, Fate: fate(f)}
		},
		undo: undoSpec[reconcile.Associated]{name: "products", headers: [][]string{report.Header[productReport]()},
			others: map[string][][]string{"sync": reportHeaders},
			key: func(cell func(string) string) reconcile.Key {
				return reconcile.Key{Group: cell("skill_id"), ID: cell("product_id")}
			},
			// An association is there or not: created, it was not there
			// before; deleted, it was.
			values: func(func(string) string) (left, before *reconcile.Associated) {
				return &reconcile.Associated{}, &reconcile.Associated{}
			},
			check: func(r reconcile.Row[reconcile.Associated]) string { return checkProductKey(r.Key) },
			equal: reconcile.Products{}.Equal,
		},
		plain: productInputColumns,
		plainRow: func(r reconcile.Row[reconcile.Associated]) []string {
			if r.Delete {
				return []string{r.Key.Group, r.Key.ID, ActionDisassociate}
			}
			return []string{r.Key.Group, r.Key.ID, ActionAssociate}
		},
	}
}

// productInputColumns are a product input file's columns as bulksync
// writes one (export, and rejected rows that have no file of their own).
var productInputColumns = []string{"skillId", "productId", "action"}

// readProducts reads and checks every file: each row once, in input order,
// with its verdict. The same skill and product twice with the same action
// is applied once (the other rows Duplicate); with different actions none
// is (all Invalid). It returns the header of each file that has rows too.
func readProducts(ctx context.Context, store *storage.Store, in Input, o IO) ([]reconcile.Row[reconcile.Associated], []inputHeader, []string, error) {
	files, err := openInputs(ctx, store, in, o.now(), o.Log)
	if err != nil {
		return nil, nil, nil, err
	}
	defer closeInputs(files)
	var rows []reconcile.Row[reconcile.Associated]
	var headers []inputHeader
	first := map[reconcile.Key]int{} // key -> index of its first row
	for _, f := range files {
		each := func(t csvmodel.TableRow) {
			if len(headers) == 0 || headers[len(headers)-1].file != t.File {
				headers = append(headers, inputHeader{t.File, t.Raw.Header, t.Raw.Comma})
			}
			r := reconcile.Row[reconcile.Associated]{Src: reconcile.Source{File: t.File, Line: t.Line},
				Key: reconcile.Key{Group: t.Values[0], ID: t.Values[1]}, Cells: t.Raw.Record}
			switch action := strings.ToLower(t.Values[2]); action {
			case "", ActionAssociate:
			case ActionDisassociate:
				r.Delete = true
			default:
				r.Verdict, r.Reason = reconcile.Invalid, fmt.Sprintf("action %q is not associate or disassociate", t.Values[2])
			}
			if r.Verdict == reconcile.Valid {
				if msg := checkProductKey(r.Key); msg != "" {
					r.Verdict, r.Reason = reconcile.Invalid, msg
				}
			}
			if r.Verdict == reconcile.Valid {
				if i, seen := first[r.Key]; !seen {
					first[r.Key] = len(rows)
				} else {
					conflict(rows, i, &r)
				}
			}
			rows = append(rows, r)
		}
		switch {
		case f.obj != nil:
			err = csvmodel.ReadTable(f.name, io.NewSectionReader(f.obj, 0, f.obj.Size()), productColumns, in.Delimiter, each)
		case f.path == "-":
			err = csvmodel.ReadTable(f.name, o.Stdin, productColumns, in.Delimiter, each)
		default:
			err = csvmodel.ReadTableFile(f.path, productColumns, in.Delimiter, each)
		}
		if err != nil {
			return nil, nil, nil, err
		}
	}
	return rows, headers, names(files), nil
}

// conflict settles a row whose key an earlier row (rows[i], the first)
// named already.
func conflict(rows []reconcile.Row[reconcile.Associated], i int, r *reconcile.Row[reconcile.Associated]) {
	at := func(x reconcile.Row[reconcile.Associated]) string {
		return fmt.Sprintf("%s:%d", x.Src.File, x.Src.Line)
	}
	if rows[i].Verdict != reconcile.Invalid && rows[i].Delete == r.Delete {
		r.Verdict, r.Reason = reconcile.Duplicate, "same as "+at(rows[i])
		return
	}
	// Rows that disagree about one association: none can be trusted, so
	// the earlier ones (and their duplicates) are not applied either.
	reason := fmt.Sprintf("skill %s and product %s are given conflicting actions at %s and %s", r.Key.Group, r.Key.ID, at(rows[i]), at(*r))
	if rows[i].Verdict == reconcile.Invalid {
		reason = rows[i].Reason
	}
	for j := i; j < len(rows); j++ {
		if rows[j].Key == r.Key && rows[j].Verdict != reconcile.Invalid {
			rows[j].Verdict, rows[j].Reason = reconcile.Invalid, reason
		}
	}
	r.Verdict, r.Reason = reconcile.Invalid, reason
}

// checkProductKey returns why a skill and product id can't be sent, or "".
func checkProductKey(k reconcile.Key) string {
	if msg := checkSMAPIID("skillId", k.Group, SkillPrefix); msg != "" {
		return msg
	}
	return checkSMAPIID("productId", k.ID, ProductPrefix)
}

// checkSMAPIID refuses what is not an id of the given prefix that can go
// into a URL path as it is.
func checkSMAPIID(field, v, prefix string) string {
	switch {
	case v == "":
		return field + " is empty"
	case utf8.RuneCountInString(v) > 255:
		return fmt.Sprintf("%s is %d characters long; at most 255", field, utf8.RuneCountInString(v))
	case !strings.HasPrefix(v, prefix) || len(v) == len(prefix):
		return fmt.Sprintf("%s %q does not start with %s", field, v, prefix)
	}
	if i := strings.IndexFunc(v, func(r rune) bool {
		return strings.ContainsRune("/?#%", r) || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	}); i >= 0 {
		return fmt.Sprintf("%s %q contains %q, which can't go into a URL path", field, v, v[i])
	}
	return ""
}

// CheckSMAPIID refuses a command-line skill or product id that is not one;
// name is what the caller calls it.
func CheckSMAPIID(name, v, prefix string) error {
	if msg := checkSMAPIID(name, v, prefix); msg != "" {
		return usage("%s", msg)
	}
	return nil
}
