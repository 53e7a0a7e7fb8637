// Package storage opens a path or URL for reading or writing, whole or not
// at all, and tells what changed between two reads. It knows nothing of
// what is in the file.
//
// A path is a local file, or one of these URLs:
//
//	s3://BUCKET/KEY?QUERY       gocloud.dev/blob/s3blob (its query parameters, e.g. endpoint, region, use_path_style)
//	gs://BUCKET/KEY             gocloud.dev/blob/gcsblob
//	azblob://CONTAINER/KEY      gocloud.dev/blob/azureblob (e.g. domain, protocol, localemu, storage_account)
//	sftp://USER@HOST[:PORT]/PATH   /abs/path is absolute, /~/rel is relative to the login folder
//
// Cloud credentials come from each SDK's own environment; SFTP's from
// BULKSYNC_SFTP_* (see Options.Env). "-" (standard input or output) is the
// caller's: here it is a file named "-".
package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"

	"github.com/bulksync/bulksync/internal/atomicfile"
)

// Options configure a Store.
type Options struct {
	// Env looks up BULKSYNC_SFTP_KEY_FILE, BULKSYNC_SFTP_PASSWORD,
	// BULKSYNC_SFTP_PASSWORD_FILE and BULKSYNC_SFTP_KNOWN_HOSTS, and the
	// secrets scrubbed from every message; nil is os.Getenv. The cloud SDKs
	// read their own standard variables from the process environment.
	Env func(string) string
	// TempDir holds spool files; "" is the system's default.
	TempDir string
	// Timeout bounds one attempt of one remote operation; 0 is none.
	Timeout time.Duration
	// Retry runs one remote operation under the caller's retry and back-off
	// policy; Temporary tells which errors are worth another attempt. nil
	// runs each operation once.
	Retry func(ctx context.Context, what string, op func(context.Context) error) error
}

// Store opens paths and URLs. It keeps one connection per bucket and per
// SFTP server for its lifetime; Close closes them. A Store is safe for
// concurrent use.
type Store struct {
	opts    Options
	secrets []string // scrubbed from every message

	mu      sync.Mutex
	buckets map[string]*blob.Bucket // by bucket URL
	sftps   map[string]*sftpConn    // by user@host:port
}

// New returns a Store.
func New(opts Options) *Store {
	if opts.Env == nil {
		opts.Env = os.Getenv
	}
	s := &Store{
		opts:    opts,
		buckets: map[string]*blob.Bucket{},
		sftps:   map[string]*sftpConn{},
	}
	s.secrets = Secrets(opts.Env)
	return s
}

// Close closes the connections the Store holds.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for k, b := range s.buckets {
		errs = append(errs, b.Close())
		delete(s.buckets, k)
	}
	for k, c := range s.sftps {
		errs = append(errs, c.close())
		delete(s.sftps, k)
	}
	return errors.Join(errs...)
}

// Info describes one object or file as it was seen.
type Info struct {
	Name    string    // the path, redacted, for messages
	Size    int64     // bytes
	ModTime time.Time // last modified, as the store tells it
	// Version changes whenever the content may have: an ETag (S3, Azure),
	// a generation (GCS), or size and modification time (local, SFTP). ""
	// for a pipe or device, where no change can be told.
	Version string
}

// WriteMode says how a local output is written. A remote output is always
// whole or not at all, whatever the mode.
type WriteMode int

const (
	// Atomic writes a temporary file beside the target, synced and renamed
	// over it at Commit, so a reader or a crash sees the old file or the new.
	Atomic WriteMode = iota
	// Stream writes the target in place as it goes, so a run killed half way
	// leaves a readable file (the per-row report).
	Stream
)

// Sentinels that errors.Is finds in a storage error.
var (
	// ErrNotFound: the file or object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrHostKey: an SFTP server's host key could not be checked, is unknown
	// or does not match BULKSYNC_SFTP_KNOWN_HOSTS.
	ErrHostKey = errors.New("host key refused")
	// ErrNotRegular: an output path exists and is not a regular file.
	ErrNotRegular = atomicfile.ErrNotRegular
	// ErrChanged: the source changed after it was read.
	ErrChanged = errors.New("changed since it was read")
	// ErrNoMatch: Newest found nothing that matches its pattern.
	ErrNoMatch = errors.New("nothing matches")
	// ErrBadPath: a path or URL bulksync can't use as it is written.
	ErrBadPath = errors.New("unusable path")
)

// Error is every error this package returns: what was done, to which path
// (redacted), and why. Its message never holds a secret the Store knows.
type Error struct {
	Op   string // "read", "stat", "list", "write", ...
	Name string // the path, redacted
	Err  error

	secrets []string
}

func (e *Error) Error() string {
	return scrub(e.Op+" "+e.Name+": "+e.Err.Error(), e.secrets)
}

func (e *Error) Unwrap() error { return e.Err }

// Cause is what went wrong, without the operation and the path.
func (e *Error) Cause() string { return scrub(e.Err.Error(), e.secrets) }

// fail wraps err in an *Error for path, unless it already is one.
func (s *Store) fail(op, path string, err error) error {
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	secrets := s.secrets
	if loc, perr := parse(path); perr == nil && len(loc.password) >= minSecret {
		secrets = append([]string{loc.password}, secrets...)
	}
	return &Error{Op: op, Name: Redact(path), Err: err, secrets: secrets}
}

// Temporary reports whether another attempt at the operation that failed
// with err might succeed: a timeout, a lost connection, a server's 5xx. A
// missing object, a refused host key or credentials, a bad path or the
// caller's cancellation are not.
func Temporary(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrHostKey), errors.Is(err, ErrNotRegular),
		errors.Is(err, ErrNoMatch), errors.Is(err, ErrBadPath), errors.Is(err, errAuth),
		errors.Is(err, fs.ErrPermission):
		return false
	}
	if temporary, known := sftpTemporary(err); known {
		return temporary
	}
	if temporary, known := blobTemporary(err); known {
		return temporary
	}
	return true
}

// do runs one remote operation: each attempt bounded by Options.Timeout,
// the attempts by Options.Retry.
func (s *Store) do(ctx context.Context, what string, op func(context.Context) error) error {
	attempt := func(parent context.Context) error {
		if s.opts.Timeout <= 0 {
			return op(parent)
		}
		ctx, cancel := context.WithTimeout(parent, s.opts.Timeout)
		defer cancel()
		err := op(ctx)
		if err != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %s: %w", s.opts.Timeout, err)
		}
		return err
	}
	if s.opts.Retry == nil {
		return attempt(ctx)
	}
	return s.opts.Retry(ctx, what, attempt)
}

// IsURL reports whether path is a URL (SCHEME://...) rather than a local
// path. Only s3, gs, azblob and sftp are opened; another scheme is refused,
// not taken for a local file.
func IsURL(path string) bool {
	i := strings.Index(path, "://")
	if i <= 0 {
		return false
	}
	for j, r := range path[:i] {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (j == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return true
}

// backend kinds
const (
	localKind = iota
	blobKind
	sftpKind
)

// location is a parsed path.
type location struct {
	raw  string
	kind int
	u    *url.URL // for URLs

	bucketURL, key string // blob: scheme://bucket?query and the object's key

	user, password, hostport, remote string // sftp: remote is the server's path
}

// parse reads path as a local path or one of the URLs the package opens.
func parse(path string) (location, error) {
	loc := location{raw: path}
	if !IsURL(path) {
		if path == "" {
			return loc, fmt.Errorf("%w: empty path", ErrBadPath)
		}
		return loc, nil
	}
	u, err := url.Parse(path)
	if err != nil {
		return loc, fmt.Errorf("%w: not a valid URL", ErrBadPath)
	}
	loc.u = u
	switch u.Scheme {
	case "s3", "gs", "azblob":
		loc.kind = blobKind
		if u.User != nil {
			return loc, fmt.Errorf("%w: %s URLs take no user or password (credentials come from the environment)", ErrBadPath, u.Scheme)
		}
		if u.Host == "" {
			return loc, fmt.Errorf("%w: no bucket (%s://BUCKET/KEY)", ErrBadPath, u.Scheme)
		}
		loc.key = strings.TrimPrefix(u.Path, "/")
		if loc.key == "" || strings.HasSuffix(loc.key, "/") {
			return loc, fmt.Errorf("%w: names a folder, not an object (%s://BUCKET/KEY)", ErrBadPath, u.Scheme)
		}
		b := url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: u.RawQuery}
		loc.bucketURL = b.String()
	case "sftp":
		loc.kind = sftpKind
		if u.User == nil || u.User.Username() == "" {
			return loc, fmt.Errorf("%w: no user (sftp://USER@HOST[:PORT]/PATH)", ErrBadPath)
		}
		if u.Hostname() == "" {
			return loc, fmt.Errorf("%w: no host (sftp://USER@HOST[:PORT]/PATH)", ErrBadPath)
		}
		if u.RawQuery != "" {
			return loc, fmt.Errorf("%w: sftp URLs take no query parameters", ErrBadPath)
		}
		loc.user = u.User.Username()
		loc.password, _ = u.User.Password()
		port := u.Port()
		if port == "" {
			port = "22"
		}
		loc.hostport = net.JoinHostPort(u.Hostname(), port)
		loc.remote = sftpPath(u.Path)
		if loc.remote == "" || loc.remote == "/" || strings.HasSuffix(loc.remote, "/") {
			return loc, fmt.Errorf("%w: names a folder, not a file (sftp://USER@HOST/PATH)", ErrBadPath)
		}
	default:
		return loc, fmt.Errorf("%w: scheme %q is not one of s3, gs, azblob, sftp", ErrBadPath, u.Scheme)
	}
	return loc, nil
}

// withKey returns loc's URL naming another object or file in the same
// bucket or server; name is the key (blob) or the server's path (sftp).
func (loc location) withName(name string) string {
	u := *loc.u
	switch loc.kind {
	case sftpKind:
		if !strings.HasPrefix(name, "/") {
			name = "/~/" + name
		}
		u.Path = name
	default:
		u.Path = "/" + name
	}
	u.RawPath = ""
	return u.String()
}

// Stat tells what path holds now, without reading it.
func (s *Store) Stat(ctx context.Context, path string) (Info, error) {
	loc, err := parse(path)
	if err != nil {
		return Info{}, s.fail("stat", path, err)
	}
	var info Info
	switch loc.kind {
	case blobKind:
		info, err = s.blobStat(ctx, loc)
	case sftpKind:
		info, err = s.sftpStat(ctx, loc)
	default:
		info, err = localStat(path)
	}
	if err != nil {
		return Info{}, s.fail("stat", path, err)
	}
	info.Name = Redact(path)
	return info, nil
}

// Open reads path. A remote object is streamed into a spool file (gone from
// the folder at once) so that a second pass reads the same bytes without
// holding them in memory; a local regular file is read where it is. The
// Object's Info is that of the bytes actually read.
func (s *Store) Open(ctx context.Context, path string) (*Object, error) {
	loc, err := parse(path)
	if err != nil {
		return nil, s.fail("read", path, err)
	}
	var o *Object
	switch loc.kind {
	case blobKind:
		o, err = s.blobOpen(ctx, loc)
	case sftpKind:
		o, err = s.sftpOpen(ctx, loc)
	default:
		o, err = s.localOpen(path)
	}
	if err != nil {
		return nil, s.fail("read", path, err)
	}
	o.s, o.path, o.info.Name = s, path, Redact(path)
	return o, nil
}

// Create starts writing path. Nothing is visible at a remote path, nor at a
// local one in Atomic mode, until Commit; Abort leaves the old content.
// A local path that exists and is not a regular file (a folder, a device, a
// FIFO, a socket) is refused before anything is written; a symbolic link is
// written through to its target and stays a link. Missing folders are
// created.
func (s *Store) Create(ctx context.Context, path string, mode WriteMode) (*Writer, error) {
	loc, err := parse(path)
	if err != nil {
		return nil, s.fail("write", path, err)
	}
	w := &Writer{s: s, loc: loc, name: Redact(path)}
	switch {
	case loc.kind != localKind:
		// Checked now so that a doomed output fails before the run starts,
		// not after it.
		if err := s.checkRemoteOutput(ctx, loc); err != nil {
			return nil, s.fail("write", path, err)
		}
		w.spool, err = s.spoolFile()
	case mode == Stream:
		w.stream, err = createStream(path)
	default:
		w.atomic, err = atomicfile.Create(path)
	}
	if err != nil {
		return nil, s.fail("write", path, err)
	}
	return w, nil
}

// checkRemoteOutput connects to where a remote output goes, so that bad
// credentials or a refused host key show before any work is done.
func (s *Store) checkRemoteOutput(ctx context.Context, loc location) error {
	if loc.kind == sftpKind {
		_, err := s.sftpOutputTarget(ctx, loc)
		return err
	}
	_, err := s.bucket(ctx, loc)
	return err
}

// Newest returns the newest file or object that pattern matches, by
// modification time, the greater name winning a tie. Only the last segment
// of pattern may hold wildcards (path.Match): s3://pms/exports/rooms-*.csv,
// sftp://u@h/in/rooms-*.csv, /data/rooms-*.csv. The path returned is in
// pattern's form (a URL keeps its query).
func (s *Store) Newest(ctx context.Context, pattern string) (string, Info, error) {
	loc, dir, glob, err := parsePattern(pattern)
	if err != nil {
		return "", Info{}, s.fail("find newest", pattern, err)
	}
	var found []candidate
	switch loc.kind {
	case blobKind:
		found, err = s.blobList(ctx, loc, dir, glob)
	case sftpKind:
		found, err = s.sftpList(ctx, loc, dir, glob)
	default:
		found, err = localList(dir, glob)
	}
	if err != nil {
		return "", Info{}, s.fail("find newest", pattern, err)
	}
	best, ok := newest(found)
	if !ok {
		return "", Info{}, s.fail("find newest", pattern, ErrNoMatch)
	}
	path := best.name
	if loc.kind != localKind {
		path = loc.withName(best.name)
	}
	info, err := s.Stat(ctx, path)
	return path, info, err
}

// candidate is one match of a Newest pattern.
type candidate struct {
	name string // key, server path or local path
	mod  time.Time
}

// newest picks the latest modification time; of equal times, the greater
// name, so that rooms-20261202.csv beats rooms-20261201.csv written in the
// same second.
func newest(cs []candidate) (candidate, bool) {
	var best candidate
	for i, c := range cs {
		if i == 0 || c.mod.After(best.mod) || c.mod.Equal(best.mod) && c.name > best.name {
			best = c
		}
	}
	return best, len(cs) > 0
}

// parsePattern splits a Newest pattern into its location, the folder
// (local path, key prefix ending in "/" or "", server path) and the
// wildcard last segment.
func parsePattern(pattern string) (loc location, dir, glob string, err error) {
	loc, err = parse(pattern)
	if err != nil {
		return loc, "", "", err
	}
	var full string
	switch loc.kind {
	case blobKind:
		full = loc.key
	case sftpKind:
		full = loc.remote
	default:
		full = strings.ReplaceAll(pattern, string(os.PathSeparator), "/")
	}
	i := strings.LastIndex(full, "/")
	dir, glob = full[:i+1], full[i+1:]
	if strings.ContainsAny(dir, "*?[") {
		return loc, "", "", fmt.Errorf("%w: only the last part of a pattern may hold wildcards (*, ?, [...])", ErrBadPath)
	}
	if glob == "" {
		return loc, "", "", fmt.Errorf("%w: the pattern names a folder, not files", ErrBadPath)
	}
	if _, err := path.Match(glob, ""); err != nil {
		return loc, "", "", fmt.Errorf("%w: %v", ErrBadPath, err)
	}
	if loc.kind == localKind {
		dir = pattern[:i+1]
	}
	return loc, dir, glob, nil
}
