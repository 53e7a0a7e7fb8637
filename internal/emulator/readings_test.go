package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The hostile and odd answers of issue 22, each behind an Option: each test
// shows the reading is played when asked for and not otherwise.

// Secrets with characters that percent-encoding changes, so that an echo of
// the raw form and of the decoded form differ.
const (
	echoSecret  = "s3cr3t/+&=é"
	echoRefresh = "Atzr|rt+1"
)

// postToken posts a refresh-token grant and returns the status and the
// error_description of the answer.
func postToken(t *testing.T, srv *httptest.Server, form url.Values, basic bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL+"/auth/o2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(DefaultClientID, "wrong-"+echoSecret)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Description string `json:"error_description"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Description
}

func TestEchoSecretsTokenEndpoint(t *testing.T) {
	grant := func(refresh string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh},
			"client_id": {DefaultClientID}, "client_secret": {echoSecret}}
	}
	tests := []struct {
		name        string
		tokenFaults string
		form        url.Values
		basic       bool
		status      int
		secrets     []string // what the description repeats when echoing
	}{
		{"a refresh token refused", "", grant("Atzr|stolen+2"), false, 400,
			[]string{"Atzr|stolen+2", url.QueryEscape("Atzr|stolen+2"), echoSecret, url.QueryEscape(echoSecret)}},
		{"a 400 fault on a good grant", "400:1", grant(echoRefresh), false, 400,
			[]string{echoRefresh, url.QueryEscape(echoRefresh), echoSecret, url.QueryEscape(echoSecret)}},
		{"a client refused, Basic", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {echoRefresh}}, true, 401,
			[]string{echoRefresh, "Basic "}},
	}
	for _, tt := range tests {
		for _, echo := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/echo=%v", tt.name, echo), func(t *testing.T) {
				_, srv := newServer(t, Options{EchoSecrets: echo, TokenFaults: tt.tokenFaults,
					ClientSecret: echoSecret, RefreshToken: echoRefresh})
				status, desc := postToken(t, srv, tt.form, tt.basic)
				if status != tt.status {
					t.Fatalf("got %d %q, want %d", status, desc, tt.status)
				}
				for _, s := range tt.secrets {
					if got := strings.Contains(desc, s); got != echo {
						t.Errorf("description %q holds %q: got %v, want %v", desc, s, got, echo)
					}
				}
			})
		}
	}
}

func TestEchoSecretsAPI(t *testing.T) {
	const bearer = "Atza|the-bearer+token"
	tests := []struct {
		name, faults, token, method, path, body string
		status                                  int
	}{
		{"401, Smart Properties", "", "expired-" + bearer, "POST", assocPath + "/query", `{"filters":{}}`, 401},
		{"403 fault, Smart Properties", "403:1", bearer, "POST", assocPath + "/query", `{"filters":{}}`, 403},
		{"401, in-skill products", "", "expired-" + bearer, "GET", ispPath + "?vendorId=M1V", "", 401},
		{"403 fault, in-skill products", "403:1", bearer, "PUT", ispPath + "/x/skills/" + skill1, "", 403},
		{"403 of the operation, in-skill products", "", bearer, "PUT", ispPath + "/x/stages/live", `{}`, 403},
	}
	for _, tt := range tests {
		for _, echo := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/echo=%v", tt.name, echo), func(t *testing.T) {
				_, srv := newServer(t, Options{EchoSecrets: echo, Faults: tt.faults, StaticToken: bearer})
				r := call(t, srv, tt.token, tt.method, tt.path, tt.body)
				if r.status != tt.status {
					t.Fatalf("got %d %v, want %d", r.status, r.body, tt.status)
				}
				msgs := []string{fmt.Sprint(r.body["message"])}
				if vs, ok := r.body["violations"].([]any); ok {
					for _, v := range vs {
						msgs = append(msgs, fmt.Sprint(v.(map[string]any)["message"]))
					}
				}
				for _, m := range msgs {
					if got := strings.Contains(m, "Bearer "+tt.token); got != echo {
						t.Errorf("message %q repeats the Authorization header: got %v, want %v", m, got, echo)
					}
				}
			})
		}
	}
}

// assocPage reads one page of the association listing (ids nil) or of a
// filtered query, and returns the entries and the next token.
func assocPage(t *testing.T, srv *httptest.Server, ids []string, token string) ([]map[string]any, string) {
	t.Helper()
	filters := `{}`
	if ids != nil {
		b, _ := json.Marshal(ids)
		filters = `{"externalUserIds":` + string(b) + `}`
	}
	body := `{"filters":` + filters + `,"paginationContext":{"maxResults":2,"nextToken":"` + token + `"}}`
	r := call(t, srv, tok, "POST", assocPath+"/query", body)
	if r.status != 200 {
		t.Fatalf("query %s: %d %v", body, r.status, r.body)
	}
	var out []map[string]any
	for _, a := range r.body["accountAssociations"].([]any) {
		out = append(out, a.(map[string]any))
	}
	next, _ := r.body["paginationContext"].(map[string]any)["nextPageToken"].(string)
	return out, next
}

func TestQueryAmazonIDType(t *testing.T) {
	tests := []struct {
		reading  string
		want     string
		wantSeen bool
	}{
		{"", "communication-profile", true},
		{FieldOmitted, "", false},
		{"COMMUNICATION_PROFILE", "COMMUNICATION_PROFILE", true},
		{"Communication-Profile", "Communication-Profile", true},
	}
	for _, tt := range tests {
		e, srv := newServer(t, Options{QueryAmazonIDType: tt.reading})
		e.Put(DefaultProvider, map[string]string{"7201": "amzn1.a", "7202": "amzn1.b"})
		for _, ids := range [][]string{nil, {"7201", "7202"}} {
			page, _ := assocPage(t, srv, ids, "")
			if len(page) != 2 {
				t.Fatalf("reading %q: got %d associations, want 2", tt.reading, len(page))
			}
			for _, a := range page {
				got, seen := a["amazonIdType"]
				if seen != tt.wantSeen || seen && got != tt.want || a["amazonId"] == nil {
					t.Errorf("reading %q, filter %v: got %v, want amazonIdType %q (present %v)", tt.reading, ids, a, tt.want, tt.wantSeen)
				}
			}
		}
		// Writes keep refusing any spelling but the documented one.
		r := call(t, srv, tok, "PUT", assocPath, `{"externalUserId":"7201","amazonId":"amzn1.a","amazonIdType":"COMMUNICATION_PROFILE"}`)
		if r.status != 400 {
			t.Errorf("reading %q: an update with another spelling: got %d, want 400", tt.reading, r.status)
		}
	}
}

// ispPage reads one page of an in-skill product list and returns its ids
// (nil for an entry without one, "" for an empty one), its token and
// whether it says it is truncated.
func ispPage(t *testing.T, srv *httptest.Server, path, token string) (ids []*string, next string, truncated bool) {
	t.Helper()
	u, _ := url.Parse(path)
	q := u.Query()
	if token != "" {
		q.Set("nextToken", token)
	}
	r := call(t, srv, tok, "GET", u.Path+"?"+q.Encode(), "")
	if r.status != 200 {
		t.Fatalf("GET %s: %d %v", path, r.status, r.body)
	}
	body := r.body
	if w, ok := body["inSkillProductSummaryList"].(map[string]any); ok {
		body = w
	}
	idOf := func(v any) *string {
		if s, ok := v.(string); ok {
			return &s
		}
		return nil
	}
	if list, ok := body["associatedSkillIds"].([]any); ok {
		for _, v := range list {
			ids = append(ids, idOf(v))
		}
	} else {
		for _, v := range body["inSkillProducts"].([]any) {
			m := v.(map[string]any)
			if m["referenceName"] == nil {
				t.Errorf("GET %s: an entry lost more than its id: %v", path, m)
			}
			ids = append(ids, idOf(m["productId"]))
		}
	}
	next, _ = body["nextToken"].(string)
	truncated, _ = body["isTruncated"].(bool)
	if truncated != (next != "") {
		t.Errorf("GET %s: isTruncated %v with nextToken %q", path, truncated, next)
	}
	return ids, next, truncated
}

// ispFixture makes five products associated with skill1 (one of them with
// five skills) and returns the emulator, its server and the three lists with
// what each holds in order.
func ispFixture(t *testing.T, o Options) (*Emulator, *httptest.Server, []listing) {
	t.Helper()
	e, srv := newServer(t, o)
	var products []string
	for i := range 5 {
		id := e.PutProduct("M1V", fmt.Sprintf("p%d", i), false)
		e.Associate(stageDev, id, skill1)
		products = append(products, id)
	}
	slices.Sort(products)
	skills := []string{skill1}
	for i := 2; i <= 5; i++ {
		skills = append(skills, fmt.Sprintf("amzn1.ask.skill.%d", i))
	}
	e.Associate(stageDev, products[0], skills...)
	slices.Sort(skills)
	return e, srv, []listing{
		{"a skill's products", "/v1/skills/" + skill1 + "/stages/development/inSkillProducts?maxResults=2", products},
		{"a product's skills", ispPath + "/" + products[0] + "/stages/development/skills?maxResults=2", skills},
		{"a vendor's products", ispPath + "?vendorId=M1V&maxResults=2", products},
	}
}

type listing struct {
	name, path string
	want       []string
}

func TestISPBlankID(t *testing.T) {
	for _, reading := range []string{"", FieldEmpty, FieldOmitted} {
		for _, flat := range []bool{false, true} {
			e, srv, lists := ispFixture(t, Options{ISPBlankID: reading, ISPFlatLists: flat})
			for _, l := range lists {
				var got []*string
				token := ""
				for range 3 {
					ids, next, _ := ispPage(t, srv, l.path, token)
					got = append(got, ids...)
					if token = next; token == "" {
						break
					}
				}
				if len(got) != len(l.want) {
					t.Fatalf("%s, reading %q: got %d entries, want %d", l.name, reading, len(got), len(l.want))
				}
				for i, id := range got {
					want, wantNil := l.want[i], false
					if i == 0 && reading == FieldEmpty {
						want = ""
					}
					if i == 0 && reading == FieldOmitted {
						wantNil = true
					}
					if wantNil != (id == nil) || id != nil && *id != want {
						t.Errorf("%s, reading %q, flat %v, entry %d: got %v, want %q (absent %v)", l.name, reading, flat, i, deref(id), want, wantNil)
					}
				}
			}
			if n := len(e.ProductIDs()); n != 5 {
				t.Errorf("reading %q: %d products, want the 5 unchanged", reading, n)
			}
		}
	}
	if _, err := New(Options{ISPBlankID: "null"}); err == nil {
		t.Errorf("unknown blank id reading: want an error")
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// What a client that trusts a blank id sends is answered 404 where it was
// sent, not redirected to a cleaned path, and counted.
func TestEmptyPathSegmentIsNotRedirected(t *testing.T) {
	e, srv := newServer(t, Options{})
	id := e.PutProduct("M1V", "gold", false)
	e.Associate(stageDev, id, skill1)
	tests := []struct {
		method, path string
		isp          bool
	}{
		{"DELETE", ispPath + "//skills/" + skill1, true},
		{"PUT", ispPath + "//skills/" + skill1, true},
		{"GET", "/v1/skills//stages/development/inSkillProducts", true},
		{"POST", providersPath + "/" + DefaultProvider + "/./externalUsers/query", false},
		{"GET", "/v1/nothing", false},
	}
	client := *srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(`{"filters":{}}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		_, hasCode := body["code"]
		if resp.StatusCode != 404 || resp.Header.Get("Location") != "" || hasCode != tt.isp || body["message"] == nil {
			t.Errorf("%s %s: got %d Location %q %v, want a 404 in the API's shape", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	if got := e.Stats().Count("unrouted", "404"); got != len(tests) {
		t.Errorf("unrouted calls counted: got %d, want %d", got, len(tests))
	}
	if got := e.ProductSkills(stageDev, id); len(got) != 1 {
		t.Errorf("the association after the empty-id calls: got %v, want it kept", got)
	}
}

// pager reads one page of a listing after token: its ids and next token.
type pager func(t *testing.T, token string) ([]string, string)

func TestEndlessPages(t *testing.T) {
	const pages = 12 // the listings hold 5 entries, 3 pages of 2
	for _, mode := range []string{"", PagesEmpty, PagesRepeat, PagesSameToken} {
		e, srv, lists := ispFixture(t, Options{EndlessPages: mode, PageSize: 2})
		var accounts []string
		for i := range 5 {
			accounts = append(accounts, fmt.Sprint(7000+i))
			e.Put(DefaultProvider, map[string]string{accounts[i]: "amzn1.a"})
		}
		type reader struct {
			name string
			want []string
			page pager
		}
		readers := []reader{
			{"the association listing", accounts, func(t *testing.T, token string) ([]string, string) { return assocIDs(t, srv, nil, token) }},
			{"a filtered query", accounts, func(t *testing.T, token string) ([]string, string) { return assocIDs(t, srv, accounts, token) }},
		}
		for _, l := range lists {
			readers = append(readers, reader{l.name, l.want, func(t *testing.T, token string) ([]string, string) {
				ids, next, _ := ispPage(t, srv, l.path, token)
				var out []string
				for _, id := range ids {
					out = append(out, deref(id).(string))
				}
				return out, next
			}})
		}
		for _, rd := range readers {
			var seen, tokens []string
			sent := ""
			for range pages {
				ids, next := rd.page(t, sent)
				seen = append(seen, ids...)
				if mode == PagesSameToken && len(seen) >= len(rd.want) && sent != "" && next != sent {
					t.Errorf("%s, %q: past the end got token %q, want the one sent %q", rd.name, mode, next, sent)
				}
				if next == "" {
					break
				}
				tokens = append(tokens, next)
				sent = next
			}
			var want []string
			switch mode {
			case "":
				want = rd.want
			case PagesEmpty:
				want = rd.want // then empty pages
			case PagesRepeat:
				for i := range 2 * pages {
					want = append(want, rd.want[i%len(rd.want)])
				}
			case PagesSameToken:
				want = append(want, rd.want...)
				last := rd.want[len(rd.want)-1:] // the last page holds one entry
				for range pages - 3 {
					want = append(want, last...)
				}
			}
			if !slices.Equal(seen, want) {
				t.Errorf("%s, %q: got %v over %d pages, want %v", rd.name, mode, seen, pages, want)
			}
			wantTokens := pages // a token on every page
			if mode == "" {
				wantTokens = 2 // three pages, the last without
			}
			if len(tokens) != wantTokens {
				t.Errorf("%s, %q: got %d tokens, want %d", rd.name, mode, len(tokens), wantTokens)
			}
			if mode == PagesEmpty || mode == PagesRepeat {
				if u := slices.Compact(slices.Sorted(slices.Values(tokens))); len(u) != len(tokens) {
					t.Errorf("%s, %q: a token came twice: %v", rd.name, mode, tokens)
				}
			}
		}
	}
	if _, err := New(Options{EndlessPages: "forever"}); err == nil {
		t.Errorf("unknown endless reading: want an error")
	}
}

func assocIDs(t *testing.T, srv *httptest.Server, ids []string, token string) ([]string, string) {
	t.Helper()
	page, next := assocPage(t, srv, ids, token)
	var out []string
	for _, a := range page {
		out = append(out, a["externalUserId"].(string))
	}
	return out, next
}

// In-skill product lists page by offset and carry no total: an entry
// removed between two page reads makes the reader skip the entry after the
// page it read, and nothing in the answers says so. The association listing
// pages the same way but its totalCount moves.
func TestDisturbedListsSkip(t *testing.T) {
	for i := range 2 {
		e, srv, lists := ispFixture(t, Options{})
		l := lists[i]
		first, token, _ := ispPage(t, srv, l.path, "")
		switch i {
		case 0: // another shard prunes the skill's first product, through the API
			if r := call(t, srv, tok, "DELETE", ispPath+"/"+l.want[0]+"/skills/"+skill1, ""); r.status != 204 {
				t.Fatalf("disassociate: got %d %v", r.status, r.body)
			}
		case 1: // the product loses its first skill
			e.Disassociate(stageDev, lists[0].want[0], l.want[0])
		}
		var seen []string
		for _, id := range first {
			seen = append(seen, *id)
		}
		for token != "" {
			var ids []*string
			ids, token, _ = ispPage(t, srv, l.path, token)
			for _, id := range ids {
				seen = append(seen, *id)
			}
		}
		want := append([]string{}, l.want[:2]...)
		want = append(want, l.want[3:]...) // the third entry slid onto page one, already read
		if !slices.Equal(seen, want) {
			t.Errorf("%s: got %v, want %v (skipping %s)", l.name, seen, want, l.want[2])
		}
	}
	// The association listing shows the same skip (its totalCount moves).
	e, srv := newServer(t, Options{})
	e.Put(DefaultProvider, map[string]string{"1": "a", "2": "a", "3": "a", "4": "a", "5": "a"})
	seen, token := assocIDs(t, srv, nil, "")
	e.Remove(DefaultProvider, "1")
	for token != "" {
		var ids []string
		ids, token = assocIDs(t, srv, nil, token)
		seen = append(seen, ids...)
	}
	if want := []string{"1", "2", "4", "5"}; !slices.Equal(seen, want) {
		t.Errorf("association listing: got %v, want %v (skipping 3)", seen, want)
	}
}

func TestShortTokenLifetimes(t *testing.T) {
	for _, ttl := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 9 * time.Second, 2500 * time.Millisecond} {
		t.Run(ttl.String(), func(t *testing.T) {
			clk := newClock()
			e, srv := newServer(t, Options{TokenTTL: ttl, Now: clk.Now})
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {DefaultRefreshToken},
				"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
			grant := func() (string, int) {
				resp, err := srv.Client().PostForm(srv.URL+"/auth/o2/token", form)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body struct {
					AccessToken string `json:"access_token"`
					ExpiresIn   int    `json:"expires_in"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
					t.Fatalf("grant: %d %v", resp.StatusCode, err)
				}
				return body.AccessToken, body.ExpiresIn
			}
			q := `{"filters":{}}`
			at, expiresIn := grant()
			if want := int(ttl / time.Second); expiresIn != want {
				t.Errorf("expires_in: got %d, want %d", expiresIn, want)
			}
			clk.advance(ttl - time.Millisecond)
			if r := call(t, srv, at, "POST", assocPath+"/query", q); r.status != 200 {
				t.Errorf("just before expiry: got %d, want 200", r.status)
			}
			clk.advance(time.Millisecond)
			if r := call(t, srv, at, "POST", assocPath+"/query", q); r.status != 401 {
				t.Errorf("at expiry: got %d, want 401", r.status)
			}
			at, _ = grant()
			if r := call(t, srv, at, "POST", assocPath+"/query", q); r.status != 200 {
				t.Errorf("a new token: got %d, want 200", r.status)
			}
			if got := e.Stats().Count("token", "200"); got != 2 {
				t.Errorf("grants: got %d, want 2", got)
			}
		})
	}
	if _, err := New(Options{TokenTTL: 500 * time.Millisecond}); err == nil {
		t.Errorf("a lifetime under a second (expires_in 0): want an error")
	}
}
