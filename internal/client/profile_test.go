package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
	"golang.org/x/oauth2"
)

const (
	unitHas  = "amzn1.alexa.unit.did.HAS"
	unitNone = "amzn1.alexa.unit.did.NONE"
	unitNo   = "amzn1.alexa.unit.did.UNKNOWN"
	profHas  = "amzn1.alexa.communications.profile.did.HAS"
)

// recorder remembers the method and path (with query) of every request.
type recorder struct {
	mu   sync.Mutex
	sent []string
	next http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.sent = append(r.sent, req.Method+" "+req.URL.RequestURI())
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func profileContract(t *testing.T, o emulator.ProfileOptions) (*Client, *emulator.Emulator, *recorder) {
	t.Helper()
	if o.Units == nil {
		o.Units = map[string]string{unitHas: profHas, unitNone: ""}
	}
	e, err := emulator.New(emulator.Options{StaticToken: "contract-token", Profiles: o})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	rec := &recorder{next: http.DefaultTransport}
	c, err := New(Options{Endpoint: srv.URL, HTTPClient: &http.Client{Transport: rec},
		Token: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "contract-token"})})
	if err != nil {
		t.Fatal(err)
	}
	return c, e, rec
}

func TestProfileCreateAndGet(t *testing.T) {
	c, e, rec := profileContract(t, emulator.ProfileOptions{})
	ctx := context.Background()
	p, err := c.CreateProfile(ctx, ProfileRequest{UnitID: unitNone, Name: "Room 102"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !strings.HasPrefix(p.ID, "amzn1.alexa.communications.profile.did.") || p.UnitID != unitNone {
		t.Errorf("create: got %+v", p)
	}
	if got := rec.sent[0]; got != "POST /v1/communications/profile/" {
		t.Errorf("create sent %q, want the collection's path with its trailing slash", got)
	}
	if e.Units()[unitNone] != p.ID || e.ProfileName(unitNone) != "Room 102" {
		t.Errorf("emulator after create: %v, name %q", e.Units(), e.ProfileName(unitNone))
	}
	again, err := c.CreateProfile(ctx, ProfileRequest{UnitID: unitNone})
	if err != nil || again.ID != p.ID {
		t.Errorf("idempotent create: got %+v, %v, want %s", again, err, p.ID)
	}
	got, err := c.GetProfileByUnit(ctx, unitHas)
	if err != nil || got == nil || got.ID != profHas || got.UnitID != unitHas {
		t.Errorf("get by unit: got %+v, %v", got, err)
	}
	if want := "GET /v1/communications/profile?entity.id=" + unitHas + "&entity.type=UNIT"; rec.sent[2] != want {
		t.Errorf("get by unit sent %q, want %q", rec.sent[2], want)
	}
	if _, err := c.CreateProfile(ctx, ProfileRequest{UnitID: unitNo}); StatusOf(err) != 404 {
		t.Errorf("create for an unknown unit: got %v, want 404", err)
	}
	for unit, want := range map[string]bool{unitHas: true, unitNone: true, unitNo: false} {
		if got, err := c.UnitExists(ctx, unit); got != want || err != nil {
			t.Errorf("UnitExists(%s): got %v, %v; want %v", unit, got, err, want)
		}
	}
	if want := "GET /v2/units/" + unitNo; !slices.Contains(rec.sent, want) {
		t.Errorf("unit reads sent %q, want %q among them", rec.sent, want)
	}
}

func TestProfileMissingUnderEachReading(t *testing.T) {
	tests := []struct {
		missing    string
		wantStatus int // 0: a nil profile and no error
	}{{"404", 404}, {"empty", 0}}
	for _, tt := range tests {
		t.Run(tt.missing, func(t *testing.T) {
			c, _, _ := profileContract(t, emulator.ProfileOptions{Missing: tt.missing})
			p, err := c.GetProfileByUnit(context.Background(), unitNone)
			if p != nil || StatusOf(err) != tt.wantStatus || (tt.wantStatus == 0 && err != nil) {
				t.Errorf("unit without profile: got %+v, %v; want no profile and status %d", p, err, tt.wantStatus)
			}
			if _, err := c.GetProfileByUnit(context.Background(), unitNo); StatusOf(err) != 404 {
				t.Errorf("unknown unit: got %v, want 404", err)
			}
		})
	}
}

func TestProfileByIDUnderEachWriteStatus(t *testing.T) {
	for _, status := range []int{200, 204} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			c, e, _ := profileContract(t, emulator.ProfileOptions{WriteStatus: status})
			ctx := context.Background()
			if err := c.UpdateProfileName(ctx, profHas, "Suite 101"); err != nil {
				t.Fatalf("update: %v", err)
			}
			p, err := c.GetProfile(ctx, profHas)
			if err != nil || p.Name != "Suite 101" || p.UnitID != unitHas {
				t.Errorf("get: got %+v, %v", p, err)
			}
			if err := c.DeleteProfile(ctx, profHas); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if e.Units()[unitHas] != "" {
				t.Errorf("profile still there after delete")
			}
			if err := c.DeleteProfile(ctx, profHas); StatusOf(err) != 404 {
				t.Errorf("second delete: got %v, want 404", err)
			}
		})
	}
}

func TestProfileBatchUnderEachReading(t *testing.T) {
	reqs := []ProfileRequest{{UnitID: unitHas}, {UnitID: unitNone, Name: "Room 102"}, {UnitID: unitNo}}
	tests := []struct {
		reading string
		itemID  string // the emulator's accepted itemId type
		numeric bool   // what the client sends
		// confirmed: the units the answer must confirm; the others are unsettled
		confirmed  []string
		wantStatus int // of an *APIError; 0 for an answer
	}{
		{emulator.BatchResults, "", false, []string{unitHas, unitNone}, 0},
		{emulator.BatchResults, "", true, []string{unitHas, unitNone}, 0},
		{emulator.BatchItems, "", false, []string{unitHas, unitNone}, 0},
		{emulator.BatchArray, "", false, []string{unitHas, unitNone}, 0},
		{emulator.BatchFlat, "", false, nil, 0},
		{emulator.BatchEmpty, "", false, nil, 0},
		{emulator.BatchAsync, "", false, nil, 0},
		{emulator.BatchResults, "number", false, nil, 400},
		{emulator.BatchResults, "number", true, []string{unitHas, unitNone}, 0},
		{emulator.BatchResults, "string", true, nil, 400},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/numeric=%v", tt.reading, tt.itemID, tt.numeric), func(t *testing.T) {
			c, e, _ := profileContract(t, emulator.ProfileOptions{Batch: tt.reading, ItemID: tt.itemID})
			res, err := c.CreateProfiles(context.Background(), reqs, tt.numeric)
			if tt.wantStatus != 0 {
				if StatusOf(err) != tt.wantStatus {
					t.Fatalf("got %+v, %v; want a %d", res, err, tt.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatalf("batch: %v", err)
			}
			if len(res.Profiles) != len(tt.confirmed) {
				t.Errorf("confirmed %v, want exactly %v", res.Profiles, tt.confirmed)
			}
			for _, u := range tt.confirmed {
				if got := res.Profiles[u]; got.ID == "" || got.ID != e.Units()[u] || got.UnitID != u {
					t.Errorf("unit %s: confirmed %+v, emulator has %q", u, got, e.Units()[u])
				}
			}
		})
	}
}

func TestProfileBatchLimits(t *testing.T) {
	c, _, rec := profileContract(t, emulator.ProfileOptions{})
	for _, n := range []int{0, MaxProfileBatch + 1} {
		if _, err := c.CreateProfiles(context.Background(), make([]ProfileRequest, n), false); err == nil {
			t.Errorf("a batch of %d was sent", n)
		}
	}
	if len(rec.sent) != 0 {
		t.Errorf("sent %v, want nothing", rec.sent)
	}
}

// TestReadBatchTrustsOnlyWhatIsUnambiguous feeds answers no reading of the
// notes would give, or gives in part.
func TestReadBatchTrustsOnlyWhatIsUnambiguous(t *testing.T) {
	byItem := map[string]string{"1": "U1", "2": "U2"}
	asked := map[string]bool{"U1": true, "U2": true}
	tests := []struct {
		name, body string
		want       map[string]string // unit -> profile id
	}{
		{"by itemId of either type", `{"results":[{"itemId":1,"profileId":{"profileId":"amzn1.p1"}},{"itemId":"2","profileId":{"profileId":"amzn1.p2"}}]}`,
			map[string]string{"U1": "amzn1.p1", "U2": "amzn1.p2"}},
		{"by entity alone", `[{"entity":{"type":"UNIT","id":"U2"},"profileId":{"profileId":"amzn1.p2"}}]`, map[string]string{"U2": "amzn1.p2"}},
		{"itemId and entity disagree", `{"results":[{"itemId":"1","entity":{"id":"U2"},"profileId":{"profileId":"amzn1.p"}}]}`, map[string]string{}},
		{"an itemId never sent", `{"results":[{"itemId":"9","entity":{"id":"U1"},"profileId":{"profileId":"amzn1.p"}}]}`, map[string]string{}},
		{"a unit never asked about", `{"results":[{"entity":{"id":"U9"},"profileId":{"profileId":"amzn1.p"}}]}`, map[string]string{}},
		{"one unit, two ids", `{"a":[{"itemId":"1","profileId":{"profileId":"amzn1.p"}}],"b":[{"itemId":"1","profileId":{"profileId":"amzn1.q"}}]}`, map[string]string{}},
		{"an id that is not an ACI", `{"results":[{"itemId":"1","profileId":{"profileId":"p1"}}]}`, map[string]string{}},
		{"a flat id", `{"results":[{"itemId":"1","profileId":"amzn1.p1"}]}`, map[string]string{}},
		{"an error entry", `{"results":[{"itemId":"1","error":{"type":"NOT_FOUND"}}]}`, map[string]string{}},
		{"no correlation at all", `{"results":[{"profileId":{"profileId":"amzn1.p1"}}]}`, map[string]string{}},
		{"not JSON", `<html>`, map[string]string{}},
		{"nothing", ``, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readBatch([]byte(tt.body), byItem, asked)
			ids := map[string]string{}
			for u, p := range got {
				ids[u] = p.ID
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", ids, tt.want)
			}
		})
	}
}

// TestProfileAnswersOutsideTheNotes: answers no reading allows are
// failures, never a success.
func TestProfileAnswersOutsideTheNotes(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		call   func(c *Client) error
	}{
		{"create answered 200", 200, `{"profileId":{"profileId":"amzn1.p"}}`, func(c *Client) error {
			_, err := c.CreateProfile(context.Background(), ProfileRequest{UnitID: "U"})
			return err
		}},
		{"create without an id", 201, `{"entity":{"type":"UNIT","id":"U"}}`, func(c *Client) error {
			_, err := c.CreateProfile(context.Background(), ProfileRequest{UnitID: "U"})
			return err
		}},
		{"create of another unit", 201, `{"entity":{"type":"UNIT","id":"V"},"profileId":{"profileId":"amzn1.p"}}`, func(c *Client) error {
			_, err := c.CreateProfile(context.Background(), ProfileRequest{UnitID: "U"})
			return err
		}},
		{"get by unit about another unit", 200, `{"entity":{"type":"UNIT","id":"V"},"profileId":{"profileId":"amzn1.p"}}`, func(c *Client) error {
			_, err := c.GetProfileByUnit(context.Background(), "U")
			return err
		}},
		{"get by unit with a flat id", 200, `{"profileId":"amzn1.p"}`, func(c *Client) error {
			_, err := c.GetProfileByUnit(context.Background(), "U")
			return err
		}},
		{"get by unit answered 204", 204, ``, func(c *Client) error {
			_, err := c.GetProfileByUnit(context.Background(), "U")
			return err
		}},
		{"get by unit that is not JSON", 200, `<html>`, func(c *Client) error {
			_, err := c.GetProfileByUnit(context.Background(), "U")
			return err
		}},
		{"get of another profile", 200, `{"profileId":{"profileId":"amzn1.other"}}`, func(c *Client) error {
			_, err := c.GetProfile(context.Background(), "amzn1.p")
			return err
		}},
		{"update answered 202", 202, ``, func(c *Client) error { return c.UpdateProfileName(context.Background(), "amzn1.p", "x") }},
		{"delete answered 201", 201, ``, func(c *Client) error { return c.DeleteProfile(context.Background(), "amzn1.p") }},
		{"update answered 200 with a page that is not JSON", 200, `<html>`, func(c *Client) error {
			return c.UpdateProfileName(context.Background(), "amzn1.p", "x")
		}},
		{"delete answered 200 with a page that is not JSON", 200, `<html>`, func(c *Client) error { return c.DeleteProfile(context.Background(), "amzn1.p") }},
		{"unit read answered 204", 204, ``, func(c *Client) error {
			_, err := c.UnitExists(context.Background(), "U")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, err := New(Options{Endpoint: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			err = tt.call(c)
			var ae *APIError
			if !errors.As(err, &ae) || !ae.Unexpected || ae.Status != tt.status {
				t.Errorf("got %v, want an Unexpected *APIError with status %d", err, tt.status)
			}
		})
	}
}
