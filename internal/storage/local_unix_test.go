//go:build unix

package storage

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLocalFileIsReadInPlaceAndAChangeShows(t *testing.T) {
	ctx := context.Background()
	s := New(Options{})
	defer s.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "rooms.csv")
	data := "externalUserId,amazonId\n7201,amzn1.a\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	mod := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stat(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != int64(len(data)) || !st.ModTime.Equal(mod) || st.Version == "" || st.Name != path {
		t.Errorf("Stat = %+v", st)
	}
	o, err := s.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for pass := 1; pass <= 2; pass++ {
		if got := string(readAll(t, o)); got != data {
			t.Errorf("pass %d read %q", pass, got)
		}
	}
	if o.Info() != st {
		t.Errorf("Open's info %+v, Stat's %+v", o.Info(), st)
	}
	if err := o.Changed(ctx); err != nil {
		t.Errorf("Changed = %v on an untouched file", err)
	}

	for _, tc := range []struct {
		name   string
		change func(t *testing.T)
	}{
		{"written to in place", func(t *testing.T) {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("7202,amzn1.b\n")
			f.Close()
		}},
		// Same size, same time, another file: only its identity tells.
		{"replaced by another file just like it", func(t *testing.T) {
			tmp := filepath.Join(dir, "new.csv")
			os.WriteFile(tmp, []byte(data), 0o644)
			os.Chtimes(tmp, mod, mod)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed", func(t *testing.T) { os.Remove(path) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(path, []byte(data), 0o644)
			os.Chtimes(path, mod, mod)
			o, err := s.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			tc.change(t)
			err = o.Changed(ctx)
			if !errors.Is(err, ErrChanged) {
				t.Fatalf("Changed = %v, want ErrChanged", err)
			}
			checkMessage(t, err, path, nil)
		})
	}
}

func TestLocalPipeIsSpooledToBeReadAgain(t *testing.T) {
	ctx := context.Background()
	s := New(Options{TempDir: t.TempDir()})
	defer s.Close()
	fifo := filepath.Join(t.TempDir(), "in.csv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	data := strings.Repeat("7201,amzn1.a\n", 10000)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		io.WriteString(f, data)
		f.Close()
	}()
	o, err := s.Open(ctx, fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for pass := 1; pass <= 2; pass++ {
		if got := string(readAll(t, o)); got != data {
			t.Errorf("pass %d read %d bytes, want %d", pass, len(got), len(data))
		}
	}
	if o.Info().Version != "" || o.Changed(ctx) != nil {
		t.Errorf("a pipe's version %q: no change can be told of a pipe", o.Info().Version)
	}
	if es := entries(t, s.opts.TempDir); len(es) != 0 {
		t.Errorf("the spool file is visible: %q", es)
	}
}

func TestLocalReadFailures(t *testing.T) {
	ctx := context.Background()
	s := New(Options{})
	defer s.Close()
	dir := t.TempDir()
	for _, tc := range []struct {
		path string
		is   error
		says string
	}{
		{filepath.Join(dir, "missing.csv"), ErrNotFound, "not found"},
		{dir, ErrBadPath, "is a folder"},
		{filepath.Join(dir, "missing", "x.csv"), ErrNotFound, "not found"},
	} {
		for op, f := range map[string]func() error{
			"read": func() error { _, err := s.Open(ctx, tc.path); return err },
			"stat": func() error { _, err := s.Stat(ctx, tc.path); return err },
		} {
			err := f()
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.says) || !strings.HasPrefix(err.Error(), op+" "+tc.path+": ") {
				t.Errorf("%s %s = %v, want %v saying %q", op, tc.path, err, tc.is, tc.says)
			}
		}
	}
}

func TestLocalOutputs(t *testing.T) {
	ctx := context.Background()
	s := New(Options{})
	defer s.Close()
	for _, mode := range []WriteMode{Stream, Atomic} {
		name := map[WriteMode]string{Stream: "stream", Atomic: "atomic"}[mode]
		t.Run(name+": missing folders are made", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a", "b", "report.csv")
			w, err := s.Create(ctx, path, mode)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, "x\n")
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); string(got) != "x\n" {
				t.Errorf("got %q", got)
			}
		})
		t.Run(name+": before commit", func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "report.csv")
			os.WriteFile(path, []byte("old\n"), 0o644)
			w, err := s.Create(ctx, path, mode)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, "row 1\n")
			got, _ := os.ReadFile(path)
			// Stream: a run killed now leaves what it wrote, readable.
			// Atomic: the old file, whole, until Commit.
			want := map[WriteMode]string{Stream: "row 1\n", Atomic: "old\n"}[mode]
			if string(got) != want {
				t.Errorf("before Commit the file holds %q, want %q", got, want)
			}
			w.Abort()
			if got, _ := os.ReadFile(path); string(got) != want {
				t.Errorf("after Abort the file holds %q, want %q", got, want)
			}
			if es := entries(t, dir); len(es) != 1 {
				t.Errorf("folder holds %q, want only the report", es)
			}
		})
		t.Run(name+": a symbolic link is written through", func(t *testing.T) {
			dir := t.TempDir()
			real := filepath.Join(dir, "real", "report.csv")
			os.MkdirAll(filepath.Dir(real), 0o755)
			os.WriteFile(real, []byte("old\n"), 0o644)
			link := filepath.Join(dir, "report.csv")
			if err := os.Symlink("real/report.csv", link); err != nil {
				t.Fatal(err)
			}
			w, err := s.Create(ctx, link, mode)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, "new\n")
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the link was replaced: %v, %v", fi, err)
			}
			if got, _ := os.ReadFile(real); string(got) != "new\n" {
				t.Errorf("the target holds %q", got)
			}
		})
		t.Run(name+": what is not a regular file is refused", func(t *testing.T) {
			dir := t.TempDir()
			fifo := filepath.Join(dir, "fifo.csv")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(dir, "s.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			folder := filepath.Join(dir, "folder.csv")
			os.Mkdir(folder, 0o755)
			linkToFIFO := filepath.Join(dir, "link.csv")
			os.Symlink("fifo.csv", linkToFIFO)
			paths := []string{fifo, sock, folder, linkToFIFO}
			if mode == Stream {
				// Never in Atomic mode: a broken check would rename over it (CI runs as root).
				paths = append(paths, "/dev/null")
			}
			before := entries(t, dir)
			for _, p := range paths {
				_, err := s.Create(ctx, p, mode)
				if !errors.Is(err, ErrNotRegular) {
					t.Errorf("Create(%s) = %v, want ErrNotRegular", p, err)
					continue
				}
				checkMessage(t, err, p, nil)
			}
			if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				t.Errorf("the FIFO was replaced: %v, %v", fi, err)
			}
			if got := entries(t, dir); strings.Join(got, ",") != strings.Join(before, ",") {
				t.Errorf("folder holds %q, had %q", got, before)
			}
		})
	}
}

func TestLocalNewest(t *testing.T) {
	ctx := context.Background()
	s := New(Options{})
	defer s.Close()
	dir := t.TempDir()
	day := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	put := func(name string, mod time.Time) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	put("rooms-20261201.csv", day.Add(-time.Hour))
	put("rooms-20261202.csv", day) // ties with 20261130; the greater name wins
	put("rooms-20261130.csv", day)
	put("other.csv", day.Add(time.Hour))
	put("rooms-dir.csv/x", day.Add(time.Hour)) // a folder that matches
	put("archive/rooms-20261231.csv", day.Add(time.Hour))
	os.Symlink("rooms-20261201.csv", filepath.Join(dir, "rooms-link.csv")) // counts as its target: older

	got, info, err := s.Newest(ctx, filepath.Join(dir, "rooms-*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "rooms-20261202.csv"); got != want || !info.ModTime.Equal(day) {
		t.Errorf("Newest = %s (%v), want %s (%v)", got, info.ModTime, want, day)
	}

	pattern := filepath.Join(dir, "units-*.csv")
	if _, _, err := s.Newest(ctx, pattern); !errors.Is(err, ErrNoMatch) {
		t.Errorf("Newest(%s) = %v, want ErrNoMatch", pattern, err)
	} else if !strings.Contains(err.Error(), pattern) {
		t.Errorf("message %q does not name the pattern", err)
	}
	if _, _, err := s.Newest(ctx, filepath.Join(dir, "missing", "rooms-*.csv")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Newest in a missing folder = %v, want ErrNotFound", err)
	}
}
