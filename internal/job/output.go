package job

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// output is a file written whole or not at all: into a temporary file
// beside it, renamed over it by commit. A path that names a device or a
// pipe (/dev/stdout, a FIFO) is written in place: renaming over it would
// replace it. A symlink is followed: the file it names is replaced, not
// the link. This is the one place outputs are written that way; remote
// paths will come through it.
type output struct {
	*os.File
	path string // what commit renames the file to; "" when written in place
}

// createOutput starts an output to path.
func createOutput(path string) (*output, error) {
	target := path
	if p, err := filepath.EvalSymlinks(path); err == nil {
		target = p
	}
	fi, err := os.Stat(target)
	switch {
	case err == nil && !fi.Mode().IsRegular() && !fi.IsDir():
		f, err := os.OpenFile(target, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &output{File: f}, nil
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("%s is a folder", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &output{File: f, path: target}, nil
}

// commit makes the output whole: synced, then renamed over its path (and
// the folder synced, so the rename survives a crash).
func (o *output) commit() error {
	if o.path == "" {
		return o.Close()
	}
	err := o.Sync()
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(o.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(o.Name(), o.path)
	}
	if err != nil {
		os.Remove(o.Name())
		return err
	}
	if d, err := os.Open(filepath.Dir(o.path)); err == nil {
		defer d.Close()
		if err := d.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", filepath.Dir(o.path), err)
		}
	}
	return nil
}

// abort drops the output: its path is left as it was.
func (o *output) abort() {
	o.Close()
	if o.path != "" {
		os.Remove(o.Name())
	}
}

// writeOutput writes an output whole through write: "-" is stdout,
// anything else a path written by createOutput and commit.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "-" {
		return write(stdout)
	}
	out, err := createOutput(path)
	if err != nil {
		return err
	}
	if err := write(out); err != nil {
		out.abort()
		return err
	}
	return out.commit()
}
