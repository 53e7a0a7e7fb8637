// Package storagetest runs the real servers behind bulksync's remote paths
// for tests, each on a loopback port and stopped when the test ends:
// versitygw for s3://, fake-gcs-server for gs://, Azurite for azblob:// and
// OpenSSH's sshd for sftp://. .ci/storage-servers.sh installs them. A
// missing one skips the test, except under BULKSYNC_CI=1, where it fails.
//
// The cloud SDKs read their credentials and emulator hosts from the process
// environment only, so the starters set them with t.Setenv: a test that
// uses them can't be parallel.
package storagetest

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bucket is the bucket (S3, GCS) or container (Azure) every server holds,
// empty at the start.
const Bucket = "pms"

// Missing skips the test for want of what, or fails it under BULKSYNC_CI=1.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("BULKSYNC_CI") == "1" {
		t.Fatalf("%s is not installed; .ci/storage-servers.sh installs it", what)
	}
	t.Skipf("%s is not installed; .ci/storage-servers.sh installs it", what)
}

// Tool finds a server's program on PATH, or where go install and Debian put
// it; without it the test is Missing.
func Tool(t testing.TB, name string) string {
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
	Missing(t, name)
	return ""
}

// FreeAddr returns a loopback address no one listened on a moment ago: for
// a server that takes its port as an argument, or as a closed port that
// refuses connections.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Port is addr's port.
func Port(t testing.TB, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Silent listens on loopback, accepts connections and never answers: a
// store that times out. Each accepted connection is announced on the
// channel (which drops announcements no one reads).
func Silent(t testing.TB) (addr string, accepted <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 64)
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
			case ch <- struct{}{}:
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
	return ln.Addr().String(), ch
}

// readyWithin bounds the wait for a server's ready line: a bound for a
// broken install, not a wait; the line comes long before.
const readyWithin = 60 * time.Second

// start runs a server in dir for the rest of the test and returns once it
// prints ready (its own word that it listens): no polling, no sleep.
func start(t testing.TB, dir, ready, name string, args ...string) {
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
		_, _ = io.Copy(io.Discard, pr)
	}()
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	select {
	case <-seen:
	case <-exited:
		t.Fatalf("%s exited before it was ready: %v\n%s", filepath.Base(name), waitErr, output())
	case <-time.After(readyWithin):
		t.Fatalf("%s did not say %q within %s:\n%s", filepath.Base(name), ready, readyWithin, output())
	}
}

// setenv sets each variable of env for the rest of the test.
func setenv(t testing.TB, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
}
