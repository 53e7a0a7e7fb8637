package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bulksync/bulksync/internal/atomicfile"
)

// Object is what Open read: a local file read in place, or a spool file
// holding a remote object's bytes. Read it as often as needed with ReadAt.
type Object struct {
	f    *os.File
	size int64
	info Info

	spool bool        // f is a spool file, removed at Close
	local os.FileInfo // a local file read in place, as it was at Open

	s    *Store
	path string
}

// ReadAt reads the object's bytes at off.
func (o *Object) ReadAt(p []byte, off int64) (int, error) { return o.f.ReadAt(p, off) }

// Size is the object's size in bytes.
func (o *Object) Size() int64 { return o.size }

// Info describes the bytes that were read (not a Stat before or after).
func (o *Object) Info() Info { return o.info }

// Changed returns an error matching ErrChanged when the source no longer
// holds what was read: a local file written to or replaced, a remote
// object with another version. nil when it is unchanged or when no change
// can be told (a pipe).
func (o *Object) Changed(ctx context.Context) error {
	if o.info.Version == "" {
		return nil
	}
	if o.local != nil {
		now, err := os.Stat(o.path)
		if err != nil {
			return o.s.fail("check", o.path, fmt.Errorf("%w: %w", ErrChanged, err))
		}
		if !os.SameFile(now, o.local) || now.Size() != o.local.Size() || !now.ModTime().Equal(o.local.ModTime()) {
			return o.s.fail("check", o.path, fmt.Errorf("%w: now %d bytes, modified %s", ErrChanged, now.Size(), now.ModTime().UTC().Format("2006-01-02T15:04:05.999Z")))
		}
		return nil
	}
	now, err := o.s.Stat(ctx, o.path)
	if err != nil {
		return err
	}
	if now.Version != o.info.Version {
		return o.s.fail("check", o.path, fmt.Errorf("%w: version %s, read %s", ErrChanged, now.Version, o.info.Version))
	}
	return nil
}

// Close releases the file or spool.
func (o *Object) Close() error {
	if o.spool {
		return closeSpool(o.f)
	}
	return o.f.Close()
}

// spoolFile makes an empty file in Options.TempDir that vanishes from the
// folder at once (even a kill -9 leaves nothing) and lives while open.
func (s *Store) spoolFile() (*os.File, error) {
	f, err := os.CreateTemp(s.opts.TempDir, "bulksync-spool-*")
	if err != nil {
		return nil, fmt.Errorf("spool file: %w (set TMPDIR to a writable folder)", err)
	}
	_ = os.Remove(f.Name()) // fails where open files can't be removed; closeSpool tries again
	return f, nil
}

// closeSpool closes a spool file and removes it if it was still there.
func closeSpool(f *os.File) error {
	err := f.Close()
	_ = os.Remove(f.Name())
	return err
}

// resetSpool empties a spool file for another attempt.
func resetSpool(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// Writer is an output being written; Commit makes it land, Abort leaves
// the old content (see Store.Create).
type Writer struct {
	s    *Store
	loc  location
	name string

	stream *os.File         // local, Stream
	atomic *atomicfile.File // local, Atomic
	spool  *os.File         // remote: uploaded whole at Commit
	size   int64
	done   bool
}

// Name is the output's path, redacted.
func (w *Writer) Name() string { return w.name }

// Write adds p to the output.
func (w *Writer) Write(p []byte) (int, error) {
	var n int
	var err error
	switch {
	case w.stream != nil:
		n, err = w.stream.Write(p)
	case w.atomic != nil:
		n, err = w.atomic.Write(p)
	default:
		n, err = w.spool.Write(p)
	}
	w.size += int64(n)
	if err != nil {
		return n, w.s.fail("write", w.loc.raw, err)
	}
	return n, nil
}

// Truncate cuts what was written so far to size bytes: a record that a
// full disk cut short is dropped, not kept half.
func (w *Writer) Truncate(size int64) error {
	var err error
	switch {
	case w.stream != nil:
		err = w.stream.Truncate(size)
	case w.atomic != nil:
		err = w.atomic.Truncate(size)
	default:
		err = w.spool.Truncate(size)
	}
	if err != nil {
		return w.s.fail("write", w.loc.raw, err)
	}
	w.size = size
	return nil
}

// Commit makes the output land whole: a local Stream file synced and
// closed, a local Atomic file renamed over its target, a remote one
// uploaded (blob) or written under a temporary name and renamed (SFTP),
// each attempt under Options.Timeout and Retry.
func (w *Writer) Commit(ctx context.Context) error {
	if w.done {
		return w.s.fail("write", w.loc.raw, errors.New("already committed or aborted"))
	}
	w.done = true
	var err error
	switch {
	case w.stream != nil:
		err = w.stream.Sync()
		if cerr := w.stream.Close(); err == nil {
			err = cerr
		}
	case w.atomic != nil:
		err = w.atomic.Commit()
	default:
		defer closeSpool(w.spool)
		if w.loc.kind == sftpKind {
			err = w.s.sftpUpload(ctx, w.loc, w.spool, w.size)
		} else {
			err = w.s.blobUpload(ctx, w.loc, w.spool, w.size)
		}
	}
	if err != nil {
		return w.s.fail("write", w.loc.raw, err)
	}
	return nil
}

// Abort gives the output up. A remote output or a local Atomic one leaves
// nothing and the old content stays; a local Stream file keeps what was
// written, as a killed run would. After Commit it does nothing.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	var err error
	switch {
	case w.stream != nil:
		err = w.stream.Close()
	case w.atomic != nil:
		err = w.atomic.Abort()
	default:
		err = closeSpool(w.spool)
	}
	if err != nil {
		return w.s.fail("abort", w.loc.raw, err)
	}
	return nil
}
