package storagetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SFTP is OpenSSH's sshd on loopback, serving the machine's files over its
// internal SFTP server to the current user, who logs in with a key the
// test made.
type SFTP struct {
	Addr string // host:port
	User string // the current user, the only one let in
	// HostKeys are the server's, ed25519 then ECDSA, in the order it
	// offers them.
	HostKeys []ssh.PublicKey
	// KeyFile is the user's private key (OpenSSH format, no passphrase).
	KeyFile string
	// KnownHosts names the server's address with its ed25519 key.
	KnownHosts string
	// WrongKnownHosts names the server's address with a key it does not
	// have: a changed server, or someone in between.
	WrongKnownHosts string
	// Env is what bulksync needs to log in and trust the server:
	// BULKSYNC_SFTP_KEY_FILE and BULKSYNC_SFTP_KNOWN_HOSTS (KnownHosts).
	Env map[string]string
}

// StartSFTP runs sshd with an ed25519 and an ECDSA host key and a user key
// for the current user, keys only (no passwords).
func StartSFTP(t testing.TB) *SFTP {
	t.Helper()
	bin := Tool(t, "sshd")
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
	s := &SFTP{Addr: FreeAddr(t), User: me.Username, KeyFile: filepath.Join(dir, "id_ed25519")}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s.HostKeys = []ssh.PublicKey{
		writeKey(t, filepath.Join(dir, "host_ed25519"), newEd25519(t)),
		writeKey(t, filepath.Join(dir, "host_ecdsa"), ec),
	}
	userPub := writeKey(t, s.KeyFile, newEd25519(t))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userPub), 0o600); err != nil {
		t.Fatal(err)
	}
	config := strings.Join([]string{
		"ListenAddress " + s.Addr,
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
	start(t, dir, "Server listening on", bin, "-D", "-e", "-f", cfg)
	s.KnownHosts = WriteKnownHosts(t, s.Addr, s.HostKeys[0])
	s.WrongKnownHosts = WriteKnownHosts(t, s.Addr, GenerateKey(t, filepath.Join(dir, "stranger")))
	s.Env = map[string]string{
		"BULKSYNC_SFTP_KEY_FILE":    s.KeyFile,
		"BULKSYNC_SFTP_KNOWN_HOSTS": s.KnownHosts,
	}
	return s
}

// URL is the sftp:// URL of the server's absolute path p (a local path:
// the server serves this machine).
func (s *SFTP) URL(p string) string { return s.URLAt(s.Addr, p) }

// URLAt is the URL p would have on an SFTP server at addr (a closed or a
// silent one).
func (s *SFTP) URLAt(addr, p string) string {
	return "sftp://" + s.User + "@" + addr + filepath.ToSlash(p)
}

// WriteKnownHosts writes a known_hosts file naming addr with keys, as
// ssh-keyscan would, and returns its path.
func WriteKnownHosts(t testing.TB, addr string, keys ...ssh.PublicKey) string {
	t.Helper()
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(knownhosts.Line([]string{addr}, k) + "\n")
	}
	p := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// GenerateKey writes a new ed25519 private key at path, readable by its
// owner only, and returns its public key.
func GenerateKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	return writeKey(t, path, newEd25519(t))
}

// writeKey writes a private key in OpenSSH's format, readable by its owner
// only (sshd refuses a host key others can read).
func writeKey(t testing.TB, path string, key crypto.PrivateKey) ssh.PublicKey {
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

func newEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
