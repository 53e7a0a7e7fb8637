package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The in-skill product routes, checked with raw HTTP against
// api/ISP-NOTES.md (the SDK model's shapes). The SDK itself judges them too:
// cmd/bulksync's TestSMAPISDK.

const tok = "test-token"

const skill1 = "amzn1.ask.skill.11111111-1111-1111-1111-111111111111"

func def(ref string) string {
	return `{"version":"1.0","type":"ENTITLEMENT","referenceName":"` + ref + `"}`
}

func createBody(vendor, ref string) string {
	return `{"vendorId":"` + vendor + `","inSkillProductDefinition":` + def(ref) + `}`
}

// isISPError checks an error body: {"code","message"}, or for 400 and 403
// {"message","violations":[{"code","message"}]}; never Smart Properties' type.
func isISPError(t *testing.T, what string, r reply) {
	t.Helper()
	if _, ok := r.body["type"]; ok {
		t.Errorf("%s: error body has a Smart Properties type: %v", what, r.body)
	}
	msg, _ := r.body["message"].(string)
	if msg == "" {
		t.Errorf("%s: error body has no message: %v", what, r.body)
	}
	if r.status == 400 || r.status == 403 {
		vs, _ := r.body["violations"].([]any)
		if len(vs) == 0 {
			t.Errorf("%s: %d without violations: %v", what, r.status, r.body)
			return
		}
		v, _ := vs[0].(map[string]any)
		if v["code"] == nil || v["message"] == nil {
			t.Errorf("%s: violation without code or message: %v", what, v)
		}
		return
	}
	if c, _ := r.body["code"].(string); c == "" {
		t.Errorf("%s: %d without code: %v", what, r.status, r.body)
	}
}

func TestProductLifecycle(t *testing.T) {
	e, srv := newServer(t, Options{})
	res := call(t, srv, tok, "POST", ispPath, createBody("M1V", "gold"))
	id, _ := res.body["productId"].(string)
	if res.status != 201 || !strings.HasPrefix(id, productPrefix) {
		t.Fatalf("create: %d %v", res.status, res.body)
	}
	if res := call(t, srv, tok, "POST", ispPath+"/", createBody("M1V", "silver")); res.status != 201 {
		t.Errorf("create with a trailing /: %d %v", res.status, res.body)
	}
	path := ispPath + "/" + id + "/stages/development"
	get := call(t, srv, tok, "GET", path, "")
	etag := get.header.Get("ETag")
	if d, _ := get.body["inSkillProductDefinition"].(map[string]any); get.status != 200 || d["referenceName"] != "gold" || etag == "" {
		t.Fatalf("get: %d %v etag %q", get.status, get.body, etag)
	}
	sum := call(t, srv, tok, "GET", path+"/summary", "")
	if s, _ := sum.body["inSkillProductSummary"].(map[string]any); sum.status != 200 || s["productId"] != id || s["stage"] != "development" ||
		s["editableState"] != "EDITABLE" || sum.header.Get("ETag") != etag {
		t.Errorf("summary: %d %v", sum.status, sum.body)
	}
	steps := []struct {
		name, method, path, body string
		header                   map[string]string
		want                     int
	}{
		{"same referenceName twice", "POST", ispPath, createBody("M1V", "gold"), nil, 400},
		{"no vendorId", "POST", ispPath, `{"inSkillProductDefinition":` + def("x") + `}`, nil, 400},
		{"unknown type", "POST", ispPath, `{"vendorId":"M1V","inSkillProductDefinition":{"type":"FREE","referenceName":"x"}}`, nil, 400},
		{"not JSON", "POST", ispPath, `{`, nil, 400},
		{"live stage never published", "GET", ispPath + "/" + id + "/stages/live", "", nil, 404},
		{"unknown stage", "GET", ispPath + "/" + id + "/stages/beta", "", nil, 400},
		{"unknown product", "GET", ispPath + "/amzn1.adg.product.nope/stages/development", "", nil, 404},
		{"update of live", "PUT", ispPath + "/" + id + "/stages/live", `{"inSkillProductDefinition":` + def("gold") + `}`, nil, 403},
		{"update, stale If-Match", "PUT", path, `{"inSkillProductDefinition":` + def("gold") + `}`, map[string]string{"If-Match": `"stale"`}, 412},
		{"update renames", "PUT", path, `{"inSkillProductDefinition":` + def("platinum") + `}`, nil, 400},
		{"update, current If-Match", "PUT", path, `{"inSkillProductDefinition":` + def("gold") + `}`, map[string]string{"If-Match": etag}, 204},
		{"update, the old If-Match again", "PUT", path, `{"inSkillProductDefinition":` + def("gold") + `}`, map[string]string{"If-Match": etag}, 412},
		{"associate", "PUT", ispPath + "/" + id + "/skills/" + skill1, "", nil, 204},
		{"associate again: the same", "PUT", ispPath + "/" + id + "/skills/" + skill1, "", nil, 204},
		{"associate a bad skill id", "PUT", ispPath + "/" + id + "/skills/skill-1", "", nil, 400},
		{"associate an unknown product", "PUT", ispPath + "/amzn1.adg.product.nope/skills/" + skill1, "", nil, 404},
		{"delete while associated", "DELETE", path, "", nil, 403},
		{"disassociate", "DELETE", ispPath + "/" + id + "/skills/" + skill1, "", nil, 204},
		{"disassociate again", "DELETE", ispPath + "/" + id + "/skills/" + skill1, "", nil, 404},
		{"delete in live", "DELETE", ispPath + "/" + id + "/stages/live", "", nil, 403},
		{"delete", "DELETE", path, "", nil, 204},
		{"gone", "GET", path, "", nil, 404},
	}
	for _, s := range steps {
		r := callH(t, srv, s.method, s.path, s.body, s.header)
		if r.status != s.want {
			t.Errorf("%s: got %d, want %d (%v)", s.name, r.status, s.want, r.body)
			continue
		}
		switch {
		case r.status >= 400:
			isISPError(t, s.name, r)
		case r.status == 204 && r.body != nil:
			t.Errorf("%s: 204 with a body %v", s.name, r.body)
		}
	}
	live := e.PutProduct("M1V", "published", true)
	if r := call(t, srv, tok, "DELETE", ispPath+"/"+live+"/stages/development", ""); r.status != 403 {
		t.Errorf("delete of a live product: %d %v", r.status, r.body)
	} else {
		isISPError(t, "delete live", r)
	}
	if r := call(t, srv, tok, "GET", ispPath+"/"+live+"/stages/live/summary", ""); r.body["inSkillProductSummary"].(map[string]any)["status"] != "PUBLISHED" {
		t.Errorf("live summary: %v", r.body)
	}
}

func callH(t *testing.T, srv *httptest.Server, method, path, body string, header map[string]string) reply {
	t.Helper()
	s := srv
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, header: resp.Header}
	_ = json.NewDecoder(resp.Body).Decode(&r.body)
	return r
}

// list follows a list to its end, checking each page's paging fields, and
// returns the ids listed (productId or skill id) and the pages read.
func list(t *testing.T, srv *httptest.Server, path, field string, wrapped bool) ([]string, int) {
	t.Helper()
	var got []string
	next := path
	for pages := 1; ; pages++ {
		r := call(t, srv, tok, "GET", next, "")
		if r.status != 200 {
			t.Fatalf("GET %s: %d %v", next, r.status, r.body)
		}
		body := r.body
		if wrapped {
			w, ok := body["inSkillProductSummaryList"].(map[string]any)
			if !ok || len(body) != 1 {
				t.Fatalf("GET %s: not wrapped in inSkillProductSummaryList: %v", next, body)
			}
			body = w
		}
		items, ok := body[field].([]any)
		if !ok {
			t.Fatalf("GET %s: no %s list: %v", next, field, body)
		}
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				got = append(got, m["productId"].(string))
			} else {
				got = append(got, it.(string))
			}
		}
		links, _ := body["_links"].(map[string]any)
		if links["self"] == nil {
			t.Errorf("GET %s: no _links.self", next)
		}
		trunc, ok := body["isTruncated"].(bool)
		if !ok {
			t.Fatalf("GET %s: no isTruncated: %v", next, body)
		}
		if !trunc {
			if body["nextToken"] != nil || links["next"] != nil {
				t.Errorf("GET %s: last page with a nextToken or next link: %v", next, body)
			}
			return got, pages
		}
		tok, _ := body["nextToken"].(string)
		href, _ := links["next"].(map[string]any)["href"].(string)
		if tok == "" || !strings.Contains(href, "nextToken="+url.QueryEscape(tok)) {
			t.Fatalf("GET %s: truncated without nextToken and next link: %v", next, body)
		}
		u, _ := url.Parse(path)
		q := u.Query()
		q.Set("nextToken", tok)
		next = u.Path + "?" + q.Encode()
	}
}

func TestProductListsPage(t *testing.T) {
	for _, flat := range []bool{false, true} {
		e, srv := newServer(t, Options{ISPPageSize: 2, ISPFlatLists: flat})
		var ids []string
		for i := range 5 {
			id := e.PutProduct("M1V", fmt.Sprintf("p%d", i), false)
			e.Associate("development", id, skill1)
			ids = append(ids, id)
		}
		slices.Sort(ids)
		e.Associate("development", ids[0], "amzn1.ask.skill.2", "amzn1.ask.skill.3", "amzn1.ask.skill.4")
		got, pages := list(t, srv, "/v1/skills/"+skill1+"/stages/development/inSkillProducts?maxResults=100", "inSkillProducts", !flat)
		if !slices.Equal(got, ids) || pages != 3 {
			t.Errorf("flat %v: a skill's products: got %v in %d pages, want %v in 3", flat, got, pages, ids)
		}
		got, pages = list(t, srv, ispPath+"/"+ids[0]+"/stages/development/skills?maxResults=2", "associatedSkillIds", false)
		if len(got) != 4 || pages != 2 || got[0] != skill1 {
			t.Errorf("a product's skills: got %v in %d pages", got, pages)
		}
		got, _ = list(t, srv, ispPath+"?vendorId=M1V&maxResults=1", "inSkillProducts", !flat)
		if !slices.Equal(got, ids) {
			t.Errorf("vendor list: got %v", got)
		}
		if got, _ := list(t, srv, "/v1/skills/amzn1.ask.skill.none/stages/live/inSkillProducts", "inSkillProducts", !flat); len(got) != 0 {
			t.Errorf("a skill with nothing live: %v", got)
		}
	}
	_, srv := newServer(t, Options{})
	for _, bad := range []string{
		"/v1/skills/" + skill1 + "/stages/development/inSkillProducts?maxResults=0",
		"/v1/skills/" + skill1 + "/stages/development/inSkillProducts?maxResults=101",
		"/v1/skills/" + skill1 + "/stages/development/inSkillProducts?nextToken=forged",
		"/v1/skills/" + skill1 + "/stages/beta/inSkillProducts",
		ispPath,
		ispPath + "?vendorId=M1V&productId=a&maxResults=5",
	} {
		r := call(t, srv, tok, "GET", bad, "")
		if r.status != 400 {
			t.Errorf("GET %s: got %d, want 400", bad, r.status)
			continue
		}
		isISPError(t, bad, r)
	}
}

func TestProductErrorsOfTheSharedWrapper(t *testing.T) {
	_, srv := newServer(t, Options{Faults: "503:1"})
	r := call(t, srv, "wrong", "GET", ispPath+"?vendorId=M1V", "")
	if r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("bad token: %d %v %v", r.status, r.header, r.body)
	}
	isISPError(t, "401", r)
	r = call(t, srv, tok, "PUT", ispPath+"/x/skills/"+skill1, "")
	if r.status != 503 {
		t.Fatalf("fault: %d", r.status)
	}
	isISPError(t, "503 fault", r)
	// Smart Properties routes keep their own error body.
	r = call(t, srv, "wrong", "POST", assocPath+"/query", `{"filters":{}}`)
	if r.body["type"] != "UNAUTHORIZED" {
		t.Errorf("Smart Properties 401: %v", r.body)
	}
}

func TestUpdateAnswers200(t *testing.T) {
	e, srv := newServer(t, Options{ISPUpdateAnswers200: true})
	id := e.PutProduct("M1V", "gold", false)
	r := call(t, srv, tok, "PUT", ispPath+"/"+id+"/stages/development", `{"inSkillProductDefinition":`+def("gold")+`}`)
	if r.status != 200 || r.body["inSkillProductDefinition"] == nil {
		t.Errorf("update, the page's reading: %d %v", r.status, r.body)
	}
}

func TestProductTokenEndpointCapitalO(t *testing.T) {
	_, srv := newServer(t, Options{})
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {DefaultRefreshToken},
		"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
	resp, err := srv.Client().PostForm(srv.URL+"/auth/O2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.AccessToken == "" || body.ExpiresIn <= 0 {
		t.Fatalf("POST /auth/O2/token: %d %+v %v", resp.StatusCode, body, err)
	}
	if r := call(t, srv, body.AccessToken, "GET", ispPath+"?vendorId=M1V", ""); r.status != 200 {
		t.Errorf("the issued token: %d", r.status)
	}
}

func TestProductsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	e1, _ := newServer(t, Options{StateFile: path, SeedProducts: 2})
	ids := e1.ProductIDs()
	e1.Associate("development", ids[0], skill1)
	e1.Associate("live", ids[1], skill1)
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	e2, _ := newServer(t, Options{StateFile: path})
	if got := e2.ProductIDs(); !slices.Equal(got, ids) || len(got) != 2 {
		t.Errorf("products after restart: %v, want %v", got, ids)
	}
	if got := e2.ProductSkills("development", ids[0]); !slices.Equal(got, []string{skill1}) {
		t.Errorf("development associations after restart: %v", got)
	}
	if got := e2.ProductSkills("live", ids[1]); !slices.Equal(got, []string{skill1}) {
		t.Errorf("live associations after restart: %v", got)
	}
}
