package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestScrubberReplacesEverySpelling(t *testing.T) {
	const tok = `Atzr|IwEB/a+b=c"d<e>&f`
	s := New()
	s.Add(tok, "short", "")
	q, _ := json.Marshal(tok)
	for _, tc := range []struct{ name, text string }{
		{"as is", "bearer " + tok + " refused"},
		{"form-encoded", "the request was: grant_type=refresh_token&refresh_token=" + url.QueryEscape(tok)},
		{"path-escaped", "/v1/x/" + url.PathEscape(tok)},
		{"JSON", `{"message":` + string(q) + `}`},
		{"Go-quoted", fmt.Sprintf("oauth2: %q", "bad "+tok)},
		{"twice", tok + tok},
	} {
		got := s.String(tc.text)
		if strings.Contains(got, "IwEB") || !strings.Contains(got, Redacted) {
			t.Errorf("%s: got %q, want the secret redacted", tc.name, got)
		}
	}
	if got := s.String("a short word"); got != "a short word" {
		t.Errorf("a value under %d bytes was scrubbed: %q", MinLen, got)
	}
}

func TestScrubberLearnsAsItGoes(t *testing.T) {
	var nothing *Scrubber
	nothing.Add("anything-at-all")
	if got := nothing.String("anything-at-all"); got != "anything-at-all" {
		t.Errorf("nil scrubber: got %q", got)
	}
	s := New()
	var out bytes.Buffer
	w := s.Writer(&out)
	fmt.Fprint(w, "token first-token-0001\n")
	s.Add("first-token-0001")
	fmt.Fprint(w, "token first-token-0001\n")
	s.Add("second-token-0002")
	if n, err := fmt.Fprint(w, "tokens first-token-0001 second-token-0002\n"); err != nil || n != 42 {
		t.Errorf("write: %d, %v; want the bytes given", n, err)
	}
	want := "token first-token-0001\ntoken " + Redacted + "\ntokens " + Redacted + " " + Redacted + "\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
	boom := errors.New("boom")
	if _, err := s.Writer(failing{boom}).Write([]byte("x")); !errors.Is(err, boom) {
		t.Errorf("got %v, want the underlying error", err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Add(fmt.Sprintf("concurrent-%d", i))
			_ = s.String("concurrent-1")
		}()
	}
	wg.Wait()
}

type failing struct{ err error }

func (f failing) Write([]byte) (int, error) { return 0, f.err }
