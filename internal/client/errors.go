package client

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

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

// Temporary reports whether a later attempt may succeed: throttling, the
// server's own failures, and answers nobody can read.
func (e *APIError) Temporary() bool {
	switch e.Status {
	case 429, 500, 502, 503, 504:
		return true
	}
	return e.Unexpected
}

// AuthFailure reports whether the credentials were refused.
func (e *APIError) AuthFailure() bool { return e.Status == 401 || e.Status == 403 && !e.Refused }

// TokenError is a failure to get an access token from the token endpoint.
type TokenError struct{ Err error }

func (e *TokenError) Error() string {
	if s := e.status(); s >= 300 && s < 400 {
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

// status is the token endpoint's answer, or 0 when it gave none.
func (e *TokenError) status() int {
	if re := e.retrieve(); re != nil {
		return re.Response.StatusCode
	}
	return 0
}

// Temporary reports whether a later fetch may succeed: no answer, 429, or
// the endpoint's own failure.
func (e *TokenError) Temporary() bool {
	s := e.status()
	return s == 0 || s == 429 || s >= 500
}

// AuthFailure reports whether the token endpoint refused the grant itself
// (invalid_grant, invalid_client), as opposed to failing to answer.
func (e *TokenError) AuthFailure() bool {
	re := e.retrieve()
	if re == nil {
		return false
	}
	switch re.ErrorCode {
	case "invalid_grant", "invalid_client", "unauthorized_client":
		return true
	}
	return re.Response.StatusCode == 400 || re.Response.StatusCode == 401
}

// Failure is what an error means to a run, decided in one place for every
// use: whether to retry, the metrics label, the report's error_type, and
// whether the run must stop because the credentials were refused.
type Failure struct {
	Status     int           // HTTP status the server sent; 0 when it sent none
	Retry      bool          // a later attempt may succeed
	RetryAfter time.Duration // the least wait the server asked for
	Throttled  bool          // answered 429
	Auth       bool          // credentials refused: no later call can succeed
	// MayHaveApplied is set when a write may have taken effect although it
	// failed: no answer, the server's own failure, or an answer nobody can
	// read. Only a re-read says what happened.
	MayHaveApplied bool
	Type           string // the report's error_type
	Message        string // the report's error_message: the API's message, or what went wrong
	Label          string // the metrics status label: 2xx, the status, or none
}

// Classify says what err means. A nil err is a success.
func Classify(err error) Failure {
	if err == nil {
		return Failure{Label: "2xx"}
	}
	var ae *APIError
	if errors.As(err, &ae) {
		f := Failure{Status: ae.Status, Retry: ae.Temporary(), Throttled: ae.Status == 429, Auth: ae.AuthFailure(),
			Label: strconv.Itoa(ae.Status), Type: ae.Type, Message: ae.Message}
		if f.Message == "" {
			f.Message = strconv.Itoa(ae.Status) + " " + http.StatusText(ae.Status)
		}
		if f.Retry {
			f.RetryAfter = ae.RetryAfter
			f.MayHaveApplied = ae.Status >= 500 || ae.Unexpected
		}
		switch {
		case ae.Unexpected:
			f.Type = "UNEXPECTED_ANSWER"
		case f.Type == "":
			f.Type = fmt.Sprintf("HTTP_%d", ae.Status)
		}
		return f
	}
	var te *TokenError
	if errors.As(err, &te) {
		return Failure{Retry: te.Temporary(), Auth: te.AuthFailure(), Type: "TOKEN", Label: "none", Message: te.Error()}
	}
	f := Failure{Label: "none", Type: "TRANSPORT", Message: err.Error()}
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		f.Type = "CANCELED"
		return f
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		f.Type = "TIMEOUT"
		f.Retry, f.MayHaveApplied = true, true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		f.Retry, f.MayHaveApplied = true, true
	default:
		var oe *net.OpError
		f.Retry = errors.As(err, &oe)
		f.MayHaveApplied = f.Retry
		if !f.Retry {
			f.Type = "ERROR" // not from the network: a local refusal, say
		}
	}
	return f
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int { return Classify(err).Status }

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

// clip cuts s to maxEcho bytes (on a rune boundary), saying it did.
func clip(s string) string {
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
