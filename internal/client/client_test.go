package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
	"golang.org/x/oauth2"
)

const sp = emulator.DefaultProvider

// contract starts the emulator on loopback and a client pointed at it.
func contract(t *testing.T, o emulator.Options) (*Client, *emulator.Emulator) {
	t.Helper()
	o.StaticToken = "contract-token"
	e, err := emulator.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	c, err := New(Options{Endpoint: srv.URL, Token: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "contract-token"})})
	if err != nil {
		t.Fatal(err)
	}
	return c, e
}

func assoc(id, amazonID string) Association {
	return Association{ExternalUserID: id, AmazonID: amazonID, AmazonIDType: "communication-profile"}
}

func TestAssociationOperations(t *testing.T) {
	c, e := contract(t, emulator.Options{})
	ctx := context.Background()
	if err := c.CreateAssociation(ctx, sp, assoc("7201", "amzn1.alexa.communications.profile.did.1")); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := c.UpdateAssociation(ctx, sp, assoc("7201", "amzn1.alexa.communications.profile.did.2")); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, err := c.QueryAssociations(ctx, sp, QueryRequest{Filters: QueryFilters{ExternalUserIDs: []string{"7201", "7202"}}})
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	if len(got.AccountAssociations) != 1 || got.AccountAssociations[0] != assoc("7201", "amzn1.alexa.communications.profile.did.2") {
		t.Errorf("query: got %+v", got.AccountAssociations)
	}
	if err := c.DeleteAssociation(ctx, sp, "7201"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if n := len(e.Associations(sp)); n != 0 {
		t.Errorf("after delete: %d associations left", n)
	}
}

func TestProviderAndNetworkOperations(t *testing.T) {
	c, _ := contract(t, emulator.Options{})
	ctx := context.Background()
	p, err := c.CreateServiceProvider(ctx, ServiceProvider{ServiceProviderLogicalID: "hotel.1", DisplayName: []DisplayName{{"en-US", "Hotel"}}})
	if err != nil {
		t.Fatalf("create provider: %v", err)
	}
	if !strings.HasPrefix(p.ServiceProviderID, "amzn1.comms.csp.id.") || p.ServiceProviderLogicalID != "hotel.1" {
		t.Errorf("create provider: got %+v", p)
	}
	id := p.ServiceProviderID
	if got, err := c.UpdateServiceProvider(ctx, id, ServiceProvider{DisplayName: []DisplayName{{"en-US", "New"}}}); err != nil || got.DisplayName[0].Value != "New" {
		t.Errorf("update provider: got %+v, %v", got, err)
	}
	if got, err := c.GetServiceProvider(ctx, id); err != nil || got.DisplayName[0].Value != "New" {
		t.Errorf("get provider: got %+v, %v", got, err)
	}
	m := NetworkMapping{NetworkType: "SKILL", SkillConfiguration: SkillConfiguration{SkillID: "amzn1.ask.skill.1"}}
	if st, err := c.CreateNetworkMapping(ctx, id, m); err != nil || st.Status != "ACTIVE" || st.ServiceProviderID != id {
		t.Errorf("create network: got %+v, %v", st, err)
	}
	m.SkillConfiguration.SkillID = "amzn1.ask.skill.2"
	if st, err := c.UpdateNetworkMapping(ctx, id, m); err != nil || st.Status != "ACTIVE" {
		t.Errorf("update network: got %+v, %v", st, err)
	}
	if got, err := c.GetNetworkMapping(ctx, id); err != nil || *got != m {
		t.Errorf("get network: got %+v, %v, want %+v", got, err, m)
	}
	if err := c.DeleteNetworkMapping(ctx, id); err != nil {
		t.Errorf("delete network: %v", err)
	}
	if err := c.DeleteServiceProvider(ctx, id); err != nil {
		t.Errorf("delete provider: %v", err)
	}
}

func TestDocumentedFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		opts     emulator.Options
		call     func(c *Client) error
		status   int
		typ      string
		retryMin time.Duration
	}{
		{"400 bad body", emulator.Options{}, func(c *Client) error {
			return c.CreateAssociation(ctx, sp, Association{ExternalUserID: "7201"})
		}, 400, "BAD_REQUEST", 0},
		{"404 unknown provider", emulator.Options{}, func(c *Client) error {
			return c.CreateAssociation(ctx, "amzn1.comms.csp.id.none", assoc("1", "amzn1.x"))
		}, 404, "NOT_FOUND", 0},
		{"404 unknown association", emulator.Options{}, func(c *Client) error {
			return c.DeleteAssociation(ctx, sp, "nobody")
		}, 404, "NOT_FOUND", 0},
		{"409 duplicate create", emulator.Options{}, func(c *Client) error {
			if err := c.CreateAssociation(ctx, sp, assoc("1", "amzn1.x")); err != nil {
				return err
			}
			return c.CreateAssociation(ctx, sp, assoc("1", "amzn1.x"))
		}, 409, "CONFLICT", 0},
		{"429 with Retry-After", emulator.Options{Faults: "429:1"}, func(c *Client) error {
			_, err := c.GetServiceProvider(ctx, sp)
			return err
		}, 429, "TOO_MANY_REQUESTS", time.Second},
		{"500", emulator.Options{Faults: "500:1"}, func(c *Client) error {
			return c.UpdateAssociation(ctx, sp, assoc("1", "amzn1.x"))
		}, 500, "INTERNAL_SERVER_ERROR", 0},
		{"503", emulator.Options{Faults: "503:1"}, func(c *Client) error {
			return c.DeleteAssociation(ctx, sp, "1")
		}, 503, "SERVICE_UNAVAILABLE", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := contract(t, tt.opts)
			err := tt.call(c)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want *APIError", err)
			}
			if ae.Status != tt.status || ae.Type != tt.typ || ae.Message == "" {
				t.Errorf("got %d %q %q, want %d %s with a message", ae.Status, ae.Type, ae.Message, tt.status, tt.typ)
			}
			if ae.RetryAfter < tt.retryMin {
				t.Errorf("Retry-After: got %v, want at least %v", ae.RetryAfter, tt.retryMin)
			}
		})
	}
}

func TestUnauthorized(t *testing.T) {
	e, err := emulator.New(emulator.Options{StaticToken: "right"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	defer srv.Close()
	c, err := New(Options{Endpoint: srv.URL, Token: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "wrong-secret-token"})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetServiceProvider(context.Background(), sp)
	if StatusOf(err) != 401 {
		t.Fatalf("got %v, want 401", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-token") {
		t.Errorf("error message contains the token: %v", err)
	}
}

func TestAnswerNotJSON(t *testing.T) {
	c, _ := contract(t, emulator.Options{Faults: "garbage:1"})
	_, err := c.QueryAssociations(context.Background(), sp, QueryRequest{})
	var ue *APIError
	if !errors.As(err, &ue) || !ue.Unexpected || ue.Status != 200 || !strings.Contains(err.Error(), "not the documented JSON") || !strings.Contains(err.Error(), "<html>") {
		t.Errorf("got %v, want an unexpected 200 quoting the body", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
		fmt.Fprint(w, "<html>bad gateway</html>")
	}))
	defer srv.Close()
	c2, _ := New(Options{Endpoint: srv.URL})
	err = c2.DeleteAssociation(context.Background(), sp, "1")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 502 || !strings.Contains(ae.Message, "bad gateway") {
		t.Errorf("got %v, want a 502 *APIError quoting the body", err)
	}
}

func TestEndpointRules(t *testing.T) {
	tests := []struct {
		region, endpoint, want string
		ok                     bool
	}{
		{"", "", "https://api.amazonalexa.com", true},
		{"EU", "", "https://api.eu.amazonalexa.com", true},
		{"fe", "", "https://api.fe.amazonalexa.com", true},
		{"XX", "", "", false},
		{"", "http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"", "http://localhost:8080/", "http://localhost:8080", true},
		{"", "http://[::1]:8080", "http://[::1]:8080", true},
		{"", "http://api.example.com", "", false},
		{"", "ftp://api.example.com", "", false},
		{"", "https://proxy.example.com", "https://proxy.example.com", true},
	}
	for _, tt := range tests {
		u, err := Endpoint(tt.region, tt.endpoint)
		if (err == nil) != tt.ok {
			t.Errorf("Endpoint(%q, %q): got err %v, want ok %v", tt.region, tt.endpoint, err, tt.ok)
			continue
		}
		if err == nil && u.String() != tt.want {
			t.Errorf("Endpoint(%q, %q): got %s, want %s", tt.region, tt.endpoint, u, tt.want)
		}
	}
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:00:10 GMT": 10 * time.Second,
		"Wed, 31 Dec 2025 23:59:00 GMT": 0,
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q): got %v, want %v", in, got, want)
		}
	}
}

// An id goes into the path as one escaped segment: whatever it holds, the
// request reaches the route it was meant for, with the id intact.
func TestPathIDsStayOneSegment(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.EscapedPath())
		w.WriteHeader(201)
	}))
	defer srv.Close()
	c, _ := New(Options{Endpoint: srv.URL})
	for _, id := range []string{"amzn1.comms.csp.id.a/../b", "amzn1.comms.csp.id.a?x=1", "amzn1.comms.csp.id.a#b", "amzn1.comms.csp.id.%2F", "amzn1.comms.csp.id. a"} {
		if err := c.CreateAssociation(context.Background(), id, assoc("1", "amzn1.x")); err != nil {
			t.Errorf("provider id %q: %v", id, err)
		}
	}
	want := []string{"a%2F..%2Fb", "a%3Fx=1", "a%23b", "%252F", "%20a"}
	for i, p := range got {
		if p != "/v1/communications/serviceProviders/amzn1.comms.csp.id."+want[i]+"/externalUsers" {
			t.Errorf("request %d went to %s", i, p)
		}
	}
}

// A write succeeds only on the status its operation documents: any other
// 2xx is an answer nobody can read, never a success.
func TestUndocumentedSuccessIsNotSuccess(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		call   func(*Client) error
	}{
		{"create answered 200", 200, func(c *Client) error { return c.CreateAssociation(context.Background(), sp, assoc("1", "amzn1.x")) }},
		{"create answered 202", 202, func(c *Client) error { return c.CreateAssociation(context.Background(), sp, assoc("1", "amzn1.x")) }},
		{"update answered 204", 204, func(c *Client) error { return c.UpdateAssociation(context.Background(), sp, assoc("1", "amzn1.x")) }},
		{"delete answered 201", 201, func(c *Client) error { return c.DeleteAssociation(context.Background(), sp, "1") }},
		{"update answered 200 with a page of HTML", 200, func(c *Client) error { return c.UpdateAssociation(context.Background(), sp, assoc("1", "amzn1.x")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				if strings.Contains(tc.name, "HTML") {
					w.Write([]byte("<html>hello from a proxy</html>"))
				}
			}))
			defer srv.Close()
			c, _ := New(Options{Endpoint: srv.URL})
			err := tc.call(c)
			var ae *APIError
			if !errors.As(err, &ae) || !ae.Unexpected || ae.Status != tc.status {
				t.Fatalf("got %v, want an unexpected %d", err, tc.status)
			}
		})
	}
}

// A documented "no body" reads an empty body, or JSON, as that.
func TestNoBodyAnswers(t *testing.T) {
	for _, body := range []string{"", "  \n", "{}", `{"ok":true}`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
		c, _ := New(Options{Endpoint: srv.URL})
		if err := c.UpdateAssociation(context.Background(), sp, assoc("1", "amzn1.x")); err != nil {
			t.Errorf("update answered 200 %q: %v", body, err)
		}
		srv.Close()
	}
}

// tokenSeq hands out a new access token on each call, as a refreshing
// source does over a long run.
type tokenSeq struct {
	mu sync.Mutex
	n  int
}

func (s *tokenSeq) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", (s.n+1)/2)}, nil // each token twice
}

// Every request carries what the API needs, worked out once per client but
// never stale: the path after the endpoint's own, JSON headers (a body's
// type only with a body), the user agent, and the current token.
func TestRequestShape(t *testing.T) {
	type seen struct{ method, uri, accept, ctype, ua, auth, body string }
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.RequestURI, r.Header.Get("Accept"), r.Header.Get("Content-Type"),
			r.Header.Get("User-Agent"), r.Header.Get("Authorization"), string(b)})
		if r.Method == http.MethodPost {
			w.WriteHeader(201)
			return
		}
		w.Write([]byte(`{"serviceProviderId":"x"}`))
	}))
	defer srv.Close()
	c, err := New(Options{Endpoint: srv.URL + "/base/", Token: &tokenSeq{}, UserAgent: "bulksync/test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		if err := c.CreateAssociation(ctx, sp, assoc("7201", "amzn1.x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.GetServiceProvider(ctx, sp); err != nil {
		t.Fatal(err)
	}
	path := "/base/v1/communications/serviceProviders/" + sp
	body := `{"externalUserId":"7201","amazonId":"amzn1.x","amazonIdType":"communication-profile"}`
	want := []seen{
		{"POST", path + "/externalUsers", "application/json", "application/json", "bulksync/test", "Bearer tok-1", body},
		{"POST", path + "/externalUsers", "application/json", "application/json", "bulksync/test", "Bearer tok-1", body},
		{"GET", path, "application/json", "", "bulksync/test", "Bearer tok-2", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d requests, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}
