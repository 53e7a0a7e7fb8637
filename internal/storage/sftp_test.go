package storage

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/storage/storagetest"
)

// sftpSecret sits in the test URLs as a password: it must show nowhere.
const sftpSecret = "Hunter2-sftp-Secret"

// sshd is the test's sshd with the URLs and environments these tests use.
type sshd struct{ *storagetest.SFTP }

func startSSHD(t *testing.T) sshd { return sshd{storagetest.StartSFTP(t)} }

// envWith is the server's environment with some variables replaced (""
// unsets).
func (s sshd) envWith(change map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := change[k]; ok {
			return v
		}
		return s.Env[k]
	}
}

// url names server path p on addr, with sftpSecret as the password (the
// server takes keys only: it is there to be hidden).
func (s sshd) url(addr, p string) string {
	return "sftp://" + s.User + ":" + sftpSecret + "@" + addr + p
}

func TestSFTPAgainstSSHD(t *testing.T) {
	srv := startSSHD(t)
	root := t.TempDir() // the served files: the test reaches them directly too
	testBackend(t, backend{
		addr:  srv.Addr,
		urlAt: func(_ *testing.T, addr, key string) string { return srv.url(addr, filepath.ToSlash(root)+"/"+key) },
		put: func(t *testing.T, key string, data []byte) {
			p := filepath.Join(root, filepath.FromSlash(key))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			// Written beside and renamed, so a change always moves the time or size.
			tmp := p + ".put"
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, p); err != nil {
				t.Fatal(err)
			}
		},
		mtime: func(t *testing.T, key string, mod time.Time) {
			if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(key)), mod, mod); err != nil {
				t.Fatal(err)
			}
		},
		opts:    Options{Env: srv.envWith(nil)},
		secrets: []string{sftpSecret},
	})
}

func TestSFTPHostKeyIsAlwaysChecked(t *testing.T) {
	srv := startSSHD(t)
	file := filepath.Join(t.TempDir(), "rooms.csv")
	if err := os.WriteFile(file, []byte("7201,amzn1.a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := srv.url(srv.Addr, filepath.ToSlash(file))
	for _, tc := range []struct {
		name  string
		known string // BULKSYNC_SFTP_KNOWN_HOSTS
		want  string // in the error; "" for success
	}{
		{"the right key", srv.KnownHosts, ""},
		// The server offers ed25519 first; the client must ask for the kind
		// known_hosts holds, not refuse the server for showing another.
		{"the right key of another kind", storagetest.WriteKnownHosts(t, srv.Addr, srv.HostKeys[1]), ""},
		{"a wrong key", srv.WrongKnownHosts, "does not match"},
		{"an unknown host", storagetest.WriteKnownHosts(t, "127.0.0.1:1", srv.HostKeys[0]), "is not in"},
		{"no known_hosts", "", "BULKSYNC_SFTP_KNOWN_HOSTS is not set"},
		{"a missing known_hosts", filepath.Join(t.TempDir(), "absent"), "read BULKSYNC_SFTP_KNOWN_HOSTS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{Env: srv.envWith(map[string]string{"BULKSYNC_SFTP_KNOWN_HOSTS": tc.known}), Timeout: 30 * time.Second})
			defer s.Close()
			o, err := s.Open(context.Background(), url)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := string(readAll(t, o)); got != "7201,amzn1.a\n" {
					t.Errorf("read %q", got)
				}
				o.Close()
				return
			}
			if err == nil {
				o.Close()
				t.Fatal("read with a host key that can't be trusted")
			}
			if !errors.Is(err, ErrHostKey) || Temporary(err) {
				t.Errorf("got %v (temporary %v), want ErrHostKey, not temporary", err, Temporary(err))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to say %q", err, tc.want)
			}
			checkMessage(t, err, url, []string{sftpSecret})
			// A write is refused the same way, before anything is written.
			if _, err := s.Create(context.Background(), url, Atomic); !errors.Is(err, ErrHostKey) {
				t.Errorf("Create = %v, want ErrHostKey", err)
			}
		})
	}
}

func TestSFTPCredentials(t *testing.T) {
	srv := startSSHD(t)
	file := filepath.Join(t.TempDir(), "rooms.csv")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	strange := filepath.Join(keys, "strange_key")
	storagetest.GenerateKey(t, strange)
	notAKey := filepath.Join(keys, "not_a_key")
	if err := os.WriteFile(notAKey, []byte(sftpSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		url    string
		change map[string]string
		want   string
	}{
		{"a key the server does not know", srv.url(srv.Addr, file), map[string]string{"BULKSYNC_SFTP_KEY_FILE": strange}, "credentials refused"},
		{"no key and no password", "sftp://" + srv.User + "@" + srv.Addr + file, map[string]string{"BULKSYNC_SFTP_KEY_FILE": ""}, "none given"},
		{"a key file that holds no key", srv.url(srv.Addr, file), map[string]string{"BULKSYNC_SFTP_KEY_FILE": notAKey}, "holds no private key"},
		{"a password sshd won't take", srv.url(srv.Addr, file), map[string]string{"BULKSYNC_SFTP_KEY_FILE": "", "BULKSYNC_SFTP_PASSWORD": sftpSecret + "-env"}, "credentials refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{Env: srv.envWith(tc.change), Timeout: 30 * time.Second})
			defer s.Close()
			_, err := s.Open(context.Background(), tc.url)
			if err == nil || !strings.Contains(err.Error(), tc.want) || Temporary(err) {
				t.Fatalf("got %v, want a lasting error saying %q", err, tc.want)
			}
			checkMessage(t, err, tc.url, []string{sftpSecret})
		})
	}
}

// entries lists a folder's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestSFTPWriteLandsWholeByRename(t *testing.T) {
	srv := startSSHD(t)
	s := New(Options{Env: srv.envWith(nil), Timeout: 30 * time.Second})
	defer s.Close()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "reports")
	url := srv.url(srv.Addr, dir+"/report.csv")

	w, err := s.Create(ctx, url, Stream)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("row,outcome\n"))
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("before Commit the server's folder exists (%v): something landed early", err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "report.csv" {
		t.Errorf("folder holds %q, want only report.csv (no temporary file)", got)
	}

	w, err = s.Create(ctx, url, Atomic)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("half"))
	w.Abort()
	if got, _ := os.ReadFile(filepath.Join(dir, "report.csv")); string(got) != "row,outcome\n" {
		t.Errorf("after Abort the file holds %q", got)
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("after Abort the folder holds %q", got)
	}

	// A link on the server is written through; it stays a link.
	real := filepath.Join(dir, "real.csv")
	os.WriteFile(real, []byte("old"), 0o644)
	if err := os.Symlink("real.csv", filepath.Join(dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	w, err = s.Create(ctx, srv.url(srv.Addr, dir+"/link.csv"), Atomic)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("new"))
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "link.csv")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi, err)
	}
	if got, _ := os.ReadFile(real); string(got) != "new" {
		t.Errorf("the link's target holds %q, want %q", got, "new")
	}

	// A folder where the output goes is refused before anything is written.
	if err := os.Mkdir(filepath.Join(dir, "folder.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	folderURL := srv.url(srv.Addr, dir+"/folder.csv")
	if _, err := s.Create(ctx, folderURL, Atomic); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Create over a folder = %v, want ErrNotRegular", err)
	} else {
		checkMessage(t, err, folderURL, []string{sftpSecret})
	}
}

func TestSFTPPathRelativeToHome(t *testing.T) {
	srv := startSSHD(t)
	me, _ := user.Current()
	file := filepath.Join(t.TempDir(), "rooms.csv")
	if err := os.WriteFile(file, []byte("7201\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(me.HomeDir, file)
	if err != nil {
		t.Skipf("no way from %s to %s", me.HomeDir, file)
	}
	s := New(Options{Env: srv.envWith(nil), Timeout: 30 * time.Second})
	defer s.Close()
	abs, err := s.Stat(context.Background(), srv.url(srv.Addr, file))
	if err != nil {
		t.Fatal(err)
	}
	home, err := s.Stat(context.Background(), srv.url(srv.Addr, "/~/"+filepath.ToSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	if abs.Version != home.Version {
		t.Errorf("/~/%s is %+v, the absolute path %+v: want the same file", rel, home, abs)
	}
}
