package job

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bulksync/bulksync/internal/csvmodel"
	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/storage"
)

// An undo (sync --undo REPORT...) is a run whose input is the inverse of
// the runs those reports tell: a created association is deleted, an
// updated one set back to what it was, a deleted (or pruned) one created
// again. Each inverse row is Conditional: the engine writes it only where
// the API still holds what the run left, and reports it skipped
// (reconcile.ChangedSince) where it does not. Rows the run did not change
// are not in the undo. Everything else (guards, shards, plans, reports) is
// a sync's.

// undoSpec is how a resource's report reads back for an undo.
type undoSpec[V any] struct {
	name    string     // the report's kind in messages: "rooms"
	headers [][]string // the report's header, and older ones still read
	// others are reports of other resources, and how to undo those.
	others map[string][][]string
	key    func(cell func(string) string) reconcile.Key
	// values are what a row says its association held after the run
	// (left) and before it (before); nil where the report does not say.
	values func(cell func(string) string) (left, before *V)
	// check says why an inverse row could not be sent ("" when it can).
	check func(reconcile.Row[V]) string
	equal func(a, b V) bool
}

// notUndoable is the error type of a change the report does not say how
// to revert (it does not tell what there was before).
const notUndoable = "NOT_UNDOABLE"

// readUndo reads the reports of runs to undo and returns the rows that
// revert them, in report order. A file that is not a report of the
// resource is refused (a *UsageError). A key that two rows would revert
// differently is Invalid in all of them (undo one report at a time, the
// latest first); the same revert twice is applied once.
func readUndo[V any](ctx context.Context, store *storage.Store, paths []string, stdin io.Reader, u undoSpec[V]) ([]reconcile.Row[V], error) {
	var rows []reconcile.Row[V]
	first := map[reconcile.Key]int{}
	for _, path := range paths {
		err := readRunReport(ctx, store, path, stdin, u, func(r reconcile.Row[V]) {
			if r.Verdict == reconcile.Valid {
				if i, seen := first[r.Key]; !seen {
					first[r.Key] = len(rows)
				} else {
					undoConflict(rows, i, &r, u.equal)
				}
			}
			rows = append(rows, r)
		})
		if err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// readRunReport reads one report, handing each row its run changed to each
// as the row that reverts it.
func readRunReport[V any](ctx context.Context, store *storage.Store, path string, stdin io.Reader, u undoSpec[V], each func(reconcile.Row[V])) error {
	var in io.Reader = stdin
	name := csvmodel.StdinName
	switch {
	case storage.IsURL(path):
		obj, err := store.Open(ctx, path)
		if err != nil {
			return usage("--undo: %v", err)
		}
		defer obj.Close()
		in, name = io.NewSectionReader(obj, 0, obj.Size()), storage.Redact(path)
	case path != "-":
		f, err := os.Open(path)
		if err != nil {
			return usage("--undo %s: %v", path, unwrapPath(err))
		}
		defer f.Close()
		in, name = f, filepath.Clean(path)
	case stdin == nil:
		return usage("--undo -: no standard input to read")
	}
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	switch {
	case err == io.EOF:
		return usage("--undo %s: the file is empty, not a bulksync %s report", path, u.name)
	case err != nil:
		return usage("--undo %s: not a bulksync %s report: %v", path, u.name, err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	header = slices.Clone(header)
	if !slices.ContainsFunc(u.headers, func(h []string) bool { return slices.Equal(h, header) }) {
		for cmd, hs := range u.others {
			if slices.ContainsFunc(hs, func(h []string) bool { return slices.Equal(h, header) }) {
				return usage("--undo %s: this is the report of another kind of run: undo it with bulksync %s --undo", path, cmd)
			}
		}
		return usage("--undo %s: not a bulksync %s report: its header is %s, and a %s report's is %s",
			path, u.name, shortList(header), u.name, strings.Join(u.headers[0], ","))
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return usage("--undo %s:%d: %v", path, pe.StartLine, pe.Err)
			}
			return usage("--undo %s: %v", path, err)
		}
		line, _ := cr.FieldPos(0)
		cell := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return unsafeCell(rec[i])
			}
			return ""
		}
		if r, ok := inverse(cell, u); ok {
			r.Src = reconcile.Source{File: name, Line: line}
			each(r)
		}
	}
}

// inverse is the row that reverts what a report row says its run did;
// false for a row its run did not change.
func inverse[V any](cell func(string) string, u undoSpec[V]) (reconcile.Row[V], bool) {
	r := reconcile.Row[V]{Key: u.key(cell), Conditional: true}
	left, before := u.values(cell)
	known := true
	switch cell("outcome") {
	case reconcile.Created.String():
		if known = left != nil; known {
			r.Delete, r.Want, r.Expect = true, *left, left
		}
	case reconcile.Updated.String():
		if known = left != nil && before != nil; known {
			r.Want, r.Expect = *before, left
		}
	case reconcile.Deleted.String():
		if known = before != nil; known {
			r.Want = *before // and nothing there: Expect nil
		}
	default:
		return r, false // the run changed nothing here
	}
	switch {
	case !known:
		r.Verdict, r.ErrType = reconcile.Skipped, notUndoable
		r.Reason = fmt.Sprintf("the report says the run %s this association but not what it held before: not undone", cell("outcome"))
	default:
		if msg := u.check(r); msg != "" {
			r.Verdict, r.Reason = reconcile.Invalid, msg
		}
	}
	return r, true
}

// undoConflict settles a row whose key an earlier row (rows[i], the first)
// reverts already: the same revert is a Duplicate; another makes every
// row of the key Invalid, since no order of them is sure to be right.
func undoConflict[V any](rows []reconcile.Row[V], i int, r *reconcile.Row[V], equal func(a, b V) bool) {
	a := rows[i]
	sameExpect := (a.Expect == nil) == (r.Expect == nil) && (a.Expect == nil || equal(*a.Expect, *r.Expect))
	at := func(x reconcile.Row[V]) string { return fmt.Sprintf("%s:%d", x.Src.File, x.Src.Line) }
	if a.Verdict != reconcile.Invalid && a.Delete == r.Delete && equal(a.Want, r.Want) && sameExpect {
		r.Verdict, r.Reason = reconcile.Duplicate, "same revert as "+at(a)
		return
	}
	reason := fmt.Sprintf("%s is changed by the runs of %s and %s: undo one report at a time, the latest first", r.Key.ID, at(a), at(*r))
	if a.Verdict == reconcile.Invalid {
		reason = a.Reason
	}
	for j := i; j < len(rows); j++ {
		if rows[j].Key == r.Key && rows[j].Verdict != reconcile.Invalid {
			rows[j].Verdict, rows[j].Reason = reconcile.Invalid, reason
		}
	}
	r.Verdict, r.Reason = reconcile.Invalid, reason
}

// unsafeCell is a report cell as it was before report.SafeCell defused it.
func unsafeCell(v string) string {
	if len(v) >= 2 && v[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(v[1])) {
		return v[1:]
	}
	return v
}

// shortList is a header for a message: its first cells.
func shortList(cells []string) string {
	if len(cells) > 6 {
		return strings.Join(cells[:6], ",") + ",…"
	}
	return strings.Join(cells, ",")
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// undoSource is the rows of an undo as a run's input.
func undoSource[V any](rows []reconcile.Row[V], shard reconcile.Shard) source[V] {
	total := 0
	for _, r := range rows {
		if shard.Has(r.Key.Group, r.Key.ID) {
			total++
		}
	}
	return source[V]{total: total, rows: func(yield func(reconcile.Row[V], error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}}
}
