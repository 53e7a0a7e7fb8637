// Package client is the typed Alexa Smart Properties REST API: one method per
// operation, request and response structs, and *APIError for every refusal.
// It makes exactly one HTTP request per call: retries and rate limits belong
// to the worker.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulksync/bulksync/internal/secret"
	"golang.org/x/oauth2"
)

// Region hosts of the Smart Properties APIs (api/NOTES.md).
var regionHosts = map[string]string{
	"NA": "https://api.amazonalexa.com",
	"EU": "https://api.eu.amazonalexa.com",
	"FE": "https://api.fe.amazonalexa.com",
}

// maxBody bounds every response body we read: the API's answers are small,
// and a misbehaving proxy must not make us buffer gigabytes.
const maxBody = 4 << 20

// Options configure a Client.
type Options struct {
	Region     string             // NA (default), EU or FE
	Endpoint   string             // overrides Region; https unless the host is loopback
	Token      oauth2.TokenSource // bearer tokens; nil sends no Authorization header
	HTTPClient *http.Client       // base client; its Transport is wrapped for auth
	UserAgent  string             // sent on every request
	Timeout    time.Duration      // per request; 0 means none beyond the context
	// Secrets, when set, are replaced in every answer before anything is
	// made of it: a server that echoes the Authorization header in an error
	// must not put the token into a message, which may then be cut where a
	// later scrub could no longer recognise it.
	Secrets *secret.Scrubber
}

// Client calls the APIs of one host. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	hc      *http.Client
	ua      string
	tokens  oauth2.TokenSource // nil: no Authorization header
	secrets *secret.Scrubber

	// A run makes tens of thousands of calls, and the garbage each leaves
	// is what the collector spends its time on: what every request
	// carries is worked out once.
	prefix, query      string      // the base URL around an operation's path
	header, bodyHeader http.Header // of a request without and with a body
	bearer             atomic.Pointer[bearer]
}

// bearer is the Authorization value of the last token used.
type bearer struct{ token, value string }

// New checks the endpoint and builds a Client.
func New(o Options) (*Client, error) {
	base, err := Endpoint(o.Region, o.Endpoint)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{}
	if o.HTTPClient != nil {
		*hc = *o.HTTPClient
	} else {
		// http.DefaultTransport keeps 2 idle connections per host: with 8 or
		// more calls in flight every other call would dial anew.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 128
		hc.Transport = t
	}
	if hc.Timeout == 0 {
		hc.Timeout = o.Timeout
	}
	hc.CheckRedirect = refuseRedirect
	ua := o.UserAgent
	if ua == "" {
		ua = "bulksync"
	}
	c := &Client{base: base, hc: hc, ua: ua, tokens: o.Token, secrets: o.Secrets}
	pre := *base
	pre.RawQuery, pre.ForceQuery, pre.Fragment, pre.RawFragment = "", false, "", ""
	c.prefix = pre.String()
	if base.RawQuery != "" {
		c.query = "?" + base.RawQuery
	}
	c.header = http.Header{"Accept": {"application/json"}, "User-Agent": {ua}}
	if o.Token != nil {
		c.header["Authorization"] = []string{""} // filled in per request
	}
	c.bodyHeader = c.header.Clone()
	c.bodyHeader["Content-Type"] = []string{"application/json"}
	return c, nil
}

// Endpoint resolves the API base URL from a region or an explicit endpoint,
// refusing plain http to anything but a loopback host: tokens travel on it.
func Endpoint(region, endpoint string) (*url.URL, error) {
	if endpoint == "" {
		if region == "" {
			region = "NA"
		}
		host, ok := regionHosts[strings.ToUpper(region)]
		if !ok {
			return nil, fmt.Errorf("unknown region %q: want NA, EU or FE", region)
		}
		endpoint = host
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	switch {
	case u.Host == "":
		return nil, fmt.Errorf("endpoint %q: no host", endpoint)
	case strings.HasSuffix(u.Host, ":"):
		// Go would dial the scheme's port: "http://127.0.0.1:" is not port 80.
		return nil, fmt.Errorf("endpoint %q: empty port: give a port number, or no colon", endpoint)
	case u.Scheme == "https":
	case u.Scheme == "http" && IsLoopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("endpoint %q: plain http is allowed only to a loopback host; use https", endpoint)
	default:
		return nil, fmt.Errorf("endpoint %q: scheme must be https", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// IsLoopback reports whether host names this machine (localhost or a loopback IP).
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// do sends one request. It succeeds only on the status the operation
// documents (want), decoding the JSON answer into out when out is non-nil;
// any other 2xx, or a body that is not the documented JSON, is an
// Unexpected *APIError: the call may or may not have taken effect. An
// extra, when given, adds a query and headers and keeps the answer's headers.
func (c *Client) do(ctx context.Context, method, path string, want int, body, out any, x ...*extra) error {
	status, data, err := c.send(ctx, method, path, body, x...)
	if err != nil {
		return err
	}
	if status != want {
		return unexpected(method, path, status, data, fmt.Sprintf("answered %d where the operation documents %d", status, want))
	}
	if out == nil {
		return noBody(method, path, status, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return unexpected(method, path, status, data, "answer is not the documented JSON: "+err.Error())
	}
	return nil
}

// noBody accepts the answer of an operation that documents no body. An
// empty one, or JSON (an empty object, say), reads as that; anything else
// (a proxy's HTML page) is not the API's answer.
func noBody(method, path string, status int, data []byte) error {
	if len(bytes.TrimSpace(data)) > 0 && !json.Valid(data) {
		return unexpected(method, path, status, data, "answered with a body that is not JSON where the operation documents none")
	}
	return nil
}

// send makes one request and returns a 2xx answer's status and body; any
// other answer is an *APIError. It leaves to the caller which 2xx and
// which body the operation documents.
func (c *Client) send(ctx context.Context, method, path string, body any, x ...*extra) (int, []byte, error) {
	var rd io.Reader
	header := c.header
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode request: %w", err)
		}
		rd, header = bytes.NewReader(b), c.bodyHeader
	}
	// path is escaped already (pathEscape): it goes in as sent.
	target := c.prefix + path + c.query
	for _, e := range x {
		target = c.prefix + path
		if q := e.query.Encode(); q != "" {
			target += "?" + q
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header = header.Clone()
	for _, e := range x {
		for k, v := range e.header {
			if _, fixed := header[k]; !fixed { // what every request carries wins
				req.Header[k] = v
			}
		}
	}
	var tok *oauth2.Token
	if c.tokens != nil {
		if tok, err = token(ctx, c.tokens); err != nil {
			return 0, nil, &TokenError{Err: err}
		}
		req.Header["Authorization"][0] = c.authorization(tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, scrubURLError(err)
	}
	defer resp.Body.Close()
	// oauth2.Transport never looks at a 401; we drop exactly the token the
	// API refused, so concurrent 401s for one stale token cause one refresh.
	if resp.StatusCode == http.StatusUnauthorized && tok != nil {
		if inv, ok := c.tokens.(interface{ Invalidate(string) }); ok {
			inv.Invalidate(tok.AccessToken)
		}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if len(data) > maxBody {
		return 0, nil, fmt.Errorf("%s %s: answer larger than %d bytes", method, path, maxBody)
	}
	data = c.scrub(data)
	for _, e := range x {
		e.answer = resp.Header
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, nil, newAPIError(resp, data)
	}
	return resp.StatusCode, data, nil
}

// scrub replaces the secrets the client holds in an answer.
func (c *Client) scrub(data []byte) []byte {
	if c.secrets == nil {
		return data
	}
	if s := c.secrets.String(string(data)); s != string(data) {
		return []byte(s)
	}
	return data
}

// unexpected is a 2xx answer the operation does not document: nobody can
// say whether the call took effect.
func unexpected(method, path string, status int, data []byte, why string) *APIError {
	return &APIError{Status: status, Method: method, Path: path, Unexpected: true,
		Message: fmt.Sprintf("%s (body starts %q)", why, snippet(data))}
}

// authorization is the header value for tok, worked out once per token.
func (c *Client) authorization(tok *oauth2.Token) string {
	if b := c.bearer.Load(); b != nil && b.token == tok.AccessToken {
		return b.value
	}
	b := &bearer{token: tok.AccessToken, value: tok.Type() + " " + tok.AccessToken}
	c.bearer.Store(b)
	return b.value
}

// refuseRedirect makes a redirect the answer rather than a new request: Go
// would re-send the Authorization header (and a token grant's secrets) to
// wherever a 307 points, and turn a 302'd POST into a GET whose 200 looks
// like success. The 3xx answer is then an *APIError naming where it led.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// token gets an access token for one attempt. The attempt outlives the
// run's cancellation (a request in flight is better answered than
// abandoned), but nothing has been sent while the token is awaited, so
// that wait ends with the run too.
func token(ctx context.Context, ts oauth2.TokenSource) (*oauth2.Token, error) {
	cs, ok := ts.(interface {
		TokenContext(context.Context) (*oauth2.Token, error)
	})
	if !ok {
		return ts.Token()
	}
	if run, ok := ctx.Value(runKey{}).(context.Context); ok {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		defer context.AfterFunc(run, func() { cancel(context.Cause(run)) })()
	}
	return cs.TokenContext(ctx)
}

type runKey struct{}

// AttemptContext is the context of one attempt of a call made for run:
// it ends after timeout, but not when run ends, except while the attempt
// waits for an access token (nothing has been sent yet).
func AttemptContext(run context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithValue(context.WithoutCancel(run), runKey{}, run), timeout)
}

// scrubURLError keeps the cause of a transport error but not the request URL
// twice over, and never anything from headers (the oauth2 transport's errors
// can name the token endpoint, never the token).
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", strings.ToUpper(ue.Op), ue.URL, ue.Err)
	}
	return err
}

func snippet(b []byte) string {
	const n = 120
	if len(b) > n {
		b = b[:n]
	}
	return printable(string(b))
}

// pathEscape puts an id into a URL path as one segment: whatever the id
// holds ("/", "?", "#", "%"), it can't change the path it goes into.
func pathEscape(s string) string { return url.PathEscape(s) }
