package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/storage"
)

// OutputError is an output of the run that could not be written: the
// report, the summary or a saved plan. The run stops as an interrupted one
// does, and ends OutputLost whatever else happened: its record is not
// whole.
type OutputError struct {
	What string // report, summary, plan, rejects or export
	Path string // - is standard output
	Err  error
	// Early is set when it failed before the first call: nothing was sent.
	Early bool
}

func (e *OutputError) Error() string {
	where := storage.Redact(e.Path)
	if where == "-" {
		where = "standard output"
	}
	why := e.Err.Error()
	var se *storage.Error
	if errors.As(e.Err, &se) {
		why = se.Cause() // the path is said already
	}
	msg := fmt.Sprintf("can't write the %s to %s: %s", e.What, where, why)
	if e.Early {
		msg += "; nothing was sent"
	}
	return msg
}

func (e *OutputError) Unwrap() error { return e.Err }

// ErrSamePath is an output path that names an input or another output.
var ErrSamePath = errors.New("refusing to overwrite a file with an output")

// checkPaths refuses outputs that would overwrite an input or each other:
// the report over the export it reports on, the summary over the report.
// Paths are compared as the files they name (same inode, symlinks and
// relative paths resolved), before anything is read or written.
func checkPaths(cfg Options) error {
	type named struct{ role, path string }
	var ins, outs []named
	for _, f := range cfg.Input.Files {
		if f != "-" {
			ins = append(ins, named{"input", f})
		}
	}
	if cfg.PlanIn != "" {
		ins = append(ins, named{"saved plan", cfg.PlanIn})
	}
	for _, f := range cfg.Undo {
		if f != "-" {
			ins = append(ins, named{"report to undo", f})
		}
	}
	if cfg.Report != "" && cfg.Report != "-" {
		outs = append(outs, named{"report", cfg.Report})
	}
	if cfg.Summary != "" {
		outs = append(outs, named{"summary", cfg.Summary})
	}
	if cfg.PlanOut != "" {
		outs = append(outs, named{"plan", cfg.PlanOut})
	}
	if cfg.Rejects != "" {
		outs = append(outs, named{"rejects", cfg.Rejects})
	}
	ids := map[named]fileID{}
	for _, n := range append(ins, outs...) {
		ids[n] = identify(n.path)
	}
	for i, o := range outs {
		for _, other := range append(ins, outs[:i]...) {
			if ids[o].same(ids[other]) {
				return &UsageError{fmt.Errorf("%w: the %s %s is the %s %s (nothing was read or written)",
					ErrSamePath, o.role, storage.Redact(o.path), other.role, storage.Redact(other.path))}
			}
		}
	}
	return nil
}

// fileID is the file a path names: an existing file's identity, or, for one
// not made yet, its absolute path with symlinks resolved.
type fileID struct {
	info os.FileInfo // nil when the file does not exist yet
	path string
}

func identify(path string) fileID {
	if storage.IsURL(path) {
		return fileID{path: path} // a URL names its object as it is written
	}
	if fi, err := os.Stat(path); err == nil {
		return fileID{info: fi}
	}
	p, err := filepath.Abs(path)
	if err != nil {
		return fileID{path: filepath.Clean(path)}
	}
	// A dangling symlink names the file it would create.
	for range 40 {
		target, err := os.Readlink(p)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		p = filepath.Join(dir, filepath.Base(p))
	}
	return fileID{path: p}
}

// same reports whether a and b are one file that writing one of them
// would destroy: a regular file, or one not made yet. Two names of
// /dev/null or of a terminal are not a collision.
func (a fileID) same(b fileID) bool {
	switch {
	case a.info != nil && b.info != nil:
		return a.info.Mode().IsRegular() && os.SameFile(a.info, b.info)
	case a.info == nil && b.info == nil:
		return a.path == b.path
	}
	return false
}

// openRejects starts the rejects file (Options.Rejects) of a run whose
// input files have these headers; failed is told of a write that fails
// mid-run.
func (e *ending) openRejects(ctx context.Context, store *storage.Store, plain []string, headers []inputHeader, failed func(*OutputError)) error {
	path := e.o.Rejects
	if path == "" {
		return nil
	}
	if path == "-" {
		return usage("--rejects needs a file: its rows are fed to sync again")
	}
	create := func(p string) (*storage.Writer, error) { return createOutput(context.WithoutCancel(ctx), store, p) }
	r, err := newRejects(path, plain, headers, create, func(err error) { failed(&OutputError{What: "rejects", Path: path, Err: err}) })
	if err != nil {
		return &OutputError{What: "rejects", Path: path, Err: err, Early: true}
	}
	e.rejects = r
	return nil
}

// writeSummary writes the JSON summary into the output opened for it at
// the start, and makes it land.
func writeSummary(ctx context.Context, w *storage.Writer, s report.Summary) error {
	if err := s.WriteJSON(w); err != nil {
		w.Abort()
		return err
	}
	return commit(ctx, w)
}
