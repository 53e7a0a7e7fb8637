package storage

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshdServer is OpenSSH's sshd, started by a test on loopback with keys it
// made.
type sshdServer struct {
	addr     string
	user     string
	dir      string            // keys, config, known_hosts files
	hostKeys []ssh.PublicKey   // the server's, in the order configured
	env      map[string]string // BULKSYNC_SFTP_* for a client that should get in
}

// sftpSecret sits in the test URLs as a password: it must show nowhere.
const sftpSecret = "Hunter2-sftp-Secret"

// writeKey writes a private key in OpenSSH's format, readable by its owner
// only (sshd refuses a host key others can read).
func writeKey(t *testing.T, path string, key crypto.PrivateKey) ssh.PublicKey {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return signer.PublicKey()
}

func newEd25519(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// startSSHD runs sshd with an ed25519 and an ECDSA host key, a user key
// for the current user, and the internal SFTP server.
func startSSHD(t *testing.T) *sshdServer {
	t.Helper()
	bin := tool(t, "sshd")
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd run by root wants its privilege-separation folder, which
		// Debian's service would make.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	s := &sshdServer{addr: freeAddr(t), user: me.Username, dir: dir}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s.hostKeys = []ssh.PublicKey{
		writeKey(t, filepath.Join(dir, "host_ed25519"), newEd25519(t)),
		writeKey(t, filepath.Join(dir, "host_ecdsa"), ec),
	}
	userPub := writeKey(t, filepath.Join(dir, "id_ed25519"), newEd25519(t))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userPub), 0o600); err != nil {
		t.Fatal(err)
	}
	config := strings.Join([]string{
		"ListenAddress " + s.addr,
		"HostKey " + filepath.Join(dir, "host_ed25519"),
		"HostKey " + filepath.Join(dir, "host_ecdsa"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"PidFile none",
		"StrictModes no", // the temp folders' modes are not sshd's business here
		"UsePAM no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"PermitRootLogin prohibit-password", // CI runs as root: keys only
		"AllowUsers " + me.Username,
		"Subsystem sftp internal-sftp",
		"LogLevel INFO",
	}, "\n") + "\n"
	cfg := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	startServer(t, dir, "Server listening on", bin, "-D", "-e", "-f", cfg)
	s.env = map[string]string{
		"BULKSYNC_SFTP_KEY_FILE":    filepath.Join(dir, "id_ed25519"),
		"BULKSYNC_SFTP_KNOWN_HOSTS": s.knownHosts(t, "known_hosts", s.hostKeys[0]),
	}
	return s
}

// knownHosts writes a known_hosts file naming the server's address with
// keys, and returns its path.
func (s *sshdServer) knownHosts(t *testing.T, name string, keys ...ssh.PublicKey) string {
	t.Helper()
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(knownhosts.Line([]string{s.addr}, k) + "\n")
	}
	p := filepath.Join(s.dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// envWith is s.env with some variables replaced ("" unsets).
func (s *sshdServer) envWith(change map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := change[k]; ok {
			return v
		}
		return s.env[k]
	}
}

func (s *sshdServer) url(addr, p string) string {
	return "sftp://" + s.user + ":" + sftpSecret + "@" + addr + p
}

func TestSFTPAgainstSSHD(t *testing.T) {
	srv := startSSHD(t)
	root := t.TempDir() // the served files: the test reaches them directly too
	testBackend(t, backend{
		addr:  srv.addr,
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
	url := srv.url(srv.addr, filepath.ToSlash(file))
	other := &sshdServer{addr: "127.0.0.1:1", dir: srv.dir}
	for _, tc := range []struct {
		name  string
		known string // BULKSYNC_SFTP_KNOWN_HOSTS
		want  string // in the error; "" for success
	}{
		{"the right key", srv.knownHosts(t, "right", srv.hostKeys[0]), ""},
		// The server offers ed25519 first; the client must ask for the kind
		// known_hosts holds, not refuse the server for showing another.
		{"the right key of another kind", srv.knownHosts(t, "ecdsa", srv.hostKeys[1]), ""},
		{"a wrong key", srv.knownHosts(t, "wrong", ssh.PublicKey(mustSigner(t).PublicKey())), "does not match"},
		{"an unknown host", other.knownHosts(t, "unknown", srv.hostKeys[0]), "is not in"},
		{"no known_hosts", "", "BULKSYNC_SFTP_KNOWN_HOSTS is not set"},
		{"a missing known_hosts", filepath.Join(srv.dir, "absent"), "read BULKSYNC_SFTP_KNOWN_HOSTS"},
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

func mustSigner(t *testing.T) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(newEd25519(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSFTPCredentials(t *testing.T) {
	srv := startSSHD(t)
	file := filepath.Join(t.TempDir(), "rooms.csv")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	strange := filepath.Join(srv.dir, "strange_key")
	writeKey(t, strange, newEd25519(t))
	notAKey := filepath.Join(srv.dir, "not_a_key")
	if err := os.WriteFile(notAKey, []byte(sftpSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		url    string
		change map[string]string
		want   string
	}{
		{"a key the server does not know", srv.url(srv.addr, file), map[string]string{"BULKSYNC_SFTP_KEY_FILE": strange}, "credentials refused"},
		{"no key and no password", "sftp://" + srv.user + "@" + srv.addr + file, map[string]string{"BULKSYNC_SFTP_KEY_FILE": ""}, "none given"},
		{"a key file that holds no key", srv.url(srv.addr, file), map[string]string{"BULKSYNC_SFTP_KEY_FILE": notAKey}, "holds no private key"},
		{"a password sshd won't take", srv.url(srv.addr, file), map[string]string{"BULKSYNC_SFTP_KEY_FILE": "", "BULKSYNC_SFTP_PASSWORD": sftpSecret + "-env"}, "credentials refused"},
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
	url := srv.url(srv.addr, dir+"/report.csv")

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
	w, err = s.Create(ctx, srv.url(srv.addr, dir+"/link.csv"), Atomic)
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
	folderURL := srv.url(srv.addr, dir+"/folder.csv")
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
	abs, err := s.Stat(context.Background(), srv.url(srv.addr, file))
	if err != nil {
		t.Fatal(err)
	}
	home, err := s.Stat(context.Background(), srv.url(srv.addr, "/~/"+filepath.ToSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	if abs.Version != home.Version {
		t.Errorf("/~/%s is %+v, the absolute path %+v: want the same file", rel, home, abs)
	}
}
