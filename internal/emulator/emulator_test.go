package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests are written from the reference pages in api/, with raw HTTP:
// they must not lean on the client they exist to check.

const assocPath = providersPath + "/" + DefaultProvider + "/externalUsers"

func newServer(t *testing.T, o Options) (*Emulator, *httptest.Server) {
	t.Helper()
	if o.StaticToken == "" {
		o.StaticToken = "test-token"
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	return e, srv
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, srv *httptest.Server, token, method, path, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header}
	if buf.Len() > 0 {
		if err := json.Unmarshal(buf.Bytes(), &r.body); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, path, buf.String())
		}
	}
	return r
}

func ids(n int) string {
	var s []string
	for i := 0; i < n; i++ {
		s = append(s, fmt.Sprintf("%q", fmt.Sprint(7000+i)))
	}
	return "[" + strings.Join(s, ",") + "]"
}

func TestAssociationLifecycle(t *testing.T) {
	_, srv := newServer(t, Options{})
	tok := "test-token"
	steps := []struct {
		method, path, body string
		want               int
		wantType           string
	}{
		{"POST", assocPath, `{"externalUserId":"7201","amazonId":"amzn1.alexa.communications.profile.did.1","amazonIdType":"communication-profile"}`, 201, ""},
		{"POST", assocPath, `{"externalUserId":"7201","amazonId":"amzn1.alexa.communications.profile.did.1","amazonIdType":"communication-profile"}`, 409, "CONFLICT"},
		{"PUT", assocPath, `{"externalUserId":"7201","amazonId":"amzn1.alexa.communications.profile.did.2","amazonIdType":"communication-profile"}`, 200, ""},
		{"PUT", assocPath, `{"externalUserId":"7999","amazonId":"amzn1.alexa.communications.profile.did.2","amazonIdType":"communication-profile"}`, 404, "NOT_FOUND"},
		{"POST", assocPath, `{"externalUserId":"7202","amazonIdType":"communication-profile"}`, 400, "BAD_REQUEST"},
		{"POST", assocPath, `not json`, 400, "BAD_REQUEST"},
		{"POST", providersPath + "/amzn1.comms.csp.id.nope/externalUsers", `{"externalUserId":"1","amazonId":"a","amazonIdType":"b"}`, 404, "NOT_FOUND"},
		{"DELETE", assocPath, `{"externalUserId":"7201"}`, 200, ""},
		{"DELETE", assocPath, `{"externalUserId":"7201"}`, 404, "NOT_FOUND"},
	}
	for i, s := range steps {
		got := call(t, srv, tok, s.method, s.path, s.body)
		if got.status != s.want {
			t.Fatalf("step %d %s %s: got status %d, want %d (%v)", i, s.method, s.path, got.status, s.want, got.body)
		}
		if s.wantType != "" && got.body["type"] != s.wantType {
			t.Errorf("step %d: got Error type %v, want %s", i, got.body["type"], s.wantType)
		}
	}
}

func TestQueryLimits(t *testing.T) {
	_, srv := newServer(t, Options{PageSize: 10})
	tests := []struct {
		name, body string
		want       int
	}{
		{"30 ids", `{"filters":{"externalUserIds":` + ids(30) + `}}`, 200},
		{"31 ids refused", `{"filters":{"externalUserIds":` + ids(31) + `}}`, 400},
		{"0 ids refused", `{"filters":{"externalUserIds":[]}}`, 400},
		{"no filters refused", `{}`, 400},
		{"list all", `{"filters":{}}`, 200},
		{"maxResults at limit", `{"filters":{},"paginationContext":{"maxResults":10}}`, 200},
		{"maxResults above limit refused", `{"filters":{},"paginationContext":{"maxResults":11}}`, 400},
		{"maxResults 0 refused", `{"filters":{},"paginationContext":{"maxResults":0}}`, 400},
		{"forged token refused", `{"filters":{},"paginationContext":{"nextToken":"bm9wZQ"}}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := call(t, srv, "test-token", "POST", assocPath+"/query", tt.body)
			if got.status != tt.want {
				t.Errorf("got %d, want %d (%v)", got.status, tt.want, got.body)
			}
		})
	}
}

func TestQueryPages(t *testing.T) {
	_, srv := newServer(t, Options{PageSize: 3})
	for i := 0; i < 8; i++ {
		body := fmt.Sprintf(`{"externalUserId":"%d","amazonId":"amzn1.x.%d","amazonIdType":"communication-profile"}`, 7000+i, i)
		if got := call(t, srv, "test-token", "POST", assocPath, body); got.status != 201 {
			t.Fatalf("create: got %d", got.status)
		}
	}
	var seen []string
	next := ""
	for pages := 1; ; pages++ {
		body := `{"filters":{}}`
		if next != "" {
			body = `{"filters":{},"paginationContext":{"nextToken":"` + next + `"}}`
		}
		got := call(t, srv, "test-token", "POST", assocPath+"/query", body)
		if got.status != 200 {
			t.Fatalf("page %d: got %d", pages, got.status)
		}
		pc := got.body["paginationContext"].(map[string]any)
		if pc["totalCount"].(float64) != 8 {
			t.Errorf("totalCount: got %v, want 8", pc["totalCount"])
		}
		for _, a := range got.body["accountAssociations"].([]any) {
			seen = append(seen, a.(map[string]any)["externalUserId"].(string))
		}
		n, _ := pc["nextPageToken"].(string)
		if n == "" {
			if pages != 3 {
				t.Errorf("got %d pages, want 3", pages)
			}
			break
		}
		next = n
	}
	if len(seen) != 8 {
		t.Errorf("got %d associations over the pages, want 8: %v", len(seen), seen)
	}
}

func TestTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e, srv := newServer(t, Options{TokenTTL: time.Minute, Now: func() time.Time { return now }})
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {DefaultRefreshToken},
		"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
	resp, err := srv.Client().PostForm(srv.URL+"/auth/o2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: status %d, %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if tok.ExpiresIn != 60 || tok.TokenType != "bearer" || tok.AccessToken == "" {
		t.Errorf("token answer: got %+v", tok)
	}
	q := `{"filters":{}}`
	if got := call(t, srv, tok.AccessToken, "POST", assocPath+"/query", q); got.status != 200 {
		t.Errorf("fresh token: got %d, want 200", got.status)
	}
	now = now.Add(time.Minute)
	if got := call(t, srv, tok.AccessToken, "POST", assocPath+"/query", q); got.status != 401 || got.body["type"] != "UNAUTHORIZED" {
		t.Errorf("expired token: got %d %v, want 401 UNAUTHORIZED", got.status, got.body)
	}
	if got := call(t, srv, "", "POST", assocPath+"/query", q); got.status != 401 {
		t.Errorf("no token: got %d, want 401", got.status)
	}
	form.Set("refresh_token", "stolen")
	resp, err = srv.Client().PostForm(srv.URL+"/auth/o2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("bad refresh token: got %d, want 400", resp.StatusCode)
	}
	if n := e.Stats().Count("token", "200"); n != 1 {
		t.Errorf("token grants counted: got %d, want 1", n)
	}
}

func TestFaultsReplayUnderSeed(t *testing.T) {
	sequence := func(seed uint64) []int {
		_, srv := newServer(t, Options{Faults: "500:0.2,503:0.2,429:0.1", Seed: seed})
		var out []int
		for i := 0; i < 60; i++ {
			out = append(out, call(t, srv, "test-token", "POST", assocPath+"/query", `{"filters":{}}`).status)
		}
		return out
	}
	a, b, c := sequence(7), sequence(7), sequence(8)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("different seeds gave the same 60 answers: %v", a)
	}
	counts := map[int]int{}
	for _, s := range a {
		counts[s]++
	}
	for _, st := range []int{200, 500, 503, 429} {
		if counts[st] == 0 {
			t.Errorf("no %d among 60 answers with faults on: %v", st, counts)
		}
	}
}

func TestFaultKinds(t *testing.T) {
	tests := []struct {
		fault string
		check func(t *testing.T, e *Emulator, srv *httptest.Server)
	}{
		{"commit500:1", func(t *testing.T, e *Emulator, srv *httptest.Server) {
			got := call(t, srv, "test-token", "POST", assocPath, `{"externalUserId":"1","amazonId":"amzn1.a","amazonIdType":"communication-profile"}`)
			if got.status != 500 {
				t.Errorf("got %d, want 500", got.status)
			}
			if e.Associations(DefaultProvider)["1"] != "amzn1.a" {
				t.Errorf("commit500 did not apply the write")
			}
		}},
		{"reset:1", func(t *testing.T, e *Emulator, srv *httptest.Server) {
			req, _ := http.NewRequest("POST", srv.URL+assocPath+"/query", strings.NewReader(`{"filters":{}}`))
			req.Header.Set("Authorization", "Bearer test-token")
			if resp, err := srv.Client().Do(req); err == nil {
				resp.Body.Close()
				t.Errorf("got an answer, want a dropped connection")
			}
		}},
		{"429:1", func(t *testing.T, e *Emulator, srv *httptest.Server) {
			got := call(t, srv, "test-token", "POST", assocPath+"/query", `{"filters":{}}`)
			if got.status != 429 || got.header.Get("Retry-After") == "" {
				t.Errorf("got %d Retry-After %q, want 429 with Retry-After", got.status, got.header.Get("Retry-After"))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			e, srv := newServer(t, Options{Faults: tt.fault})
			tt.check(t, e, srv)
		})
	}
}

func TestServerRateLimit(t *testing.T) {
	_, srv := newServer(t, Options{RPS: 0.01}) // a burst of one, then one per 100 s
	if got := call(t, srv, "test-token", "POST", assocPath+"/query", `{"filters":{}}`); got.status != 200 {
		t.Fatalf("first call: got %d", got.status)
	}
	got := call(t, srv, "test-token", "POST", assocPath+"/query", `{"filters":{}}`)
	if got.status != 429 || got.header.Get("Retry-After") == "" || got.body["type"] != "TOO_MANY_REQUESTS" {
		t.Errorf("second call: got %d %v Retry-After %q, want 429 with Retry-After", got.status, got.body, got.header.Get("Retry-After"))
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	e1, srv1 := newServer(t, Options{StateFile: path})
	if got := call(t, srv1, "test-token", "POST", assocPath, `{"externalUserId":"7201","amazonId":"amzn1.p","amazonIdType":"communication-profile"}`); got.status != 201 {
		t.Fatalf("create: %d", got.status)
	}
	created := call(t, srv1, "test-token", "POST", providersPath, `{"serviceProviderLogicalId":"hotel.1","displayName":[{"locale":"en-US","value":"Hotel"}]}`)
	if created.status != 201 {
		t.Fatalf("create provider: %d", created.status)
	}
	srv1.Close()
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	e2, srv2 := newServer(t, Options{StateFile: path})
	if got := e2.Associations(DefaultProvider); got["7201"] != "amzn1.p" {
		t.Errorf("after restart: got %v, want 7201 -> amzn1.p", got)
	}
	id := created.body["serviceProviderId"].(string)
	if got := call(t, srv2, "test-token", "GET", providersPath+"/"+id, ""); got.status != 200 || got.body["serviceProviderLogicalId"] != "hotel.1" {
		t.Errorf("provider after restart: got %d %v", got.status, got.body)
	}
}

func TestStatsAndReset(t *testing.T) {
	e, srv := newServer(t, Options{})
	call(t, srv, "test-token", "POST", assocPath+"/query", `{"filters":{}}`)
	call(t, srv, "test-token", "POST", assocPath+"/query", `{}`)
	resp, err := srv.Client().Get(srv.URL + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	var s Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s.Count("association.query", "200") != 1 || s.Count("association.query", "400") != 1 || s.Total != 2 {
		t.Errorf("stats: got %+v, want one 200 and one 400 query", s)
	}
	if _, err := srv.Client().Post(srv.URL+"/_emulator/reset", "", nil); err != nil {
		t.Fatal(err)
	}
	if got := e.Stats().Total; got != 0 {
		t.Errorf("after reset: got %d calls, want 0", got)
	}
}

func TestProvidersAndNetwork(t *testing.T) {
	_, srv := newServer(t, Options{})
	created := call(t, srv, "test-token", "POST", providersPath, `{"serviceProviderLogicalId":"hotel.2"}`)
	if created.status != 201 {
		t.Fatalf("create: %d", created.status)
	}
	id := created.body["serviceProviderId"].(string)
	if !strings.HasPrefix(id, "amzn1.comms.csp.id.") {
		t.Errorf("serviceProviderId %q is not an ACI", id)
	}
	p := providersPath + "/" + id
	steps := []struct {
		method, path, body string
		want               int
	}{
		{"POST", providersPath, `{"serviceProviderLogicalId":"hotel.2"}`, 409},
		{"POST", providersPath, `{"displayName":[]}`, 400},
		{"PUT", p, `{"displayName":[{"locale":"en-US","value":"New"}]}`, 200},
		{"PUT", p, `{"serviceProviderLogicalId":"other"}`, 400},
		{"GET", p + "/network", "", 404},
		{"POST", p + "/network", `{"networkType":"PSTN","skillConfiguration":{"skillId":"amzn1.ask.skill.1"}}`, 400},
		{"POST", p + "/network", `{"networkType":"SKILL","skillConfiguration":{"skillId":"amzn1.ask.skill.1"}}`, 201},
		{"PUT", p + "/network", `{"networkType":"SKILL","skillConfiguration":{"skillId":"amzn1.ask.skill.2"}}`, 200},
		{"GET", p + "/network", "", 200},
		{"DELETE", p + "/network", "", 200},
		{"DELETE", p, "", 200},
		{"GET", p, "", 404},
	}
	for i, s := range steps {
		if got := call(t, srv, "test-token", s.method, s.path, s.body); got.status != s.want {
			t.Errorf("step %d %s %s: got %d, want %d (%v)", i, s.method, s.path, got.status, s.want, got.body)
		}
	}
}
