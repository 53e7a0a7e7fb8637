package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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
	return Association{ExternalUserID: id, AmazonID: amazonID, AmazonIDType: DefaultAmazonIDType}
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

func TestPagesAcrossSeveralPages(t *testing.T) {
	c, e := contract(t, emulator.Options{PageSize: 4})
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := c.CreateAssociation(ctx, sp, assoc(fmt.Sprint(7000+i), "amzn1.x")); err != nil {
			t.Fatal(err)
		}
	}
	e.ResetStats()
	var got []string
	err := Pages(ctx, QueryRequest{}, func(ctx context.Context, q QueryRequest) (*QueryResponse, error) {
		return c.QueryAssociations(ctx, sp, q)
	}, func(r *QueryResponse) error {
		for _, a := range r.AccountAssociations {
			got = append(got, a.ExternalUserID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Errorf("got %d associations, want 10: %v", len(got), got)
	}
	if n := e.Stats().Count("association.query", "200"); n != 3 {
		t.Errorf("got %d query calls, want 3 pages of 4", n)
	}
}

func TestPagesRefusesRepeatedToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"paginationContext":{"totalCount":5,"nextPageToken":"same"},"accountAssociations":[{"externalUserId":"1","amazonId":"a","amazonIdType":"b"}]}`)
	}))
	defer srv.Close()
	c, err := New(Options{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = Pages(context.Background(), QueryRequest{}, func(ctx context.Context, q QueryRequest) (*QueryResponse, error) {
		calls++
		return c.QueryAssociations(ctx, sp, q)
	}, func(*QueryResponse) error { return nil })
	if !errors.Is(err, ErrRepeatedToken) {
		t.Errorf("got %v, want ErrRepeatedToken", err)
	}
	if calls != 2 {
		t.Errorf("got %d calls, want 2 (the second repeats the token)", calls)
	}
}

func TestAnswerNotJSON(t *testing.T) {
	c, _ := contract(t, emulator.Options{Faults: "garbage:1"})
	_, err := c.QueryAssociations(context.Background(), sp, QueryRequest{})
	if err == nil || !strings.Contains(err.Error(), "not the expected JSON") || !strings.Contains(err.Error(), "<html>") {
		t.Errorf("got %v, want a decode error quoting the body", err)
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

func TestPathIDsRefused(t *testing.T) {
	c, _ := contract(t, emulator.Options{})
	for _, id := range []string{"amzn1.comms.csp.id.a/../b", "amzn1.comms.csp.id.a?x=1", "amzn1.comms.csp.id.a#b", "amzn1.comms.csp.id.%2F", "amzn1.comms.csp.id. a", ""} {
		if err := c.CreateAssociation(context.Background(), id, assoc("1", "amzn1.x")); err == nil || StatusOf(err) != 0 {
			t.Errorf("provider id %q: got %v, want a local refusal", id, err)
		}
	}
}
