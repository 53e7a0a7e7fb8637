package client

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bulksync/bulksync/internal/secret"
	"golang.org/x/oauth2"
)

// APIError is an answer the operation did not succeed with: a refusal with
// its HTTP status, the Error object's type and message and the Retry-After it
// asked for (zero when none), or a success status or body the operation does
// not document (Unexpected).
type APIError struct {
	Status     int
	Type       string
	Message    string
	RetryAfter time.Duration
	Method     string
	Path       string
	// Unexpected marks a 2xx the operation does not document (another
	// status, or a body that is not the documented JSON): nobody can say
	// whether the call took effect.
	Unexpected bool
	// Refused marks an answer that lists what it refuses (the In-Skill
	// Product APIs' violations): a 403 of that kind refuses the request (a
	// live product, say), not the credentials.
	Refused bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Type != "" {
		fmt.Fprintf(&b, ": %s", e.Type)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// TokenError is a failure to get an access token from the token endpoint.
type TokenError struct{ Err error }

func (e *TokenError) Error() string {
	if s := e.Status(); s >= 300 && s < 400 {
		return "get access token: " + redirected(e.retrieve().Response)
	}
	return "get access token: " + clip(e.Err.Error())
}

func (e *TokenError) Unwrap() error { return e.Err }

func (e *TokenError) retrieve() *oauth2.RetrieveError {
	var re *oauth2.RetrieveError
	if errors.As(e.Err, &re) && re.Response != nil {
		return re
	}
	return nil
}

// Status is the token endpoint's answer, or 0 when it gave none.
func (e *TokenError) Status() int {
	if re := e.retrieve(); re != nil {
		return re.Response.StatusCode
	}
	return 0
}

// Code is the OAuth error code the token endpoint answered with
// (invalid_grant, …), or "".
func (e *TokenError) Code() string {
	if re := e.retrieve(); re != nil {
		return re.ErrorCode
	}
	return ""
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func newAPIError(resp *http.Response, body []byte) *APIError {
	e := &APIError{
		Status:     resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Method:     resp.Request.Method,
		Path:       resp.Request.URL.Path,
	}
	// Smart Properties send {"type","message"}; the In-Skill Product APIs
	// {"code","message"} (the reference page says {"id","message"}) or, for
	// 400 and 403, {"message","violations":[{"code","message"}]}.
	var obj struct {
		Type       string `json:"type"`
		Code       string `json:"code"`
		ID         string `json:"id"`
		Message    string `json:"message"`
		Violations []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"violations"`
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		e.Type, e.Message = "REDIRECT", redirected(resp)
	case json.Unmarshal(body, &obj) == nil && (obj.Type != "" || obj.Code != "" || obj.ID != "" || obj.Message != "" || len(obj.Violations) > 0):
		e.Type = clip(cmp.Or(obj.Type, obj.Code, obj.ID))
		msgs := []string{}
		if obj.Message != "" {
			msgs = append(msgs, obj.Message)
		}
		for _, v := range obj.Violations {
			e.Type = cmp.Or(e.Type, clip(v.Code))
			if v.Message != "" && v.Message != obj.Message {
				msgs = append(msgs, v.Message)
			}
		}
		e.Message, e.Refused = clip(strings.Join(msgs, "; ")), len(obj.Violations) > 0
	case len(body) > 0:
		e.Message = "answer is not an Error object: " + strings.TrimSpace(snippet(body))
	}
	return e
}

// redirected says where a redirect led, by host only (a Location may carry
// anything in its query).
func redirected(resp *http.Response) string {
	where := "nowhere (no Location)"
	if loc, err := resp.Location(); err == nil {
		where = loc.Scheme + "://" + loc.Host
	}
	return fmt.Sprintf("answered %d, a redirect to %s; bulksync follows no redirect (it would carry the credentials along): point it at the API itself",
		resp.StatusCode, where)
}

// maxEcho bounds any value an error message repeats from an answer.
const maxEcho = 300

// clip cuts s to maxEcho bytes (on a rune boundary), saying it did, with
// control characters escaped (printable).
func clip(s string) string {
	s = printable(s)
	if len(s) <= maxEcho {
		return s
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}

// parseRetryAfter reads delay-seconds or an HTTP date; anything else is zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// printable is an answer's text as it may be shown (secret.Printable).
func printable(s string) string { return secret.Printable(s) }
