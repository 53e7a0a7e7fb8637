package job

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

// Management calls against the emulator: the API's answer as JSON on
// standard output, and only that; refusals with what to do about them.

const skill = "amzn1.ask.skill.demo-1"

// manage makes one management call on a and returns its output, result
// and error.
func (a *api) manage(t *testing.T, s *Session, o ManageOptions) (string, Result, error) {
	t.Helper()
	var st streams
	o.IO = st.io()
	res, err := Manage(context.Background(), s, o)
	return st.stdout.String(), res, err
}

// answer is a management command's output as JSON.
func answer(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out)
	}
	return m
}

// Onboarding a provider and mapping it to a skill, each call's answer
// printed.
func TestManageProviderAndNetwork(t *testing.T) {
	a := newAPI(t, emulator.Options{})
	s := a.session(t, Connect{})
	out, res, err := a.manage(t, s, ManageOptions{Op: "provider.create", LogicalID: "grand-hotel", DisplayName: "Grand Hotel & Spa", Locale: "en-US"})
	if err != nil || res.Verdict != Clean {
		t.Fatalf("provider create: %v", err)
	}
	if !strings.Contains(out, `"Grand Hotel & Spa"`) {
		t.Errorf("the answer escapes what it need not: %s", out)
	}
	id, _ := answer(t, out)["serviceProviderId"].(string)
	if !strings.HasPrefix(id, "amzn1.comms.csp.id.") {
		t.Fatalf("provider create: %s", out)
	}
	steps := []struct {
		o    ManageOptions
		want string // in the output; "" none
	}{
		{ManageOptions{Op: "provider.get", ID: id}, `"serviceProviderLogicalId": "grand-hotel"`},
		{ManageOptions{Op: "provider.update", ID: id, DisplayName: "Grand Hotel", Locale: "en-US"}, `"value": "Grand Hotel"`},
		{ManageOptions{Op: "network.create", ID: id, SkillID: skill}, `"status": "ACTIVE"`},
		{ManageOptions{Op: "network.get", ID: id}, `"skillId": "` + skill + `"`},
		{ManageOptions{Op: "network.update", ID: id, SkillID: "amzn1.ask.skill.demo-2"}, `"status": "ACTIVE"`},
		{ManageOptions{Op: "network.get", ID: id}, `"skillId": "amzn1.ask.skill.demo-2"`},
		{ManageOptions{Op: "network.delete", ID: id}, ""},
		{ManageOptions{Op: "provider.delete", ID: id}, ""},
	}
	for _, step := range steps {
		out, res, err := a.manage(t, s, step.o)
		if err != nil || res.Verdict != Clean || !strings.Contains(out, step.want) || step.want == "" && out != "" {
			t.Errorf("%s: %v\n%s\nwant %q", step.o.Op, err, out, step.want)
		}
	}
	// Gone: the API's 404 is the error, and the verdict a failure.
	_, res, err = a.manage(t, s, ManageOptions{Op: "provider.get", ID: id})
	if res.Verdict != RowsFailed || err == nil || !strings.HasPrefix(err.Error(), "provider.get: ") || res.Summary.ExitCode != 1 ||
		res.Summary.Message != err.Error() {
		t.Errorf("get of a deleted provider: %d, %v, %+v", res.Verdict, err, res.Summary)
	}
}

func TestManageRefusesBeforeCalling(t *testing.T) {
	a := newAPI(t, emulator.Options{})
	s := a.session(t, Connect{})
	manifest := a.file(t, "m.json", `{"type":"ENTITLEMENT","referenceName":"x"}`)
	tests := []struct {
		o    ManageOptions
		want string
	}{
		{ManageOptions{Op: "provider.create"}, "--logical-id must be 1 to 255 characters, got 0"},
		{ManageOptions{Op: "provider.create", LogicalID: "x", DisplayName: strings.Repeat("é", 256)}, "--display-name must be 1 to 255 characters, got 256"},
		{ManageOptions{Op: "provider.update", ID: demo}, "--display-name must be 1 to 255 characters, got 0"},
		{ManageOptions{Op: "provider.get", ID: "demo"}, `PROVIDER_ID: serviceProviderId "demo" is not an ACI`},
		{ManageOptions{Op: "network.create", ID: demo}, "--skill-id must be 1 to 255 characters, got 0"},
		{ManageOptions{Op: "network.update", ID: demo, SkillID: "skill-1"}, `--skill-id "skill-1" is not a skill id`},
		{ManageOptions{Op: "products.list"}, "give --vendor-id or --skill-id (one of them)"},
		{ManageOptions{Op: "products.list", VendorID: "V", SkillID: skill}, "give --vendor-id or --skill-id (one of them)"},
		{ManageOptions{Op: "products.list", SkillID: "amzn1.ask.skill."}, "--skill-id \"amzn1.ask.skill.\" does not start with amzn1.ask.skill."},
		{ManageOptions{Op: "products.create", File: manifest}, "--vendor-id is required"},
		{ManageOptions{Op: "products.get", ID: "amzn1.adg.product.a/b"}, `PRODUCT_ID "amzn1.adg.product.a/b" contains '/'`},
		{ManageOptions{Op: "products.create", VendorID: "V", File: a.path("none.json")}, "--file: open "},
		{ManageOptions{Op: "products.create", VendorID: "V", File: a.file(t, "list.json", `[1]`)}, "not a JSON object"},
		{ManageOptions{Op: "products.create", VendorID: "V", File: a.file(t, "inner.json", `{"inSkillProductDefinition":[1]}`)},
			"inSkillProductDefinition is not a JSON object"},
		{ManageOptions{Op: "products.create", VendorID: "V", File: a.file(t, "noref.json", `{"type":"ENTITLEMENT"}`)},
			"the definition has no referenceName (or give --reference-name)"},
		{ManageOptions{Op: "products.update", ID: "amzn1.adg.product.1", File: manifest, ReferenceName: strings.Repeat("r", 256)},
			"--reference-name must be 1 to 255 characters"},
	}
	for _, tt := range tests {
		out, res, err := a.manage(t, s, tt.o)
		if res.Verdict != Usage || err == nil || !strings.Contains(err.Error(), tt.want) || out != "" {
			t.Errorf("%s %+v: %d, %v, printed %q; want a usage error saying %q", tt.o.Op, tt.o, res.Verdict, err, out, tt.want)
		}
	}
	if n := a.Stats().Total; n != 0 {
		t.Errorf("refused commands made %d calls", n)
	}
}

func TestManageProducts(t *testing.T) {
	a := newAPI(t, emulator.Options{SeedProducts: 5, ISPPageSize: 2})
	s := a.session(t, Connect{SMAPI: true})
	// An emulated session lists the demo vendor's products by default.
	emulated := &Session{API: s.API, Caller: s.Caller, Emulated: true}
	out, _, err := a.manage(t, emulated, ManageOptions{Op: "products.list"})
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Products []struct {
			ProductID, ReferenceName string
		} `json:"inSkillProducts"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Products) != 5 {
		t.Fatalf("products list of 3 pages: %v, %d products\n%s", err, len(list.Products), out)
	}
	first := list.Products[0].ProductID

	// A product's definition is a manifest for another, named anew.
	out, _, err = a.manage(t, s, ManageOptions{Op: "products.get", ID: first, Stage: "development"})
	if err != nil {
		t.Fatal(err)
	}
	def := answer(t, out)
	etag, _ := def["eTag"].(string)
	if etag == "" || def["inSkillProductDefinition"] == nil {
		t.Fatalf("products get: %s", out)
	}
	manifest := a.file(t, "manifest.json", out)
	out, _, err = a.manage(t, s, ManageOptions{Op: "products.create", VendorID: emulator.DefaultVendor, File: manifest, ReferenceName: "second-life"})
	created, _ := answer(t, out)["productId"].(string)
	if err != nil || !strings.HasPrefix(created, ProductPrefix) {
		t.Fatalf("products create: %v\n%s", err, out)
	}
	a.Associate("development", created, skill)

	steps := []struct {
		name    string
		o       ManageOptions
		verdict Verdict
		want    string // in the output, or the error and hint when the verdict is not Clean
	}{
		{"summary", ManageOptions{Op: "products.get", ID: created, Stage: "development", Short: true}, Clean, `"referenceName": "second-life"`},
		{"its skills", ManageOptions{Op: "products.skills", ID: created, Stage: "development"}, Clean, `"associatedSkillIds": [` + "\n    \"" + skill + `"`},
		{"a skill's products", ManageOptions{Op: "products.list", SkillID: skill}, Clean, `"productId": "` + created + `"`},
		{"a vendor's, filtered", ManageOptions{Op: "products.list", VendorID: emulator.DefaultVendor, Stage: "development", Type: "ENTITLEMENT"}, Clean, created},
		{"update", ManageOptions{Op: "products.update", ID: first, File: manifest, ETag: etag}, Clean, ""},
		{"update with a stale eTag", ManageOptions{Op: "products.update", ID: first, File: manifest, ETag: etag}, RowsFailed,
			"read it again (bulksync products get) and retry with the new --etag"},
		{"delete of an associated product", ManageOptions{Op: "products.delete", ID: created}, RowsFailed,
			"disassociate it first (bulksync products skills lists its skills)"},
		{"delete with a stale eTag", ManageOptions{Op: "products.delete", ID: first, ETag: etag}, RowsFailed, "retry with the new --etag"},
		{"delete", ManageOptions{Op: "products.delete", ID: first}, Clean, ""},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			out, res, err := a.manage(t, s, step.o)
			if res.Verdict != step.verdict {
				t.Fatalf("got %d, %v; want %d", res.Verdict, err, step.verdict)
			}
			if step.verdict == Clean {
				if err != nil || !strings.Contains(out, step.want) || step.want == "" && out != "" {
					t.Errorf("%v\n%s\nwant %q", err, out, step.want)
				}
				return
			}
			if err == nil || res.Summary.Hint != Hint(err) || !strings.Contains(res.Summary.Hint, step.want) || out != "" {
				t.Errorf("error %v, hint %q, output %q; want the hint %q", err, res.Summary.Hint, out, step.want)
			}
		})
	}
}

// A list whose server keeps answering the token it was asked with is
// stopped, not followed for ever.
func TestManageListRepeatedToken(t *testing.T) {
	a := newAPI(t, emulator.Options{SeedProducts: 3, ISPPageSize: 1, EndlessPages: emulator.PagesSameToken})
	out, res, err := a.manage(t, a.session(t, Connect{SMAPI: true}), ManageOptions{Op: "products.list", VendorID: emulator.DefaultVendor})
	if err == nil || !strings.Contains(err.Error(), "products.list: page 4: ") || res.Verdict != RowsFailed || out != "" {
		t.Errorf("got %d, %v, output %q; want the repeated token refused", res.Verdict, err, out)
	}
	if n := a.Stats().Count("product.list", ""); n != 3 {
		t.Errorf("%d pages asked, want 3", n)
	}
}

// How a management call ends early: the run's context ended, the
// credentials were refused, or its answer could not be printed.
func TestManageEndsEarly(t *testing.T) {
	a := newAPI(t, emulator.Options{})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	// A session whose token the API does not know, and can't be replaced.
	refused, err := Open(Connect{Endpoint: a.url, Calls: fastCalls()}, map[string]string{"BULKSYNC_ACCESS_TOKEN": "not-the-token"}, nopLog)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ctx     context.Context
		refused bool              // the session's credentials are refused
		stdout  func(st *streams) // replaces Stdout
		op      string
		verdict Verdict
		err     string
		hint    string
	}{
		{name: "interrupted, the call", ctx: cancelled, op: "provider.get", verdict: Interrupted, err: "provider.get: context canceled"},
		{name: "interrupted, a list", ctx: cancelled, op: "products.list", verdict: Interrupted, err: "products.list: context canceled"},
		{name: "an answer that can't be printed", op: "provider.get", verdict: OutputLost,
			err: "can't write the answer to standard output: broken pipe", hint: "the call was made, but its answer is lost: read it back with get"},
		{name: "credentials refused, the call", op: "provider.get", refused: true, verdict: Aborted,
			err: "provider.get: authentication refused"},
		{name: "credentials refused, a list", op: "products.list", refused: true, verdict: Aborted,
			err: "products.list: authentication refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx
			}
			s := a.session(t, Connect{})
			if tt.refused {
				s = refused
			}
			var st streams
			o := ManageOptions{Op: tt.op, ID: demo, VendorID: emulator.DefaultVendor, IO: st.io()}
			if tt.verdict == OutputLost {
				o.IO.Stdout = &failAfter{}
			}
			res, err := Manage(ctx, s, o)
			if res.Verdict != tt.verdict || err == nil || !strings.Contains(err.Error(), tt.err) || res.Summary.Hint != tt.hint {
				t.Errorf("got %d, %v, hint %q; want %d, %q, %q", res.Verdict, err, res.Summary.Hint, tt.verdict, tt.err, tt.hint)
			}
			if tt.verdict == Interrupted && !errors.Is(err, context.Canceled) {
				t.Errorf("an interrupted call: %v", err)
			}
		})
	}
}
