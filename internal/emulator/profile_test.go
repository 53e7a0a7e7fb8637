package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// Written from api/PROFILE-NOTES.md with raw HTTP, like the rest of this
// package's tests.

const (
	unitA  = "amzn1.alexa.unit.did.AAAA"    // has a profile
	unitB  = "amzn1.alexa.unit.did.BBBB"    // has none
	unitNo = "amzn1.alexa.unit.did.UNKNOWN" // does not exist
	profA  = "amzn1.alexa.communications.profile.did.AAAA"
)

func profileServer(t *testing.T, o ProfileOptions) (*Emulator, func(method, path, body string) reply) {
	t.Helper()
	if o.Units == nil {
		o.Units = map[string]string{unitA: profA, unitB: ""}
	}
	e, srv := newServer(t, Options{Profiles: o})
	return e, func(method, path, body string) reply { return call(t, srv, "test-token", method, path, body) }
}

func byUnit(unit string) string { return profilePath + "?entity.type=UNIT&entity.id=" + unit }

// nestedID reads the documented doubly nested profileId.profileId.
func nestedID(t *testing.T, body map[string]any) string {
	t.Helper()
	obj, ok := body["profileId"].(map[string]any)
	if !ok {
		t.Fatalf("profileId is not an object: %v", body)
	}
	id, _ := obj["profileId"].(string)
	return id
}

func TestProfileCreateIsIdempotent(t *testing.T) {
	e, do := profileServer(t, ProfileOptions{})
	body := `{"entity":{"type":"UNIT","id":"` + unitB + `"},"name":"Room 102"}`
	first := do("POST", profilePath+"/", body)
	if first.status != 201 {
		t.Fatalf("create: got %d %v, want 201", first.status, first.body)
	}
	id := nestedID(t, first.body)
	if !strings.HasPrefix(id, "amzn1.alexa.communications.profile.did.") {
		t.Errorf("profile id %q is not a profile ACI", id)
	}
	if ent, _ := first.body["entity"].(map[string]any); ent["type"] != "UNIT" || ent["id"] != unitB {
		t.Errorf("entity: got %v, want UNIT %s", first.body["entity"], unitB)
	}
	again := do("POST", profilePath+"/", `{"entity":{"type":"UNIT","id":"`+unitB+`"},"name":"Suite 102"}`)
	if again.status != 201 || nestedID(t, again.body) != id {
		t.Errorf("second create: got %d %v, want 201 with the same id %s", again.status, again.body, id)
	}
	if got := e.ProfileName(unitB); got != "Suite 102" {
		t.Errorf("name after the second create: got %q, want the new name", got)
	}
	if got := e.Units()[unitB]; got != id {
		t.Errorf("unit state: got %q, want %q", got, id)
	}
}

func TestProfileCreatePaths(t *testing.T) {
	// The collection's path has a trailing slash, the docs' has none: both
	// create, and neither answers with a redirect (which would carry the
	// bearer token elsewhere).
	e, _ := profileServer(t, ProfileOptions{Units: map[string]string{unitA: "", unitB: ""}})
	for unit, path := range map[string]string{unitA: profilePath + "/", unitB: profilePath} {
		status, body := rawCall(t, e, "POST", path, `{"entity":{"type":"UNIT","id":"`+unit+`"}}`)
		if status != 201 {
			t.Errorf("POST %s: got %d %s, want 201", path, status, body)
		}
	}
	if n := e.Stats().Count("profile.create", "201"); n != 2 {
		t.Errorf("stats: got %d profile.create 201s, want 2", n)
	}
}

func TestProfileRefusals(t *testing.T) {
	_, do := profileServer(t, ProfileOptions{})
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"create of an unknown unit", "POST", profilePath + "/", `{"entity":{"type":"UNIT","id":"` + unitNo + `"}}`, 404},
		{"create without entity", "POST", profilePath + "/", `{"name":"x"}`, 400},
		{"create of another entity type", "POST", profilePath + "/", `{"entity":{"type":"ORG","id":"` + unitB + `"}}`, 400},
		{"create of no body", "POST", profilePath + "/", ``, 400},
		{"get by unit without type", "GET", profilePath + "?entity.id=" + unitA, "", 400},
		{"get by unit without id", "GET", profilePath + "?entity.type=UNIT", "", 400},
		{"get by an unknown unit", "GET", byUnit(unitNo), "", 404},
		{"get by a unit without profile", "GET", byUnit(unitB), "", 404},
		{"get an unknown profile", "GET", profilePath + "/amzn1.nope", "", 404},
		{"update an unknown profile", "PUT", profilePath + "/amzn1.nope", `{"name":"x"}`, 404},
		{"update without name", "PUT", profilePath + "/" + profA, `{}`, 400},
		{"delete an unknown profile", "DELETE", profilePath + "/amzn1.nope", "", 404},
		{"get an unknown unit", "GET", "/v2/units/" + unitNo, "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(tt.method, tt.path, tt.body)
			if got.status != tt.want {
				t.Errorf("got %d %v, want %d", got.status, got.body, tt.want)
			}
			if _, ok := got.body["type"].(string); !ok {
				t.Errorf("answer is not an Error object: %v", got.body)
			}
		})
	}
}

func TestProfileReadsAndWrites(t *testing.T) {
	for _, status := range []int{200, 204} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			e, do := profileServer(t, ProfileOptions{WriteStatus: status})
			if got := do("GET", "/v2/units/"+unitB, ""); got.status != 200 || got.body["id"] != unitB {
				t.Errorf("get unit: got %d %v", got.status, got.body)
			}
			got := do("GET", byUnit(unitA), "")
			if got.status != 200 || nestedID(t, got.body) != profA {
				t.Fatalf("get by unit: got %d %v, want 200 with %s", got.status, got.body, profA)
			}
			if got := do("PUT", profilePath+"/"+profA, `{"name":"Room 101"}`); got.status != status {
				t.Errorf("update: got %d %v, want %d", got.status, got.body, status)
			} else if status == 200 && got.body["name"] != "Room 101" {
				t.Errorf("update answer: got %v, want the profile with its new name", got.body)
			}
			got = do("GET", profilePath+"/"+profA, "")
			if got.status != 200 || nestedID(t, got.body) != profA || got.body["name"] != "Room 101" {
				t.Errorf("get by id: got %d %v", got.status, got.body)
			}
			if ent, _ := got.body["entity"].(map[string]any); ent["id"] != unitA {
				t.Errorf("get by id names unit %v, want %s", got.body["entity"], unitA)
			}
			if got := do("DELETE", profilePath+"/"+profA, ""); got.status != status {
				t.Errorf("delete: got %d, want %d", got.status, status)
			}
			if got := do("GET", byUnit(unitA), ""); got.status != 404 {
				t.Errorf("get by unit after delete: got %d, want 404", got.status)
			}
			if e.Units()[unitA] != "" {
				t.Errorf("unit still has a profile after delete: %v", e.Units())
			}
		})
	}
}

func TestProfileMissingReadings(t *testing.T) {
	tests := []struct {
		missing    string
		wantStatus int
	}{{"", 404}, {"404", 404}, {"empty", 200}}
	for _, tt := range tests {
		_, do := profileServer(t, ProfileOptions{Missing: tt.missing})
		got := do("GET", byUnit(unitB), "")
		if got.status != tt.wantStatus {
			t.Errorf("missing %q: got %d, want %d", tt.missing, got.status, tt.wantStatus)
		}
		if tt.wantStatus == 200 && len(got.body) != 0 {
			t.Errorf("missing %q: got %v, want {}", tt.missing, got.body)
		}
		if got := do("GET", byUnit(unitNo), ""); got.status != 404 {
			t.Errorf("missing %q: unknown unit answered %d, want 404", tt.missing, got.status)
		}
	}
}

// rawCall is call for answers that may not be a JSON object.
func rawCall(t *testing.T, e *Emulator, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer test-token")
	rec := &recorder{header: http.Header{}}
	e.ServeHTTP(rec, req)
	return rec.status, rec.body.String()
}

type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(s int)           { r.status = s }

var _ io.Writer = (*recorder)(nil)

func TestProfileBatchReadings(t *testing.T) {
	batch := `{"items":[{"itemId":"1","entity":{"type":"UNIT","id":"` + unitA + `"}},` +
		`{"itemId":"2","entity":{"type":"UNIT","id":"` + unitB + `"},"name":"Room 102"},` +
		`{"itemId":"3","entity":{"type":"UNIT","id":"` + unitNo + `"}}]}`
	tests := []struct {
		reading    string
		wantStatus int
		check      func(t *testing.T, body string)
	}{
		{BatchResults, 200, func(t *testing.T, body string) { checkEntries(t, body, "results", false) }},
		{"", 200, func(t *testing.T, body string) { checkEntries(t, body, "results", false) }},
		{BatchItems, 200, func(t *testing.T, body string) { checkEntries(t, body, "items", false) }},
		{BatchArray, 200, func(t *testing.T, body string) { checkEntries(t, body, "", false) }},
		{BatchFlat, 200, func(t *testing.T, body string) { checkEntries(t, body, "results", true) }},
		{BatchEmpty, 201, func(t *testing.T, body string) {
			if strings.TrimSpace(body) != "{}" {
				t.Errorf("body: got %q, want {}", body)
			}
		}},
		{BatchAsync, 202, func(t *testing.T, body string) {
			if body != "" {
				t.Errorf("body: got %q, want none", body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.reading, func(t *testing.T) {
			e, _ := profileServer(t, ProfileOptions{Batch: tt.reading})
			status, body := rawCall(t, e, "POST", profileBatchPath, batch)
			if status != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", status, body, tt.wantStatus)
			}
			tt.check(t, body)
			// Every reading applies the batch: the answer is all that differs.
			units := e.Units()
			if units[unitA] != profA || units[unitB] == "" {
				t.Errorf("after the batch: got %v, want %s kept and %s given a profile", units, unitA, unitB)
			}
			if e.ProfileName(unitB) != "Room 102" {
				t.Errorf("name of the new profile: got %q", e.ProfileName(unitB))
			}
		})
	}
}

// checkEntries checks the entries of a batch answer: one per item in order,
// the itemId as sent, the profile (nested twice unless flat) or an Error.
func checkEntries(t *testing.T, body, key string, flat bool) {
	t.Helper()
	var entries []map[string]any
	if key == "" {
		if err := json.Unmarshal([]byte(body), &entries); err != nil {
			t.Fatalf("answer is not an array: %s", body)
		}
	} else {
		var m map[string][]map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil || m[key] == nil {
			t.Fatalf("answer has no %q array: %s", key, body)
		}
		entries = m[key]
	}
	if len(entries) != 3 {
		t.Fatalf("got %d entries, want 3: %s", len(entries), body)
	}
	for i, want := range []string{"1", "2", "3"} {
		if entries[i]["itemId"] != want {
			t.Errorf("entry %d: itemId %v, want %q as sent", i, entries[i]["itemId"], want)
		}
	}
	if flat {
		if id, _ := entries[0]["profileId"].(string); id != profA {
			t.Errorf("flat entry: profileId %v, want %s", entries[0]["profileId"], profA)
		}
	} else if nestedID(t, entries[0]) != profA {
		t.Errorf("entry 1: got %v, want %s", entries[0], profA)
	}
	if errObj, _ := entries[2]["error"].(map[string]any); errObj["type"] != "NOT_FOUND" {
		t.Errorf("entry of the unknown unit: got %v, want an Error object NOT_FOUND", entries[2])
	}
}

func TestProfileBatchRefusals(t *testing.T) {
	item := func(id, unit string) string {
		return `{"itemId":` + id + `,"entity":{"type":"UNIT","id":"` + unit + `"}}`
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = item(fmt.Sprint(i+1), fmt.Sprintf("amzn1.alexa.unit.did.N%d", i))
	}
	tests := []struct {
		name, itemID, body string
		want               int
	}{
		{"no items", "", `{"items":[]}`, 400},
		{"no items member", "", `{}`, 400},
		{"101 items", "", `{"items":[` + strings.Join(many, ",") + `]}`, 400},
		{"100 items", "", `{"items":[` + strings.Join(many[:100], ",") + `]}`, 200},
		{"no itemId", "", `{"items":[{"entity":{"type":"UNIT","id":"` + unitB + `"}}]}`, 400},
		{"itemId twice", "", `{"items":[` + item(`"1"`, unitA) + `,` + item(`"1"`, unitB) + `]}`, 400},
		{"unit twice", "", `{"items":[` + item(`"1"`, unitB) + `,` + item(`"2"`, unitB) + `]}`, 400},
		{"an object itemId", "", `{"items":[` + item(`{}`, unitB) + `]}`, 400},
		{"string itemId where numbers are wanted", "number", `{"items":[` + item(`"1"`, unitB) + `]}`, 400},
		{"number itemId where numbers are wanted", "number", `{"items":[` + item(`1`, unitB) + `]}`, 200},
		{"number itemId where strings are wanted", "string", `{"items":[` + item(`1`, unitB) + `]}`, 400},
		{"string itemId where strings are wanted", "string", `{"items":[` + item(`"1"`, unitB) + `]}`, 200},
		{"either type by default", "", `{"items":[` + item(`1`, unitA) + `,` + item(`"2"`, unitB) + `]}`, 200},
		{"another entity type", "", `{"items":[{"itemId":"1","entity":{"type":"ORG","id":"x"}}]}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := profileServer(t, ProfileOptions{ItemID: tt.itemID})
			if status, body := rawCall(t, e, "POST", profileBatchPath, tt.body); status != tt.want {
				t.Errorf("got %d %s, want %d", status, body, tt.want)
			}
		})
	}
}

func TestProfileOptionsChecked(t *testing.T) {
	for _, o := range []ProfileOptions{{Batch: "xml"}, {ItemID: "bool"}, {Missing: "410"}, {WriteStatus: 201}} {
		if _, err := New(Options{Profiles: o}); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
}

func TestDemoUnitsSeededAndKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	e1, err := New(Options{StateFile: path, StaticToken: "test-token"})
	if err != nil {
		t.Fatal(err)
	}
	units := e1.Units()
	if len(units) != 20 || units[DemoUnitPrefix+"101"] != DemoProfilePrefix+"101" || units[DemoUnitPrefix+"111"] != "" {
		t.Fatalf("demo units: got %v", units)
	}
	status, body := rawCall(t, e1, "POST", profilePath+"/", `{"entity":{"type":"UNIT","id":"`+DemoUnitPrefix+`111"}}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	e2, err := New(Options{StateFile: path, StaticToken: "test-token"})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := e2.Units()[DemoUnitPrefix+"111"]; got == "" {
		t.Errorf("a profile created before the restart is gone after it (seeding overwrote the state)")
	}
	status, body = rawCall(t, e2, "GET", byUnit(DemoUnitPrefix+"111"), "")
	if status != 200 {
		t.Errorf("get by unit after restart: %d %s", status, body)
	}
	none, _ := New(Options{Profiles: ProfileOptions{Units: map[string]string{}}})
	defer none.Close()
	if n := len(none.Units()); n != 0 {
		t.Errorf("an empty Units seeds none: got %d units", n)
	}
}

func TestProfileFaultsAndRateLimit(t *testing.T) {
	e, srv := newServer(t, Options{Faults: "503:1"})
	if got := call(t, srv, "test-token", "GET", byUnit(DemoUnitPrefix+"101"), ""); got.status != 503 {
		t.Errorf("fault: got %d, want 503", got.status)
	}
	if n := e.Stats().Count("profile.by_unit", "503"); n != 1 {
		t.Errorf("stats: got %d profile.by_unit 503s, want 1", n)
	}
	_, srv = newServer(t, Options{RPS: 0.01})
	call(t, srv, "test-token", "GET", byUnit(DemoUnitPrefix+"101"), "")
	if got := call(t, srv, "test-token", "POST", profileBatchPath, `{}`); got.status != 429 || got.header.Get("Retry-After") == "" {
		t.Errorf("rate limit: got %d, want 429 with Retry-After", got.status)
	}
	if got := call(t, srv, "", "GET", byUnit(DemoUnitPrefix+"101"), ""); got.status != 401 {
		t.Errorf("no token: got %d, want 401", got.status)
	}
}
