package storage

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The real servers these tests run against are installed by
// .ci/storage-servers.sh. A missing one skips its test, except in CI
// (BULKSYNC_CI=1), where that is a failure.

// missing skips the test, or fails it in CI.
func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("BULKSYNC_CI") == "1" {
		t.Fatalf("%s is not installed; .ci/storage-servers.sh installs it", what)
	}
	t.Skipf("%s is not installed; .ci/storage-servers.sh installs it", what)
}

// tool finds a server's program on PATH or where go install and Debian put
// it.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("GOPATH"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	dirs = append(dirs, "/usr/sbin")
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	missing(t, name)
	return ""
}

// freeAddr returns a loopback address no one listens on (a moment ago).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// port is addr's port.
func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startServer runs a server for the rest of the test and returns when it
// prints ready (its own word that it listens): no polling.
func startServer(t *testing.T, dir, ready, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.WaitDelay = 5 * time.Second // sshd's session processes may hold the pipe a moment
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	var mu sync.Mutex
	var out strings.Builder
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() { // keeps draining after ready, or the server would block on a full pipe
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), ready) {
				once.Do(func() { close(seen) })
			}
		}
		io.Copy(io.Discard, pr)
	}()
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	select {
	case <-seen:
	case <-exited:
		t.Fatalf("%s exited before it was ready: %v\n%s", filepath.Base(name), waitErr, output())
	case <-time.After(60 * time.Second): // a bound, not a wait: ready comes long before
		t.Fatalf("%s did not say %q within 60s:\n%s", filepath.Base(name), ready, output())
	}
}

// silentServer accepts connections and never answers; each accepted
// connection is announced on the channel.
func silentServer(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 64)
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String(), accepted
}

// retrying is a caller's retry policy: up to n attempts while the error is
// temporary; whats records each attempt's description.
func retrying(n int, mu *sync.Mutex, whats *[]string) func(context.Context, string, func(context.Context) error) error {
	return func(ctx context.Context, what string, op func(context.Context) error) error {
		var err error
		for i := 0; i < n; i++ {
			mu.Lock()
			*whats = append(*whats, what)
			mu.Unlock()
			if err = op(ctx); err == nil || !Temporary(err) || ctx.Err() != nil {
				return err
			}
		}
		return err
	}
}

// itoa is strconv.Itoa, short for building URLs.
func itoa(i int) string { return strconv.Itoa(i) }
