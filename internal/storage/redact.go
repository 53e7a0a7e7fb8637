package storage

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
)

// redacted stands in for a secret, as url.URL.Redacted writes a password.
const redacted = "xxxxx"

// Redact returns path fit for a message: a URL loses its password and the
// values of query parameters that may carry a secret (a signature, a token,
// a key); a local path is returned as it is.
func Redact(p string) string {
	if !IsURL(p) {
		return p
	}
	u, err := url.Parse(p)
	if err != nil {
		// Unparsable: keep the scheme and host, drop whatever might be a
		// password (before the last "@") or a secret (the query).
		scheme, rest, _ := strings.Cut(p, "://")
		if i := strings.IndexAny(rest, "?#"); i >= 0 {
			rest = rest[:i]
		}
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			rest = redacted + rest[i:]
		}
		return scheme + "://" + rest
	}
	changed := false
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), redacted)
		changed = true
	}
	if u.RawQuery != "" {
		// Pair by pair, so the rest reads as the operator wrote it.
		pairs := strings.Split(u.RawQuery, "&")
		for i, pair := range pairs {
			k, _, _ := strings.Cut(pair, "=")
			name, err := url.QueryUnescape(k)
			if err != nil || secretParam(name) {
				pairs[i] = k + "=" + redacted
				changed = true
			}
		}
		u.RawQuery = strings.Join(pairs, "&")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = "", ""
		changed = true
	}
	if !changed {
		return p
	}
	return u.String()
}

// secretParam reports whether a query parameter's name suggests a secret
// value. Wide on purpose: hiding a harmless value costs little.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, word := range []string{"secret", "password", "passwd", "token", "sig", "key", "credential", "auth", "external_id"} {
		if strings.Contains(n, word) {
			return true
		}
	}
	return false
}

// secretEnv lists the variables whose values never appear in a message:
// the cloud SDKs' and bulksync's SFTP secrets.
var secretEnv = []string{
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_CLIENT_SECRET",
	"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGEBLOB_CONNECTIONSTRING",
	"BULKSYNC_SFTP_PASSWORD",
}

// minSecret is the shortest value scrubbed: shorter ones would blot out
// ordinary words and prove nothing.
const minSecret = 4

// Secrets are the secret values env holds for storage (the cloud SDKs' and
// bulksync's SFTP credentials), longest first so that a secret containing
// another is hidden whole.
func Secrets(env func(string) string) []string {
	var out []string
	add := func(v string) {
		v = strings.TrimSpace(v)
		if len(v) >= minSecret {
			out = append(out, v)
		}
	}
	for _, name := range secretEnv {
		v := env(name)
		add(v)
		// A connection string carries its key and signature as fields.
		for _, field := range strings.Split(v, ";") {
			if k, val, ok := strings.Cut(field, "="); ok && (strings.EqualFold(k, "AccountKey") || strings.EqualFold(k, "SharedAccessSignature")) {
				add(val)
			}
		}
	}
	if f := env("BULKSYNC_SFTP_PASSWORD_FILE"); f != "" {
		if b, err := readSmall(f); err == nil {
			add(string(b))
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// scrub hides each secret in msg.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, redacted)
		if e := url.QueryEscape(s); e != s {
			msg = strings.ReplaceAll(msg, e, redacted)
		}
	}
	return msg
}

// maxSecretFile bounds what is read from a key or password file: a real one
// is a few kilobytes, and a wrong path (a device, a huge file) must not
// fill memory.
const maxSecretFile = 1 << 20

// readSmall reads a key or password file of at most maxSecretFile bytes.
func readSmall(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a key or password file", name, maxSecretFile)
	}
	return b, nil
}

// sftpPath turns a URL's path into the server's: /~/rel is relative to the
// login folder (as curl reads it), anything else absolute.
func sftpPath(p string) string {
	folder := strings.HasSuffix(p, "/")
	switch {
	case p == "" || p == "/":
		return p
	case p == "/~" || p == "/~/":
		return "./"
	case strings.HasPrefix(p, "/~/"):
		p = path.Clean(p[len("/~/"):])
	default:
		p = path.Clean(p)
	}
	if folder {
		p += "/"
	}
	return p
}
