package emulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// What the reference pages and the vendor's clients say, beyond the happy
// path: the refusals say what was wrong, both token paths answer, and the
// readings the pages leave open can each be played.
func TestFidelity(t *testing.T) {
	_, srv := newServer(t, Options{})
	tests := []struct {
		name, method, path, body string
		status                   int
		message                  string
	}{
		{"a field of the wrong type", "POST", assocPath, `{"externalUserId":7201,"amazonId":"amzn1.a","amazonIdType":"communication-profile"}`,
			400, "externalUserId must be a string, not number"},
		{"filter ids of the wrong type", "POST", assocPath + "/query", `{"filters":{"externalUserIds":"7201"}}`,
			400, "filters.externalUserIds must be an array, not string"},
		{"broken JSON", "POST", assocPath, `{"externalUserId":`, 400, "not valid JSON"},
		{"an amazonIdType the page does not describe", "POST", assocPath,
			`{"externalUserId":"7201","amazonId":"amzn1.a","amazonIdType":"Communication-Profile"}`, 400, "amazonIdType must be communication-profile"},
		{"the same, on update", "PUT", assocPath, `{"externalUserId":"7201","amazonId":"amzn1.a","amazonIdType":"phone"}`,
			400, "amazonIdType must be communication-profile"},
	}
	for _, tt := range tests {
		r := call(t, srv, "test-token", tt.method, tt.path, tt.body)
		if r.status != tt.status || !strings.Contains(r.body["message"].(string), tt.message) || r.body["type"] != "BAD_REQUEST" {
			t.Errorf("%s: got %d %v, want %d saying %q", tt.name, r.status, r.body, tt.status, tt.message)
		}
	}
	if r := call(t, srv, "test-token", "GET", providersPath+"/"+DefaultProvider, ""); r.status != 200 ||
		!strings.Contains(stringOf(r.body["displayName"]), "Demo Property") {
		t.Errorf("seeded provider: %d %v, want a display name", r.status, r.body)
	}
}

func stringOf(v any) string {
	b := new(strings.Builder)
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				b.WriteString(m["value"].(string))
			}
		}
	}
	return b.String()
}

func TestTokenPathsAndFaults(t *testing.T) {
	_, srv := newServer(t, Options{TokenFaults: "503:1"})
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {DefaultRefreshToken},
		"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
	for _, path := range []string{"/auth/o2/token", "/auth/O2/token"} {
		resp, err := http.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Errorf("%s with token faults 503:1: got %d, want 503", path, resp.StatusCode)
		}
	}
	_, srv = newServer(t, Options{})
	for _, path := range []string{"/auth/o2/token", "/auth/O2/token"} {
		resp, err := http.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: got %d, want 200", path, resp.StatusCode)
		}
	}
	if _, err := New(Options{TokenFaults: "teapot:1"}); err == nil {
		t.Errorf("bad token faults: want an error")
	}
}

// totalCount of a filtered query: the provider's associations, or the
// matches; a listing counts the provider under both readings.
func TestTotalCountReadings(t *testing.T) {
	for reading, want := range map[string]float64{"": 5, "provider": 5, "matches": 2} {
		e, srv := newServer(t, Options{TotalCount: reading})
		e.Put(DefaultProvider, map[string]string{"1": "amzn1.a", "2": "amzn1.a", "3": "amzn1.a", "4": "amzn1.a", "5": "amzn1.a"})
		r := call(t, srv, "test-token", "POST", assocPath+"/query", `{"filters":{"externalUserIds":["1","2","9"]}}`)
		if got := r.body["paginationContext"].(map[string]any)["totalCount"]; got != want {
			t.Errorf("reading %q, filtered: totalCount %v, want %v", reading, got, want)
		}
		r = call(t, srv, "test-token", "POST", assocPath+"/query", `{"filters":{}}`)
		if got := r.body["paginationContext"].(map[string]any)["totalCount"]; got != 5.0 {
			t.Errorf("reading %q, listing: totalCount %v, want 5", reading, got)
		}
		e.Remove(DefaultProvider, "1", "2")
		if n := len(e.Associations(DefaultProvider)); n != 3 {
			t.Errorf("Remove: %d left, want 3", n)
		}
	}
	if _, err := New(Options{TotalCount: "all"}); err == nil {
		t.Errorf("unknown reading: want an error")
	}
}
