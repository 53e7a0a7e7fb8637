package job

import (
	"context"
	"encoding/csv"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/storage"
)

// Rejects: the input rows that ended invalid or failed, written back in
// their own file's columns (every column, as read) with two more,
// error_type and error, so that fixing the cells and feeding the file to
// sync again is the retry; with its delimiter too. Rows of files with
// different headers can't share a file: each distinct header (and
// delimiter) gets its own, in the order the input
// files were given: the first PATH, the next PATH-2 (before the
// extension), and so on. Rows that have no cells of a file (the writes of
// a saved plan, of an undo) are written in the plain input columns
// (plainHeader), in a file of their own after those. Each file is written
// as rows finish, into a temporary file renamed over PATH at the end.

// The columns a rejects file adds to its input's.
const (
	rejectErrType = "error_type"
	rejectError   = "error"
)

// rejects writes the rejects files of one run. It is safe for concurrent use.
type rejects struct {
	path   string
	plain  []string                                   // the header of rows without cells
	create func(path string) (*storage.Writer, error) // starts one rejects file, whole or not at all

	mu     sync.Mutex
	byFile map[string]int // input file -> group
	groups []*rejectGroup
	plainG int // the group of rows without cells; -1 until needed
	err    error
	failed func(error) // told once, of the first write that fails
}

// rejectGroup is one rejects file: the rows of one header.
type rejectGroup struct {
	header []string // the input's header, without error columns of a rejects file re-fed
	comma  rune     // the input's delimiter
	path   string
	out    *storage.Writer
	w      *csv.Writer
}

// inputHeader is the header of one input file, and its delimiter.
type inputHeader struct {
	file   string
	header []string
	comma  rune
}

// newRejects plans the rejects files of a run whose input files have the
// given headers, and creates the first one, so that a path that can't be
// written stops the run before it sends anything.
func newRejects(path string, plain []string, headers []inputHeader, create func(string) (*storage.Writer, error), failed func(error)) (*rejects, error) {
	r := &rejects{path: path, plain: plain, create: create, byFile: map[string]int{}, plainG: -1, failed: failed}
	for _, h := range headers {
		hdr := trimErrorColumns(h.header)
		i := slices.IndexFunc(r.groups, func(g *rejectGroup) bool { return slices.Equal(g.header, hdr) && g.comma == h.comma })
		if i < 0 {
			i = len(r.groups)
			r.groups = append(r.groups, &rejectGroup{header: hdr, comma: h.comma, path: numbered(path, i+1)})
		}
		r.byFile[h.file] = i
	}
	if len(r.groups) == 0 {
		r.plainG = 0
		r.groups = append(r.groups, &rejectGroup{header: plain, comma: ',', path: path})
	}
	if err := r.groups[0].open(create); err != nil {
		return nil, err
	}
	return r, nil
}

// numbered is the path of the n-th rejects file: path itself for the
// first, then rejects-2.csv, rejects-3.csv.
func numbered(path string, n int) string {
	if n == 1 {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + strconv.Itoa(n) + ext
}

// trimErrorColumns is a header without the error columns a rejects file
// ends with: a rejects file fed again gets them replaced, not repeated.
func trimErrorColumns(header []string) []string {
	if n := len(header); n >= 2 && header[n-2] == rejectErrType && header[n-1] == rejectError {
		return header[:n-2]
	}
	return header
}

func (g *rejectGroup) open(create func(string) (*storage.Writer, error)) error {
	out, err := create(g.path)
	if err != nil {
		return err
	}
	g.out, g.w = out, csv.NewWriter(out)
	if g.comma != 0 {
		g.w.Comma = g.comma
	}
	return g.write(append(slices.Clone(g.header), rejectErrType, rejectError))
}

// write writes one record, its cells defused, and flushes it to the file.
func (g *rejectGroup) write(rec []string) error {
	for i, v := range rec {
		rec[i] = safeReject(v)
	}
	if err := g.w.Write(rec); err != nil {
		return err
	}
	g.w.Flush()
	return g.w.Error()
}

// safeReject defuses a cell a spreadsheet would run as a formula
// (report.SafeCell), but for a plain number such as an extension -101:
// a spreadsheet reads it as a number, not a formula, and prefixed it would
// come back as another extension when the file is fed again.
func safeReject(v string) string {
	if _, err := strconv.ParseFloat(v, 64); err == nil && strings.TrimSpace(v) == v {
		return v
	}
	return report.SafeCell(v)
}

// add writes one rejected row: its file's cells (nil for a row that has
// none: then plain, in the plain columns), and why it was rejected.
func (r *rejects) add(file string, cells, plain []string, errType, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	i, ok := r.byFile[file]
	if !ok || cells == nil {
		if r.plainG < 0 {
			r.plainG = len(r.groups)
			r.groups = append(r.groups, &rejectGroup{header: r.plain, comma: ',', path: numbered(r.path, len(r.groups)+1)})
		}
		i, cells = r.plainG, plain
	}
	g := r.groups[i]
	err := error(nil)
	if g.out == nil {
		err = g.open(r.create)
	}
	if err == nil {
		rec := make([]string, len(g.header), len(g.header)+2)
		copy(rec, cells) // cells beyond the header have no column; missing ones are empty
		err = g.write(append(rec, errType, msg))
	}
	if err != nil {
		r.err = fmt.Errorf("%s: %w", g.path, err)
		if r.failed != nil {
			r.failed(r.err)
		}
	}
}

// close makes every rejects file whole (renamed over its path) and returns
// their paths; after a failed write, it drops them all and returns why.
func (r *rejects) close(ctx context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var paths []string
	for _, g := range r.groups {
		switch {
		case g.out == nil:
		case r.err != nil:
			g.out.Abort()
		default:
			if err := commit(ctx, g.out); err != nil {
				r.err = fmt.Errorf("%s: %w", g.path, err)
				continue
			}
			paths = append(paths, g.path)
		}
	}
	return paths, r.err
}

// abort drops every rejects file: their paths are left as they were.
func (r *rejects) abort() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.groups {
		if g.out != nil {
			g.out.Abort()
			g.out = nil
		}
	}
}
