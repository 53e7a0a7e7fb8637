package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/storage/storagetest"
)

// backend is one kind of store under the common end-to-end checks.
type backend struct {
	addr  string                                        // the real server
	urlAt func(t *testing.T, addr, key string) string   // the URL of key on a server at addr
	put   func(t *testing.T, key string, data []byte)   // puts an object by other means than Store.Create
	mtime func(t *testing.T, key string, mod time.Time) // sets an object's modification time; nil if the server won't
	// fineTimes: the server stamps each write with a fine-grained time, so
	// of objects written one after another the last is the newest.
	fineTimes bool
	opts      Options  // for the Store under test
	secrets   []string // must show in no message
}

func (b backend) url(t *testing.T, key string) string { return b.urlAt(t, b.addr, key) }

// readAll reads an Object whole through ReadAt, as csvmodel does.
func readAll(t *testing.T, o *Object) []byte {
	t.Helper()
	got, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// checkMessage asserts that err names the redacted URL and holds no secret.
func checkMessage(t *testing.T, err error, url string, secrets []string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, Redact(url)) {
		t.Errorf("message %q does not name %s", msg, Redact(url))
	}
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("message %q shows the secret %q", msg, s)
		}
	}
	var se *Error
	if !errors.As(err, &se) {
		t.Errorf("error %T is not a *storage.Error", err)
	}
}

// testBackend runs the checks every backend must pass, end to end against
// its real server.
func testBackend(t *testing.T, b backend) {
	ctx := context.Background()
	s := New(b.opts)
	t.Cleanup(func() { s.Close() })

	t.Run("stat and read twice give the same bytes", func(t *testing.T) {
		data := []byte("externalUserId,amazonId\n7201,amzn1.a\n")
		b.put(t, "exports/rooms.csv", data)
		url := b.url(t, "exports/rooms.csv")
		st, err := s.Stat(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size != int64(len(data)) || st.Version == "" || st.ModTime.IsZero() || st.Name != Redact(url) {
			t.Errorf("Stat = %+v; want size %d, a version, a time, name %s", st, len(data), Redact(url))
		}
		o, err := s.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		for pass := 1; pass <= 2; pass++ {
			if got := readAll(t, o); !bytes.Equal(got, data) {
				t.Errorf("pass %d read %q, want %q", pass, got, data)
			}
		}
		if got := o.Info(); got.Version != st.Version || got.Size != st.Size {
			t.Errorf("Open's info %+v, Stat's %+v: want the same version and size", got, st)
		}
		if d := o.Info().ModTime.Sub(st.ModTime); d < -time.Second || d > time.Second {
			t.Errorf("Open's time %v, Stat's %v", o.Info().ModTime, st.ModTime)
		}
		if err := o.Changed(ctx); err != nil {
			t.Errorf("Changed = %v on an object no one touched", err)
		}
	})

	t.Run("a change between two reads shows", func(t *testing.T) {
		b.put(t, "exports/change.csv", []byte("first\n"))
		url := b.url(t, "exports/change.csv")
		first, err := s.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		b.put(t, "exports/change.csv", []byte("second, longer\n"))
		err = first.Changed(ctx)
		if !errors.Is(err, ErrChanged) {
			t.Fatalf("Changed = %v, want ErrChanged", err)
		}
		checkMessage(t, err, url, b.secrets)
		if got := readAll(t, first); string(got) != "first\n" {
			t.Errorf("the first read now reads %q, want the bytes it read: %q", got, "first\n")
		}
		second, err := s.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		if first.Info().Version == second.Info().Version {
			t.Errorf("both reads have version %q", first.Info().Version)
		}
		if got := readAll(t, second); string(got) != "second, longer\n" {
			t.Errorf("second read %q", got)
		}
	})

	t.Run("create lands whole at commit, abort leaves the old", func(t *testing.T) {
		url := b.url(t, "out/report.csv")
		for _, mode := range []WriteMode{Stream, Atomic} {
			w, err := s.Create(ctx, url, mode)
			if err != nil {
				t.Fatal(err)
			}
			want := "row,outcome\n7201,created " + itoa(int(mode)) + "\n"
			if _, err := io.WriteString(w, want); err != nil {
				t.Fatal(err)
			}
			if mode == Stream {
				if _, err := s.Stat(ctx, url); !errors.Is(err, ErrNotFound) {
					t.Fatalf("before Commit Stat = %v, want ErrNotFound: nothing lands before", err)
				}
			}
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			o, err := s.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, o); string(got) != want {
				t.Errorf("mode %d: read back %q, want %q", mode, got, want)
			}
			o.Close()
		}
		before, err := s.Stat(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		w, err := s.Create(ctx, url, Atomic)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "half a report")
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if after, err := s.Stat(ctx, url); err != nil || after.Version != before.Version {
			t.Errorf("after Abort: %+v, %v; want the old version %q", after, err, before.Version)
		}
		fresh := b.url(t, "out/aborted.csv")
		w, err = s.Create(ctx, fresh, Stream)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "half a report")
		w.Abort()
		if _, err := s.Stat(ctx, fresh); !errors.Is(err, ErrNotFound) {
			t.Errorf("after Abort Stat = %v, want ErrNotFound", err)
		}
	})

	t.Run("newest of three dated exports", func(t *testing.T) {
		names := []string{"rooms-20261201.csv", "rooms-20261202.csv", "rooms-20261203.csv"}
		want := "rooms-20261203.csv"
		switch {
		case b.mtime != nil: // times set apart from the names' order: the time decides
			base := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
			for i, n := range names {
				b.put(t, "newest/"+n, []byte(n))
				b.mtime(t, "newest/"+n, base.Add(time.Duration([]int{2, 3, 1}[i])*time.Hour))
			}
			want = "rooms-20261202.csv"
		case b.fineTimes: // written out of name order: the last written wins
			for _, i := range []int{2, 0, 1} {
				b.put(t, "newest/"+names[i], []byte(names[i]))
			}
			want = "rooms-20261202.csv"
		default: // times to the second: written in name order, both rules agree
			for _, n := range names {
				b.put(t, "newest/"+n, []byte(n))
			}
		}
		// Newer, but not matches: another name, and one a folder down.
		b.put(t, "newest/other.csv", []byte("x"))
		b.put(t, "newest/archive/rooms-20261231.csv", []byte("x"))
		got, info, err := s.Newest(ctx, b.url(t, "newest/rooms-*.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if wantURL := b.url(t, "newest/"+want); got != wantURL {
			t.Errorf("Newest = %s, want %s", got, wantURL)
		}
		if info.Size != int64(len(want)) || info.Version == "" {
			t.Errorf("Newest's info %+v", info)
		}
		_, _, err = s.Newest(ctx, b.url(t, "newest/units-*.csv"))
		if !errors.Is(err, ErrNoMatch) {
			t.Errorf("Newest of a pattern nothing matches = %v, want ErrNoMatch", err)
		} else {
			checkMessage(t, err, b.url(t, "newest/units-*.csv"), b.secrets)
		}
	})

	t.Run("a missing object", func(t *testing.T) {
		url := b.url(t, "exports/missing.csv")
		_, err := s.Open(ctx, url)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Open = %v, want ErrNotFound", err)
		}
		checkMessage(t, err, url, b.secrets)
		if Temporary(err) {
			t.Error("a missing object is taken for a temporary failure")
		}
	})

	t.Run("a server that refuses", func(t *testing.T) {
		url := b.urlAt(t, storagetest.FreeAddr(t), "exports/rooms.csv")
		opts := b.opts
		// A refusal answers at once, but the GCS SDK retries it until the
		// attempt's deadline: the bound makes that an error too.
		opts.Timeout = 2 * time.Second
		s := New(opts)
		defer s.Close()
		_, err := s.Open(ctx, url)
		if err == nil {
			t.Fatal("Open of a closed port succeeded")
		}
		checkMessage(t, err, url, b.secrets)
		w, err := s.Create(ctx, url, Atomic)
		if err == nil {
			io.WriteString(w, "x")
			err = w.Commit(ctx)
		}
		if err == nil {
			t.Fatal("a write to a closed port succeeded")
		}
		checkMessage(t, err, url, b.secrets)
	})

	t.Run("a server that never answers times out, attempt by attempt", func(t *testing.T) {
		addr, _ := storagetest.Silent(t)
		url := b.urlAt(t, addr, "exports/rooms.csv")
		var mu sync.Mutex
		var whats []string
		opts := b.opts
		opts.Timeout = 300 * time.Millisecond
		opts.Retry = retrying(2, &mu, &whats)
		s := New(opts)
		defer s.Close()
		_, err := s.Open(ctx, url)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Open = %v, want a deadline exceeded", err)
		}
		checkMessage(t, err, url, b.secrets)
		mu.Lock()
		defer mu.Unlock()
		if len(whats) != 2 || whats[0] != "read "+Redact(url) {
			t.Errorf("attempts %q, want 2 of %q", whats, "read "+Redact(url))
		}
	})

	t.Run("cancellation stops a call in flight", func(t *testing.T) {
		addr, accepted := storagetest.Silent(t)
		url := b.urlAt(t, addr, "exports/rooms.csv")
		s := New(b.opts) // no timeout: only the cancellation can stop it
		defer s.Close()
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := s.Open(ctx, url)
			done <- err
		}()
		<-accepted // the call is waiting on the server
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Open = %v, want context.Canceled", err)
		}
	})
}
