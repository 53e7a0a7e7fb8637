package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/bulksync/bulksync/internal/atomicfile"
)

// fileVersion is the version of a file whose store has no ETag: its size
// and modification time, which any write changes.
func fileVersion(size int64, mod time.Time) string {
	return strconv.FormatInt(size, 10) + "-" + strconv.FormatInt(mod.UnixNano(), 10)
}

// localErr maps a missing file to ErrNotFound, keeping the system's words
// for anything else (permission denied, not a folder).
func localErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err // the path is in the message already
	}
	return err
}

func localStat(p string) (Info, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return Info{}, localErr(err)
	}
	if fi.IsDir() {
		return Info{}, fmt.Errorf("%w: is a folder, not a file", ErrBadPath)
	}
	info := Info{Size: fi.Size(), ModTime: fi.ModTime()}
	if fi.Mode().IsRegular() {
		info.Version = fileVersion(fi.Size(), fi.ModTime())
	}
	return info, nil
}

// localOpen reads a regular file in place; a pipe or device is read once
// into a spool file, so it can be read again like any other.
func (s *Store) localOpen(p string) (*Object, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, localErr(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, localErr(err)
	}
	switch {
	case fi.IsDir():
		f.Close()
		return nil, fmt.Errorf("%w: is a folder, not a file", ErrBadPath)
	case fi.Mode().IsRegular():
		info := Info{Size: fi.Size(), ModTime: fi.ModTime(), Version: fileVersion(fi.Size(), fi.ModTime())}
		return &Object{f: f, size: fi.Size(), info: info, local: fi}, nil
	}
	defer f.Close()
	spool, err := s.spoolFile()
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(spool, f)
	if err != nil {
		closeSpool(spool)
		return nil, localErr(err)
	}
	return &Object{f: spool, size: n, info: Info{Size: n, ModTime: fi.ModTime()}, spool: true}, nil
}

// createStream opens a local output to be written in place, after the
// same look as atomicfile's: a symbolic link is followed, anything that is
// not a regular file refused, missing folders made.
func createStream(p string) (*os.File, error) {
	target, err := atomicfile.Target(p)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return nil, err
	}
	// O_NONBLOCK: a FIFO that took the path's place since the look fails
	// the open (no reader) instead of hanging the run; a regular file
	// ignores it.
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return nil, err
	}
	// Something may have taken the path's place since the look.
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = &atomicfile.NotRegularError{Path: target, Kind: "special file"}
		}
		return nil, err
	}
	return f, nil
}

// localList lists the regular files in dir whose names match glob. dir is
// "" or ends with a separator; names come back joined to it.
func localList(dir, glob string) ([]candidate, error) {
	read := dir
	if read == "" {
		read = "."
	}
	entries, err := os.ReadDir(read)
	if err != nil {
		return nil, localErr(err)
	}
	var out []candidate
	for _, e := range entries {
		if ok, _ := path.Match(glob, e.Name()); !ok {
			continue
		}
		full := dir + e.Name()
		fi, err := os.Stat(full) // a link counts as what it points to
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, candidate{name: full, mod: fi.ModTime()})
	}
	return out, nil
}
