package storage

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"strings"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/bulksync/bulksync/internal/atomicfile"
)

// errAuth: the SFTP server refused the credentials, or none were given.
var errAuth = errors.New("sftp credentials refused")

// sftpConn is one SSH connection and its SFTP session.
type sftpConn struct {
	ssh  *ssh.Client
	sftp *sftp.Client
}

func (c *sftpConn) close() error {
	err := c.sftp.Close()
	if cerr := c.ssh.Close(); err == nil {
		err = cerr
	}
	return err
}

// sftpConnect returns the Store's connection to loc's server, dialling it
// the first time.
func (s *Store) sftpConnect(ctx context.Context, loc location) (*sftpConn, error) {
	id := loc.user + "@" + loc.hostport
	s.mu.Lock()
	c, ok := s.sftps[id]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := s.sftpDial(ctx, loc)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.sftps[id]; ok { // another goroutine dialled first
		c.close()
		return old, nil
	}
	s.sftps[id] = c
	return c, nil
}

// sftpDrop forgets a connection that failed, so the next attempt dials
// afresh.
func (s *Store) sftpDrop(loc location, c *sftpConn) {
	id := loc.user + "@" + loc.hostport
	s.mu.Lock()
	if s.sftps[id] == c {
		delete(s.sftps, id)
	}
	s.mu.Unlock()
	c.close()
}

// sftpDial connects and authenticates, checking the server's host key
// against BULKSYNC_SFTP_KNOWN_HOSTS, always.
func (s *Store) sftpDial(ctx context.Context, loc location) (*sftpConn, error) {
	knownFile := s.opts.Env("BULKSYNC_SFTP_KNOWN_HOSTS")
	if knownFile == "" {
		return nil, fmt.Errorf("%w: BULKSYNC_SFTP_KNOWN_HOSTS is not set, so the server's host key can't be checked", ErrHostKey)
	}
	known, err := knownhosts.New(knownFile)
	if err != nil {
		return nil, fmt.Errorf("%w: read BULKSYNC_SFTP_KNOWN_HOSTS: %w", ErrHostKey, err)
	}
	auth, err := s.sftpAuth(loc)
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{
		User: loc.user,
		Auth: auth,
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			err := known(host, remote, key)
			var ke *knownhosts.KeyError
			var re *knownhosts.RevokedError
			switch {
			case errors.As(err, &ke) && len(ke.Want) == 0:
				return fmt.Errorf("%w: %s is not in %s (add its %s key there)", ErrHostKey, host, knownFile, key.Type())
			case errors.As(err, &ke):
				return fmt.Errorf("%w: the %s key of %s does not match %s:%d (a changed server, or someone in between)", ErrHostKey, key.Type(), host, ke.Want[0].Filename, ke.Want[0].Line)
			case errors.As(err, &re):
				return fmt.Errorf("%w: the key of %s is revoked in %s", ErrHostKey, host, knownFile)
			case err != nil:
				return fmt.Errorf("%w: %w", ErrHostKey, err)
			}
			return nil
		},
		// Ask for the kinds of key known_hosts holds, or a server with several
		// would show one that is not there and be refused for it.
		HostKeyAlgorithms: knownAlgorithms(known, loc.hostport),
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", loc.hostport)
	if err != nil {
		return nil, err
	}
	// The handshake reads without a context: closing the connection when
	// ctx ends keeps it within the attempt.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, loc.hostport, cfg)
	stopped := stop()
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("%w: user %s", errAuth, loc.user)
		}
		return nil, err
	}
	if !stopped {
		sc.Close()
		return nil, ctx.Err()
	}
	client := ssh.NewClient(sc, chans, reqs)
	sess, err := sftp.NewClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("start sftp: %w", err)
	}
	return &sftpConn{ssh: client, sftp: sess}, nil
}

// sftpAuth gathers the credentials: a key from BULKSYNC_SFTP_KEY_FILE, a
// password from the URL, BULKSYNC_SFTP_PASSWORD or _FILE.
func (s *Store) sftpAuth(loc location) ([]ssh.AuthMethod, error) {
	var auth []ssh.AuthMethod
	if f := s.opts.Env("BULKSYNC_SFTP_KEY_FILE"); f != "" {
		pem, err := readSmall(f)
		if err != nil {
			return nil, fmt.Errorf("%w: read BULKSYNC_SFTP_KEY_FILE: %w", errAuth, err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("%w: the key in BULKSYNC_SFTP_KEY_FILE needs a passphrase; give bulksync a key without one", errAuth)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: BULKSYNC_SFTP_KEY_FILE holds no private key bulksync can read", errAuth)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	password := loc.password
	if password == "" {
		password = s.opts.Env("BULKSYNC_SFTP_PASSWORD")
	}
	if password == "" {
		if f := s.opts.Env("BULKSYNC_SFTP_PASSWORD_FILE"); f != "" {
			b, err := readSmall(f)
			if err != nil {
				return nil, fmt.Errorf("%w: read BULKSYNC_SFTP_PASSWORD_FILE: %w", errAuth, err)
			}
			password = strings.TrimRight(string(b), "\r\n")
		}
	}
	if password != "" {
		auth = append(auth, ssh.Password(password))
	}
	if len(auth) == 0 {
		return nil, fmt.Errorf("%w: none given (set BULKSYNC_SFTP_KEY_FILE, or BULKSYNC_SFTP_PASSWORD or BULKSYNC_SFTP_PASSWORD_FILE)", errAuth)
	}
	return auth, nil
}

// knownAlgorithms lists the host key algorithms known_hosts holds for
// hostport, found by offering it a key it can't know; nil (the library's
// defaults) when it holds none.
func knownAlgorithms(known ssh.HostKeyCallback, hostport string) []string {
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(known(hostport, &net.TCPAddr{IP: net.IPv4zero}, probe), &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsFor maps a key type to the signature algorithms that prove it.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// sftpDo runs op on loc's server. The SFTP calls take no context, so the
// connection is closed when ctx ends, which ends any call in flight.
func (s *Store) sftpDo(ctx context.Context, loc location, op func(*sftp.Client) error) error {
	c, err := s.sftpConnect(ctx, loc)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- op(c.sftp) }()
	select {
	case err := <-done:
		if err != nil && lostConnection(err) {
			s.sftpDrop(loc, c)
		}
		return err
	case <-ctx.Done():
		s.sftpDrop(loc, c)
		<-done
		return ctx.Err()
	}
}

// lostConnection tells a broken connection from the server's answer.
func lostConnection(err error) bool {
	var se *sftp.StatusError
	if errors.As(err, &se) {
		return false
	}
	return !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrNotFound) && !errors.Is(err, fs.ErrPermission) &&
		!errors.Is(err, ErrBadPath) && !errors.Is(err, ErrNotRegular) && !errors.Is(err, ErrChanged)
}

// sftpTemporary classifies an error from an SFTP exchange.
func sftpTemporary(err error) (temporary, known bool) {
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, sftp.ErrSSHFxNoConnection) {
		return true, true
	}
	var se *sftp.StatusError
	if errors.As(err, &se) {
		return false, true
	}
	return false, false
}

func sftpErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	return err
}

func (s *Store) sftpStat(ctx context.Context, loc location) (Info, error) {
	var info Info
	err := s.do(ctx, "stat "+Redact(loc.raw), func(ctx context.Context) error {
		return s.sftpDo(ctx, loc, func(c *sftp.Client) error {
			fi, err := c.Stat(loc.remote)
			if err != nil {
				return sftpErr(err)
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%w: not a regular file", ErrBadPath)
			}
			info = Info{Size: fi.Size(), ModTime: fi.ModTime(), Version: fileVersion(fi.Size(), fi.ModTime())}
			return nil
		})
	})
	return info, err
}

func (s *Store) sftpOpen(ctx context.Context, loc location) (*Object, error) {
	spool, err := s.spoolFile()
	if err != nil {
		return nil, err
	}
	var info Info
	err = s.do(ctx, "read "+Redact(loc.raw), func(ctx context.Context) error {
		return s.sftpDo(ctx, loc, func(c *sftp.Client) error {
			if err := resetSpool(spool); err != nil {
				return err
			}
			f, err := c.Open(loc.remote)
			if err != nil {
				return sftpErr(err)
			}
			defer f.Close()
			before, err := f.Stat()
			if err != nil {
				return err
			}
			if !before.Mode().IsRegular() {
				return fmt.Errorf("%w: not a regular file", ErrBadPath)
			}
			n, err := f.WriteTo(spool)
			if err != nil {
				return err
			}
			// The server tells no version: a file written while it was read
			// shows in its size or time.
			after, err := f.Stat()
			if err != nil {
				return err
			}
			if n != before.Size() || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
				return fmt.Errorf("%w: written to while it was read", ErrChanged)
			}
			info = Info{Size: n, ModTime: before.ModTime(), Version: fileVersion(n, before.ModTime())}
			return nil
		})
	})
	if err != nil {
		closeSpool(spool)
		return nil, err
	}
	return &Object{f: spool, size: info.Size, info: info, spool: true}, nil
}

// sftpOutputTarget returns the server's path an output lands at: loc's, or
// the file its symbolic link points to. Anything that is not a regular
// file is refused.
func (s *Store) sftpOutputTarget(ctx context.Context, loc location) (string, error) {
	var target string
	err := s.do(ctx, "write "+Redact(loc.raw), func(ctx context.Context) error {
		return s.sftpDo(ctx, loc, func(c *sftp.Client) error {
			target = loc.remote
			fi, err := c.Lstat(target)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if fi.Mode()&fs.ModeSymlink != 0 {
				if target, err = c.RealPath(target); err != nil {
					return err
				}
				if fi, err = c.Stat(target); errors.Is(err, fs.ErrNotExist) {
					return nil
				} else if err != nil {
					return err
				}
			}
			if !fi.Mode().IsRegular() {
				return &atomicfile.NotRegularError{Path: target + " on the server", Kind: atomicfile.Kind(fi.Mode())}
			}
			return nil
		})
	})
	return target, err
}

// sftpUpload writes the spool's bytes under a temporary name in the
// target's folder and renames it over the target, so a reader sees the old
// file or the new. The rename is the POSIX one (posix-rename@openssh.com)
// when the server offers it, which replaces the target in one step; else
// the target is removed first, leaving a moment with no file.
func (s *Store) sftpUpload(ctx context.Context, loc location, spool *os.File, size int64) error {
	target, err := s.sftpOutputTarget(ctx, loc)
	if err != nil {
		return err
	}
	return s.do(ctx, "write "+Redact(loc.raw), func(ctx context.Context) error {
		return s.sftpDo(ctx, loc, func(c *sftp.Client) error {
			dir := path.Dir(target)
			if err := c.MkdirAll(dir); err != nil {
				return fmt.Errorf("make folder %s: %w", dir, err)
			}
			var rnd [6]byte
			if _, err := rand.Read(rnd[:]); err != nil {
				return err
			}
			tmp := path.Join(dir, "."+path.Base(target)+"."+hex.EncodeToString(rnd[:])+".tmp")
			f, err := c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
			if err != nil {
				return fmt.Errorf("create %s: %w", tmp, err)
			}
			landed := false
			defer func() {
				if !landed {
					c.Remove(tmp)
				}
			}()
			n, err := f.ReadFrom(io.NewSectionReader(spool, 0, size))
			if err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if n != size {
				return fmt.Errorf("wrote %d bytes of %d", n, size)
			}
			if _, ok := c.HasExtension("posix-rename@openssh.com"); ok {
				err = c.PosixRename(tmp, target)
			} else {
				if rerr := c.Remove(target); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
					return rerr
				}
				err = c.Rename(tmp, target)
			}
			if err != nil {
				return fmt.Errorf("rename into place: %w", err)
			}
			landed = true
			return nil
		})
	})
}

// sftpList lists the regular files in dir whose names match glob.
func (s *Store) sftpList(ctx context.Context, loc location, dir, glob string) ([]candidate, error) {
	read := dir
	if read == "" {
		read = "."
	}
	var out []candidate
	err := s.do(ctx, "list "+Redact(loc.raw), func(ctx context.Context) error {
		return s.sftpDo(ctx, loc, func(c *sftp.Client) error {
			out = out[:0]
			entries, err := c.ReadDirContext(ctx, read)
			if err != nil {
				return sftpErr(err)
			}
			for _, fi := range entries {
				if ok, _ := path.Match(glob, fi.Name()); !ok {
					continue
				}
				if fi.Mode()&fs.ModeSymlink != 0 {
					if fi, err = c.Stat(dir + fi.Name()); err != nil {
						continue
					}
				}
				if fi.Mode().IsRegular() {
					out = append(out, candidate{name: dir + fi.Name(), mod: fi.ModTime()})
				}
			}
			return nil
		})
	})
	return out, err
}
