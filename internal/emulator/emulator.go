// Package emulator is a local stand-in for the Alexa Smart Properties APIs
// that bulksync drives: service provider onboarding, network mapping, account
// association and the Login with Amazon token endpoint, with the documented
// paths, bodies, status codes and Error objects, plus what a test needs of a
// real service: expiring tokens, a server-side rate limit, latency, faults on
// demand and call counts. It is written from the reference pages in api/ and
// shares no code with the client, so that it can catch the client's mistakes.
package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/bulksync/bulksync/internal/atomicfile"
)

// DefaultProvider is the provider created at start unless told otherwise.
const DefaultProvider = "amzn1.comms.csp.id.demo"

// The Login with Amazon client the token endpoint accepts by default.
const (
	DefaultClientID     = "emulator-client-id"
	DefaultClientSecret = "emulator-client-secret"
	DefaultRefreshToken = "emulator-refresh-token"
)

// Options configure an Emulator. The zero value is a fast, fault-free API
// with the demo provider and the default client.
type Options struct {
	StateFile    string        // load at start, save on change and on Close
	StaticToken  string        // a bearer token that is always accepted
	TokenTTL     time.Duration // lifetime of issued access tokens (default 1h, at least 1s)
	RPS          float64       // server-side limit, decided on arrival; beyond it 429 (0: none)
	Burst        int           // calls the limit lets through at once (default: RPS, at least 1)
	NoRetryAfter bool          // answer 429 without Retry-After
	RPSSchedule  string        // later limits, e.g. "6s:15,12s:30" (see ParseSchedule)
	Latency      time.Duration // added to every answer, with ±50% jitter
	PageSize     int           // page limit of queries (default 10)
	Faults       string        // e.g. "500:0.05,reset:0.01" (see ParseFaults)
	TokenFaults  string        // the same, for the token endpoint
	// TotalCount says what a query's paginationContext.totalCount counts:
	// "provider" (every association of the provider, the default) or
	// "matches" (the associations the filter matched). The reference page
	// allows either reading; tests run the client under both.
	TotalCount   string
	Seed         uint64        // seeds the fault sequence, so a run can be replayed
	SlowDelay    time.Duration // how late a "slow" answer comes (default 35s)
	SeedProvider string        // created at start (default DefaultProvider; "-" for none)
	ClientID     string        // accepted LWA client (default DefaultClientID)
	ClientSecret string
	RefreshToken string // accepted refresh token (default DefaultRefreshToken)
	// RotateRefreshTokens makes each grant answer a new refresh token and
	// forget the old one, as Login with Amazon may.
	RotateRefreshTokens bool
	Now                 func() time.Time // clock for token expiry and the rate limit (default time.Now)
	// ISPPageSize is the most results one page of an in-skill product list
	// holds (default and at most 100: the API may answer fewer than asked).
	ISPPageSize int
	// ISPFlatLists serves product lists flat, as the reference page shows
	// them, instead of in the SDK model's inSkillProductSummaryList wrapper.
	ISPFlatLists bool
	// ISPUpdateAnswers200 answers a product update 200 with the definition,
	// as the reference page says, instead of the SDK model's 204.
	ISPUpdateAnswers200 bool
	// SeedProducts creates this many demo products of DefaultVendor at start.
	SeedProducts int
	// Profiles are the units of the Communication Profile API and the
	// readings it plays where the notes are uncertain.
	Profiles ProfileOptions
	// OnAnswer, when set, is called after each call is answered (status
	// "reset" for a dropped connection), so a test can wait for the Nth
	// write instead of sleeping.
	OnAnswer func(op, status string)

	// The hostile and odd answers below are off by default. Each plays a
	// server the pages do not rule out, so the client can be tested under it.

	// EchoSecrets plays a server that repeats what it was sent in its
	// errors: a token endpoint error's error_description carries the posted
	// form, percent-encoded as sent and decoded (client_secret and
	// refresh_token included, and a Basic Authorization header), and every
	// API error's message (401, 403 and the rest) carries the request's
	// Authorization header. Nothing in the pages forbids it, and debugging
	// gateways do it.
	EchoSecrets bool
	// QueryAmazonIDType is what a query answer says in each association's
	// amazonIdType: "" the stored value; FieldOmitted ("omit") leaves the
	// field out, which the page allows since communication-profile is the
	// documented default; any other value is answered in its place, as a
	// server that spells the type its own way would. Writes still accept
	// communication-profile only.
	QueryAmazonIDType string
	// ISPBlankID corrupts the first entry of every in-skill product list
	// (position 0 in the listing's order, on whichever page holds it): its
	// productId, or in a product's skills list its skill id, is "" with
	// FieldEmpty ("empty"), or absent (null in associatedSkillIds) with
	// FieldOmitted ("omit"). The SDK model marks no field required, so a
	// client must check listed ids as it checks input. The product itself is
	// unchanged and its other fields are listed as usual.
	ISPBlankID string
	// EndlessPages plays a listing that never ends, on the association
	// query and on every in-skill product list: with PagesEmpty every page
	// brings a new token and pages past the end are empty; with PagesRepeat
	// every page brings a new token and the listing starts over past the
	// end; with PagesSameToken the last page is answered with the token it
	// was asked with, again and again. The pages promise no end, and
	// api/NOTES.md asks clients not to loop forever.
	EndlessPages string
}

// Values of Options.QueryAmazonIDType, Options.ISPBlankID and
// Options.EndlessPages.
const (
	FieldOmitted   = "omit"   // the field is left out of the answer
	FieldEmpty     = "empty"  // the field is there and empty
	PagesEmpty     = "empty"  // new tokens forever, empty pages past the end
	PagesRepeat    = "repeat" // new tokens forever, the listing again past the end
	PagesSameToken = "same"   // the last page repeats the token it was asked with
)

// Emulator is the in-memory API. It is an http.Handler.
type Emulator struct {
	opts        Options
	faults      []fault
	tokenFaults []fault
	mux         *http.ServeMux
	lim         *limiter // nil: no limit

	mu        sync.Mutex
	state     *state
	tokens    map[string]time.Time // access token -> expiry
	refresh   map[string]bool      // accepted refresh tokens
	rng       *mrand.Rand          // fault decisions only, so a seed replays them
	stats     map[string]map[string]int
	dirty     bool
	saveErr   error
	stopSaver chan struct{}
	saverDone chan struct{}
	closeOnce sync.Once
}

// New builds an Emulator, loading Options.StateFile when it exists.
func New(o Options) (*Emulator, error) {
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.TokenTTL < time.Second {
		// expires_in is whole seconds: 0 would read as a token that never expires.
		return nil, fmt.Errorf("token ttl %v: want at least 1s (expires_in is whole seconds)", o.TokenTTL)
	}
	if o.PageSize <= 0 {
		o.PageSize = 10
	}
	if o.SlowDelay <= 0 {
		o.SlowDelay = 35 * time.Second
	}
	if o.SeedProvider == "" {
		o.SeedProvider = DefaultProvider
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = DefaultClientSecret
	}
	if o.RefreshToken == "" {
		o.RefreshToken = DefaultRefreshToken
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	faults, err := ParseFaults(o.Faults)
	if err != nil {
		return nil, err
	}
	tokenFaults, err := ParseFaults(o.TokenFaults)
	if err != nil {
		return nil, fmt.Errorf("token faults: %w", err)
	}
	switch o.TotalCount {
	case "":
		o.TotalCount = "provider"
	case "provider", "matches":
	default:
		return nil, fmt.Errorf("total count %q: want provider or matches", o.TotalCount)
	}
	switch o.ISPBlankID {
	case "", FieldEmpty, FieldOmitted:
	default:
		return nil, fmt.Errorf("in-skill product blank id %q: want empty or omit", o.ISPBlankID)
	}
	switch o.EndlessPages {
	case "", PagesEmpty, PagesRepeat, PagesSameToken:
	default:
		return nil, fmt.Errorf("endless pages %q: want empty, repeat or same", o.EndlessPages)
	}
	if err := o.Profiles.check(); err != nil {
		return nil, err
	}
	e := &Emulator{
		opts:        o,
		faults:      faults,
		tokenFaults: tokenFaults,
		state:       newState(),
		tokens:      map[string]time.Time{},
		refresh:     map[string]bool{o.RefreshToken: true},
		rng:         mrand.New(mrand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		stats:       map[string]map[string]int{},
	}
	if e.lim, err = newLimiter(o); err != nil {
		return nil, err
	}
	if o.StateFile != "" {
		if err := e.state.load(o.StateFile); err != nil {
			return nil, err
		}
	}
	if o.SeedProvider != "-" {
		e.state.ensureProvider(o.SeedProvider, "demo")
		if p := e.state.Providers[o.SeedProvider]; len(p.DisplayName) == 0 {
			p.DisplayName = []displayName{{Locale: "en-US", Value: "Demo Property"}}
		}
	}
	for i := range o.SeedProducts {
		name := fmt.Sprintf("demo-product-%02d", i+1)
		if id := productID(DefaultVendor, name); e.state.Products[id] == nil {
			e.putProductLocked(DefaultVendor, id, demoDefinition(name))
		}
	}
	e.seedUnits()
	e.routes()
	if o.StateFile != "" {
		e.stopSaver = make(chan struct{})
		e.saverDone = make(chan struct{})
		go e.saver()
	}
	return e, nil
}

// ServeHTTP answers one request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isClean(r.URL.Path) {
		e.unrouted(w, r)
		return
	}
	e.mux.ServeHTTP(w, r)
}

// Close stops the saver and writes the state file one last time.
func (e *Emulator) Close() error {
	var err error
	e.closeOnce.Do(func() {
		if e.stopSaver != nil {
			close(e.stopSaver)
			<-e.saverDone
			err = e.Save()
		}
	})
	return err
}

// Save writes the state file now (atomically: a reader never sees half a file).
func (e *Emulator) Save() error {
	if e.opts.StateFile == "" {
		return nil
	}
	e.mu.Lock()
	data, err := e.state.marshal()
	e.dirty = false
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(e.opts.StateFile, data); err != nil {
		return fmt.Errorf("%w: %v", errStateFile, err)
	}
	return nil
}

// saver batches state writes: saving the whole state after every one of ten
// thousand writes would cost more than the writes.
func (e *Emulator) saver() {
	defer close(e.saverDone)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-e.stopSaver:
			return
		case <-t.C:
			e.mu.Lock()
			dirty := e.dirty
			e.mu.Unlock()
			if dirty {
				if err := e.Save(); err != nil {
					e.mu.Lock()
					e.saveErr = err
					e.mu.Unlock()
				}
			}
		}
	}
}

// Stats is a snapshot of the calls answered: operation -> status -> count.
type Stats struct {
	Calls map[string]map[string]int `json:"calls"`
	Total int                       `json:"total"`
}

// Count returns the calls of one operation answered with one status ("" for all).
func (s Stats) Count(op, status string) int {
	if status != "" {
		return s.Calls[op][status]
	}
	n := 0
	for _, c := range s.Calls[op] {
		n += c
	}
	return n
}

// Stats returns a copy of the call counts.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{Calls: map[string]map[string]int{}}
	for op, m := range e.stats {
		s.Calls[op] = map[string]int{}
		for st, n := range m {
			s.Calls[op][st] = n
			s.Total += n
		}
	}
	return s
}

// ResetStats empties the call counts.
func (e *Emulator) ResetStats() {
	e.mu.Lock()
	e.stats = map[string]map[string]int{}
	e.mu.Unlock()
}

// Associations returns a provider's associations: externalUserId -> amazonId.
func (e *Emulator) Associations(providerID string) map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]string{}
	if p := e.state.Providers[providerID]; p != nil {
		for id, a := range p.Associations {
			out[id] = a.AmazonID
		}
	}
	return out
}

// Put sets associations directly (externalUserId -> amazonId), creating
// the provider if needed: test set-up that costs no API call.
func (e *Emulator) Put(providerID string, assoc map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.ensureProvider(providerID, providerID)
	p := e.state.Providers[providerID]
	for id, amz := range assoc {
		p.Associations[id] = &association{ExternalUserID: id, AmazonID: amz, AmazonIDType: "communication-profile"}
	}
	p.sorted = nil
	e.dirty = true
}

// Remove deletes associations directly, as another client would (a test
// that disturbs a listing between its pages).
func (e *Emulator) Remove(providerID string, externalUserIDs ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.state.Providers[providerID]; p != nil {
		for _, id := range externalUserIDs {
			delete(p.Associations, id)
		}
		p.sorted = nil
		e.dirty = true
	}
}

// RevokeTokens forgets every issued access token, as when the service
// rotates its keys: the next call with one of them is answered 401.
func (e *Emulator) RevokeTokens() {
	e.mu.Lock()
	e.tokens = map[string]time.Time{}
	e.mu.Unlock()
}

func (e *Emulator) issueLocked() string {
	t := "Atza|emu." + randHex(24)
	e.tokens[t] = e.opts.Now().Add(e.opts.TokenTTL)
	return t
}

func (e *Emulator) count(op string, status int) { e.countLabel(op, strconv.Itoa(status)) }

// countLabel counts a call under a status, or "reset" for a dropped connection.
func (e *Emulator) countLabel(op, status string) {
	e.mu.Lock()
	m := e.stats[op]
	if m == nil {
		m = map[string]int{}
		e.stats[op] = m
	}
	m[status]++
	e.mu.Unlock()
	if e.opts.OnAnswer != nil {
		e.opts.OnAnswer(op, status)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

var errStateFile = errors.New("state file")

// Server is an Emulator served on a listener.
type Server struct {
	*Emulator
	URL string // http://ADDR
	srv *http.Server
	err chan error
}

// Listen builds an Emulator and serves it on addr ("127.0.0.1:0" picks a
// port).
func Listen(o Options, addr string) (*Server, error) {
	e, err := New(o)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{Emulator: e, URL: "http://" + ln.Addr().String(),
		srv: &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}, err: make(chan error, 1)}
	go func() { s.err <- s.srv.Serve(ln) }()
	return s, nil
}

// Wait serves until ctx ends or serving fails.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case err := <-s.err:
		return err
	case <-ctx.Done():
		return nil
	}
}

// Close stops serving, letting answers in flight finish (for up to five
// seconds), and saves the state.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	return s.Emulator.Close()
}
