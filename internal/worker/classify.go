package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/bulksync/bulksync/internal/client"
)

// Failure is what an error means to a run, decided in one place for every
// use: whether to retry, the metrics label, the report's error_type, and
// whether the run must stop because the credentials were refused. The
// client only says what happened (*client.APIError, *client.TokenError).
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
	var ae *client.APIError
	if errors.As(err, &ae) {
		return classifyAnswer(ae)
	}
	var te *client.TokenError
	if errors.As(err, &te) {
		// Only a refused grant refuses the credentials; an endpoint that is
		// down, throttling or unreachable is worth another try.
		s := te.Status()
		auth := s == 400 || s == 401
		switch te.Code() {
		case "invalid_grant", "invalid_client", "unauthorized_client":
			auth = true
		}
		return Failure{Retry: s == 0 || s == 429 || s >= 500, Auth: auth, Type: "TOKEN", Label: "none", Message: te.Error()}
	}
	f := Failure{Label: "none", Type: "TRANSPORT", Message: err.Error()}
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		f.Type = "CANCELED"
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

// classifyAnswer is what an answer the operation did not succeed with
// means: throttling, the server's own failures and answers nobody can read
// are worth another try; a 401, or a 403 that refuses the caller rather
// than listing what it refuses, refuses the credentials.
func classifyAnswer(ae *client.APIError) Failure {
	f := Failure{Status: ae.Status, Throttled: ae.Status == 429, Auth: ae.Status == 401 || ae.Status == 403 && !ae.Refused,
		Label: strconv.Itoa(ae.Status), Type: ae.Type, Message: ae.Message}
	switch ae.Status {
	case 429, 500, 502, 503, 504:
		f.Retry = true
	}
	f.Retry = f.Retry || ae.Unexpected
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
