// Package atomicfile writes a file so that a reader, or a crash, sees the
// old content or the new, never half of either. It never replaces what a
// path is: a folder, a device, a FIFO or a socket is refused, and a
// symbolic link is written through, so the link stays a link.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotRegular is what a *NotRegularError matches with errors.Is.
var ErrNotRegular = errors.New("not a regular file")

// NotRegularError reports an output path that exists and is not a regular
// file, so writing to it would change what it is.
type NotRegularError struct {
	Path string // the path that was refused (a link's target when it was reached through one)
	Kind string // "folder", "character device", "FIFO", ...
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is a %s, not a regular file; it is left as it is", e.Path, e.Kind)
}

// Is makes errors.Is(err, ErrNotRegular) true.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// maxLinks bounds a chain of symbolic links, as the kernel does (ELOOP).
const maxLinks = 40

// Target returns where a write to path must land: path itself, or the file
// a symbolic link (or a chain of them) points to. A path that exists and is
// not a regular file is refused with a *NotRegularError. A path that does
// not exist yet is returned as it is.
func Target(path string) (string, error) {
	p := path
	for hops := 0; ; hops++ {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
		if err != nil {
			return "", err
		}
		mode := fi.Mode()
		if mode.IsRegular() {
			return p, nil
		}
		if mode&fs.ModeSymlink == 0 {
			return "", &NotRegularError{Path: p, Kind: Kind(mode)}
		}
		if hops == maxLinks {
			return "", fmt.Errorf("%s: more than %d symbolic links in a chain", path, maxLinks)
		}
		dest, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(p), dest)
		}
		p = dest
	}
}

// Kind names a file mode for a person: "folder", "FIFO (named pipe)", ...
func Kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "folder"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// File is a file being written beside its target; Commit puts it in place
// whole, Abort leaves the target as it was.
type File struct {
	tmp    *os.File
	target string
	perm   fs.FileMode
	done   bool
}

// Create starts writing path: a temporary file in the folder of path's
// target (see Target), created with its missing parents. The target keeps
// its permission bits; a new file gets 0644.
func Create(path string) (*File, error) {
	target, err := Target(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(target); err == nil {
		perm = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &File{tmp: tmp, target: target, perm: perm}, nil
}

// Target is the path the file lands at on Commit.
func (f *File) Target() string { return f.target }

// Write adds to the temporary file.
func (f *File) Write(p []byte) (int, error) { return f.tmp.Write(p) }

// Truncate cuts what was written so far to size bytes.
func (f *File) Truncate(size int64) error { return f.tmp.Truncate(size) }

// Commit syncs the temporary file, renames it over the target and syncs the
// folder, so the new content survives a crash. It looks at the target again
// first: something that is not a regular file may have appeared there.
func (f *File) Commit() error {
	if f.done {
		return errors.New("commit: already committed or aborted")
	}
	f.done = true
	name := f.tmp.Name()
	defer os.Remove(name) // after the rename, a no-op
	if err := f.tmp.Sync(); err != nil {
		f.tmp.Close()
		return err
	}
	if err := f.tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(name, f.perm); err != nil {
		return err
	}
	if fi, err := os.Lstat(f.target); err == nil && !fi.Mode().IsRegular() {
		return &NotRegularError{Path: f.target, Kind: Kind(fi.Mode())}
	}
	if err := os.Rename(name, f.target); err != nil {
		return err
	}
	dir := filepath.Dir(f.target)
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	return d.Sync()
}

// Abort removes the temporary file; the target is untouched. After Commit
// it does nothing.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	f.tmp.Close()
	return os.Remove(f.tmp.Name())
}

// Write replaces path with data, whole (see Create and Commit). Missing
// folders are created.
func Write(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}
