// Package secret keeps the secrets a process holds out of what it prints
// and writes. One Scrubber is built per process and told every secret as it
// becomes known (credentials as they are read, tokens as they are issued);
// it is applied where text leaves the process: the log and terminal
// streams, report cells, summaries and error messages. A server may repeat
// what it was sent (the posted token form, the Authorization header) in an
// error, so what comes from outside is scrubbed as much as what bulksync
// says itself. Printable, its other half, escapes the terminal controls
// such text may carry.
package secret

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Redacted stands in for a secret in scrubbed text.
const Redacted = "[redacted]"

// MinLen is the shortest value scrubbed: a shorter one would match ordinary
// words, and no credential is that short.
const MinLen = 6

// Scrubber replaces every secret it was told of, in each spelling a message
// may carry it in (as is, form- or path-encoded, JSON- or Go-quoted). It is
// safe for concurrent use; a nil Scrubber scrubs nothing.
type Scrubber struct {
	mu    sync.RWMutex
	known map[string]bool
	r     *strings.Replacer // nil until a secret is known
}

// New returns a Scrubber that knows no secret yet.
func New() *Scrubber { return &Scrubber{known: map[string]bool{}} }

// Add tells the Scrubber of secrets; empty and short values are ignored.
func (s *Scrubber) Add(secrets ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	added := false
	for _, v := range secrets {
		if len(v) >= MinLen && !s.known[v] {
			s.known[v], added = true, true
		}
	}
	if !added {
		return
	}
	var forms []string
	seen := map[string]bool{}
	for v := range s.known {
		for _, f := range spellings(v) {
			if len(f) >= MinLen && !seen[f] {
				seen[f] = true
				forms = append(forms, f)
			}
		}
	}
	// The longest spelling first: where two start at one place, the whole
	// of the longer goes.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Redacted)
	}
	s.r = strings.NewReplacer(pairs...)
}

// spellings are the forms a secret takes in the messages of its process:
// as is, form-encoded (a token grant's body), path-escaped, and quoted as
// JSON (with and without HTML escapes) and as Go does (%q).
func spellings(v string) []string {
	out := []string{v, url.QueryEscape(v), url.PathEscape(v), unquote(strconv.Quote(v))}
	if b, err := json.Marshal(v); err == nil {
		out = append(out, unquote(string(b)))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		out = append(out, unquote(strings.TrimSpace(buf.String())))
	}
	return out
}

func unquote(q string) string { return strings.TrimSuffix(strings.TrimPrefix(q, `"`), `"`) }

// String returns text with every known secret replaced by Redacted.
func (s *Scrubber) String(text string) string {
	if r := s.replacer(); r != nil {
		return r.Replace(text)
	}
	return text
}

func (s *Scrubber) replacer() *strings.Replacer {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.r
}

// Writer returns w with every write scrubbed. A secret is found within one
// write: the streams it wraps are written a whole message at a time (a log
// line, a report record, an error).
func (s *Scrubber) Writer(w io.Writer) io.Writer { return &writer{s: s, w: w} }

type writer struct {
	s *Scrubber
	w io.Writer
}

func (x *writer) Write(p []byte) (int, error) {
	r := x.s.replacer()
	if r == nil {
		return x.w.Write(p)
	}
	out := r.Replace(string(p))
	if _, err := io.WriteString(x.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}
