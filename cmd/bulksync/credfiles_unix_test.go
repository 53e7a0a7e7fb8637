//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
)

// A credential file is read only when it is a regular file of at most
// 64 KiB: /dev/zero does not grow to gigabytes, and a FIFO with no writer
// is refused at once rather than hanging the process past SIGTERM.
func TestCredentialFilesAreBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	big := writeFile(t, dir, "big", strings.Repeat("x", 64<<10+1))
	a := startAPI(t, emulator.Options{})
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	for _, tc := range []struct{ path, says string }{
		{fifo, "not a regular file (a named pipe)"},
		{"/dev/zero", "not a regular file (a device)"},
		{dir, "not a regular file (a directory)"},
		{big, "larger than 64 KiB"},
	} {
		done := make(chan result, 1)
		go func() {
			done <- runCLI(t, []string{"BULKSYNC_ACCESS_TOKEN_FILE=" + tc.path}, "sync", "--endpoint", a.url, "--service-provider-id", sp, in)
		}()
		select {
		case res := <-done:
			if res.code != 2 || !strings.Contains(res.stderr, "BULKSYNC_ACCESS_TOKEN_FILE: can't read "+tc.path+": "+tc.says) {
				t.Errorf("%s: exit %d, want 2 saying %q:\n%s", tc.path, res.code, tc.says, res.stderr)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: still reading after 30 s", tc.path)
		}
	}
}
