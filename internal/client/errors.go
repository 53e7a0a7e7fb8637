package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// APIError is a refusal by the API: its HTTP status, the Error object's type
// and message, and the Retry-After it asked for (zero when none).
type APIError struct {
	Status     int
	Type       string
	Message    string
	RetryAfter time.Duration
	Method     string
	Path       string
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
	var obj struct {
		Type    string `json:"type"`
		ID      string `json:"id"` // In-Skill Product APIs name it id
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &obj); err == nil && (obj.Type != "" || obj.ID != "" || obj.Message != "") {
		e.Type, e.Message = obj.Type, obj.Message
		if e.Type == "" {
			e.Type = obj.ID
		}
	} else if len(body) > 0 {
		e.Message = "answer is not an Error object: " + strings.TrimSpace(snippet(body))
	}
	return e
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
