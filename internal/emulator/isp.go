package emulator

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// In-Skill Product Management, served as api/ISP-NOTES.md says the vendor's
// SDK model has it: wrapped product lists, paging of 1 to 100 with
// isTruncated, nextToken and _links, ETags, 204s, and the ISP error bodies
// ({"code","message"}; {"message","violations"} for 400 and 403). Where the
// reference page reads otherwise (flat lists, an update answered 200 with
// the definition), Options play the page's reading.

// DefaultVendor is the vendor of the demo products and of --emulate runs.
const DefaultVendor = "M1BULKSYNCDEMO"

const (
	ispPath        = "/v1/inSkillProducts"
	ispMaxPage     = 100
	ispMaxFilterID = 50
	stageDev       = "development"
	stageLive      = "live"
	skillPrefix    = "amzn1.ask.skill."
	productPrefix  = "amzn1.adg.product."
)

// product is one in-skill product. Associations belong to a stage: the
// associate and disassociate calls change the development stage; the live
// stage changes only through certification (seeded here by tests).
type product struct {
	ID         string
	VendorID   string
	Version    int
	Updated    time.Time
	Definition json.RawMessage // development
	Live       json.RawMessage // the published definition; nil when never published
	Skills     map[string]map[string]bool
}

func (p *product) etag() string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d", p.ID, p.Version))
	return `"` + hex.EncodeToString(h[:8]) + `"`
}

func (p *product) definition(stage string) json.RawMessage {
	if stage == stageLive {
		return p.Live
	}
	return p.Definition
}

func (p *product) associated() int { return len(p.Skills[stageDev]) + len(p.Skills[stageLive]) }

// productID is derived from vendor and reference name (unique per vendor),
// so a walkthrough's CSV can name the products it creates; the real API
// assigns random ids of the same form.
func productID(vendorID, referenceName string) string {
	h := sha256.Sum256([]byte(vendorID + "\x00" + referenceName))
	x := hex.EncodeToString(h[:16])
	return productPrefix + x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

type fileProduct struct {
	ID          string          `json:"productId"`
	VendorID    string          `json:"vendorId"`
	Version     int             `json:"version"`
	LastUpdated time.Time       `json:"lastUpdated"`
	Definition  json.RawMessage `json:"definition"`
	Live        json.RawMessage `json:"live,omitempty"`
	Skills      []string        `json:"skills,omitempty"`
	LiveSkills  []string        `json:"liveSkills,omitempty"`
}

func (s *state) fileProducts() []fileProduct {
	var out []fileProduct
	for _, id := range slices.Sorted(maps.Keys(s.Products)) {
		p := s.Products[id]
		out = append(out, fileProduct{ID: p.ID, VendorID: p.VendorID, Version: p.Version, LastUpdated: p.Updated,
			Definition: p.Definition, Live: p.Live,
			Skills: slices.Sorted(maps.Keys(p.Skills[stageDev])), LiveSkills: slices.Sorted(maps.Keys(p.Skills[stageLive]))})
	}
	return out
}

func (s *state) loadProducts(fps []fileProduct) {
	for _, fp := range fps {
		p := &product{ID: fp.ID, VendorID: fp.VendorID, Version: fp.Version, Updated: fp.LastUpdated,
			Definition: fp.Definition, Live: fp.Live, Skills: map[string]map[string]bool{stageDev: {}, stageLive: {}}}
		for _, sk := range fp.Skills {
			p.Skills[stageDev][sk] = true
		}
		for _, sk := range fp.LiveSkills {
			p.Skills[stageLive][sk] = true
		}
		s.Products[p.ID] = p
	}
}

// ISP error bodies.

func ispError(status int, code, msg string) answer {
	return answer{status, map[string]string{"code": code, "message": msg}}
}

// ispViolation is a 400 or 403: {"message","violations":[{"code","message"}]}.
func ispViolation(status int, code, msg string) answer {
	return answer{status, map[string]any{"message": msg, "violations": []map[string]string{{"code": code, "message": msg}}}}
}

func ispBadRequest(code, format string, args ...any) answer {
	return ispViolation(http.StatusBadRequest, code, fmt.Sprintf(format, args...))
}

func ispNotFound(format string, args ...any) answer {
	return ispError(http.StatusNotFound, "NOT_FOUND", fmt.Sprintf(format, args...))
}

func (e *Emulator) ispRoutes(m *http.ServeMux) {
	api := func(pattern, op string, h func(*http.Request, []byte) answer, write bool) {
		m.HandleFunc(pattern, ispErrors(e.wrap(op, h, write)))
	}
	api("GET "+ispPath, "product.list", e.listVendorProducts, false)
	api("POST "+ispPath, "product.create", e.createProduct, true)
	api("POST "+ispPath+"/{$}", "product.create", e.createProduct, true) // some clients send the trailing /
	api("GET "+ispPath+"/{productId}/stages/{stage}", "product.get", e.getProductDefinition, false)
	api("PUT "+ispPath+"/{productId}/stages/{stage}", "product.update", e.updateProduct, true)
	api("DELETE "+ispPath+"/{productId}/stages/{stage}", "product.delete", e.deleteProduct, true)
	api("GET "+ispPath+"/{productId}/stages/{stage}/summary", "product.summary", e.getProductSummary, false)
	api("GET "+ispPath+"/{productId}/stages/{stage}/skills", "product.skills", e.listProductSkills, false)
	api("PUT "+ispPath+"/{productId}/skills/{skillId}", "product.associate", e.associate, true)
	api("DELETE "+ispPath+"/{productId}/skills/{skillId}", "product.disassociate", e.disassociate, true)
	api("GET /v1/skills/{skillId}/stages/{stage}/inSkillProducts", "skill.products", e.listSkillProducts, false)
}

// ispErrors turns the Smart Properties error bodies that the shared wrapper
// answers (bad token, rate limit, faults) into ISP ones: every error of an
// ISP route has the ISP shape, and a 401 says WWW-Authenticate.
func ispErrors(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		iw := &ispWriter{ResponseWriter: w}
		h(iw, r)
		iw.finish()
	}
}

type ispWriter struct {
	http.ResponseWriter
	status int // an error status held back until finish; 0 when passing through
	buf    bytes.Buffer
}

func (w *ispWriter) WriteHeader(status int) {
	if status >= 400 {
		w.status = status
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *ispWriter) Write(b []byte) (int, error) {
	if w.status != 0 {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Hijack lets the reset fault drop the connection.
func (w *ispWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *ispWriter) finish() {
	if w.status == 0 {
		return
	}
	body := w.buf.Bytes()
	var sp struct {
		Type    *string `json:"type"`
		Message string  `json:"message"`
	}
	if json.Unmarshal(body, &sp) == nil && sp.Type != nil {
		var a answer
		if w.status == http.StatusBadRequest || w.status == http.StatusForbidden {
			a = ispViolation(w.status, *sp.Type, sp.Message)
		} else {
			a = ispError(w.status, *sp.Type, sp.Message)
		}
		body, _ = json.Marshal(a.body)
		body = append(body, '\n')
	}
	if w.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(body)
}

// Paging: maxResults 1 to 100; a page holds at most Options.ISPPageSize; the
// token is opaque to the client and tied to the listing it came from. Inside
// it is an offset, the simplest reading of the page's "the next values after
// the maxResults are shown": lists carry no total, so a client cannot see
// that an entry deleted between two pages made it skip another.

type pageReq struct {
	offset, limit int
}

func (e *Emulator) ispPage(r *http.Request, scope string) (pageReq, answer, bool) {
	q := r.URL.Query()
	pr := pageReq{limit: e.ispPageSize()}
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ispMaxPage {
			return pr, ispBadRequest("INVALID_MAX_RESULTS", "maxResults must be an integer from 1 to %d, got %q", ispMaxPage, v), false
		}
		pr.limit = min(n, pr.limit)
	}
	if tok := q.Get("nextToken"); tok != "" {
		off, err := parsePageToken(tok, []string{scope})
		if err != nil || len(tok) > 2047 || off < 0 {
			return pr, ispBadRequest("INVALID_NEXT_TOKEN", "nextToken is not valid for this list"), false
		}
		pr.offset = off
	}
	return pr, answer{}, true
}

func (e *Emulator) ispPageSize() int {
	if n := e.opts.ISPPageSize; n > 0 && n < ispMaxPage {
		return n
	}
	return ispMaxPage
}

// paging is a list answer's paging fields: _links, isTruncated, nextToken.
func paging(r *http.Request, scope string, next int) map[string]any {
	self := r.URL.Path
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	links := map[string]any{"self": map[string]string{"href": self}}
	out := map[string]any{"_links": links, "isTruncated": next >= 0}
	if next >= 0 {
		tok := pageToken(next, []string{scope})
		q := r.URL.Query()
		q.Set("nextToken", tok)
		links["next"] = map[string]string{"href": r.URL.Path + "?" + q.Encode()}
		out["nextToken"] = tok
	}
	return out
}

// listed is one entry of a product list: a product in a stage.
type listed struct {
	p     *product
	stage string
}

func (e *Emulator) productList(r *http.Request, scope string, entries []listed) answer {
	pr, a, ok := e.ispPage(r, scope)
	if !ok {
		return a
	}
	pos, next := e.window(pr.offset, pr.limit, len(entries))
	list := paging(r, scope, next)
	items := make([]map[string]any, 0, len(pos))
	for _, i := range pos {
		s := summary(entries[i].p, entries[i].stage)
		if i == 0 {
			switch e.opts.ISPBlankID {
			case FieldEmpty:
				s["productId"] = ""
			case FieldOmitted:
				delete(s, "productId")
			}
		}
		items = append(items, s)
	}
	list["inSkillProducts"] = items
	if e.opts.ISPFlatLists {
		return answer{http.StatusOK, list}
	}
	return answer{http.StatusOK, map[string]any{"inSkillProductSummaryList": list}}
}

func checkStage(stage string) (answer, bool) {
	if stage != stageDev && stage != stageLive {
		return ispBadRequest("INVALID_STAGE", "stage must be development or live, got %q", stage), false
	}
	return answer{}, true
}

func checkSkillID(id string) (answer, bool) {
	if !strings.HasPrefix(id, skillPrefix) || len(id) == len(skillPrefix) || len(id) > maxIDLen {
		return ispBadRequest("INVALID_SKILL_ID", "skillId %q is not a skill id (%s…)", id, skillPrefix), false
	}
	return answer{}, true
}

// productIn is the product of the request's path that exists in the stage.
func (e *Emulator) productIn(r *http.Request, stage string) (*product, answer, bool) {
	id := r.PathValue("productId")
	p := e.state.Products[id]
	if p == nil || p.definition(stage) == nil {
		return nil, ispNotFound("in-skill product %s not found in stage %s", id, stage), false
	}
	return p, answer{}, true
}

func sortedProducts(m map[string]*product, keep func(*product) bool) []*product {
	var out []*product
	for _, id := range slices.Sorted(maps.Keys(m)) {
		if keep(m[id]) {
			out = append(out, m[id])
		}
	}
	return out
}

func (e *Emulator) listSkillProducts(r *http.Request, _ []byte) answer {
	skill, stage := r.PathValue("skillId"), r.PathValue("stage")
	if a, ok := checkStage(stage); !ok {
		return a
	}
	if a, ok := checkSkillID(skill); !ok {
		return a
	}
	var entries []listed
	for _, p := range sortedProducts(e.state.Products, func(p *product) bool { return p.Skills[stage][skill] }) {
		entries = append(entries, listed{p, stage})
	}
	return e.productList(r, "skill\x00"+skill+"\x00"+stage, entries)
}

func (e *Emulator) listProductSkills(r *http.Request, _ []byte) answer {
	stage := r.PathValue("stage")
	if a, ok := checkStage(stage); !ok {
		return a
	}
	p, a, ok := e.productIn(r, stage)
	if !ok {
		return a
	}
	pr, a, ok := e.ispPage(r, "product\x00"+p.ID+"\x00"+stage)
	if !ok {
		return a
	}
	skills := slices.Sorted(maps.Keys(p.Skills[stage]))
	pos, next := e.window(pr.offset, pr.limit, len(skills))
	out := paging(r, "product\x00"+p.ID+"\x00"+stage, next)
	skillIDs := make([]*string, 0, len(pos)) // nil: a null entry (Options.ISPBlankID)
	for _, i := range pos {
		id := skills[i]
		switch {
		case i != 0 || e.opts.ISPBlankID == "":
			skillIDs = append(skillIDs, &id)
		case e.opts.ISPBlankID == FieldEmpty:
			skillIDs = append(skillIDs, new(string))
		default:
			skillIDs = append(skillIDs, nil)
		}
	}
	out["associatedSkillIds"] = skillIDs
	return answer{http.StatusOK, out}
}

func (e *Emulator) associate(r *http.Request, _ []byte) answer {
	skill := r.PathValue("skillId")
	if a, ok := checkSkillID(skill); !ok {
		return a
	}
	p, a, ok := e.productIn(r, stageDev)
	if !ok {
		return a
	}
	p.Skills[stageDev][skill] = true // associating twice is the same as once
	return answer{status: http.StatusNoContent}
}

func (e *Emulator) disassociate(r *http.Request, _ []byte) answer {
	skill := r.PathValue("skillId")
	if a, ok := checkSkillID(skill); !ok {
		return a
	}
	p, a, ok := e.productIn(r, stageDev)
	if !ok {
		return a
	}
	if !p.Skills[stageDev][skill] {
		return ispNotFound("in-skill product %s is not associated with skill %s", p.ID, skill)
	}
	delete(p.Skills[stageDev], skill)
	return answer{status: http.StatusNoContent}
}

// Products.

var (
	productTypes      = []string{"SUBSCRIPTION", "ENTITLEMENT", "CONSUMABLE"}
	purchasableStates = []string{"PURCHASABLE", "NOT_PURCHASABLE"}
	promotableStates  = []string{"IN_SKILL_ONLY", "ALL_AMAZON_CHANNELS"}
)

// definition is what the emulator reads of a product definition; the rest
// is kept as sent.
type definition struct {
	Type                  string `json:"type"`
	ReferenceName         string `json:"referenceName"`
	PurchasableState      string `json:"purchasableState"`
	PromotableState       string `json:"promotableState"`
	PublishingInformation struct {
		Locales map[string]struct {
			Name string `json:"name"`
		} `json:"locales"`
		Pricing map[string]struct {
			ReleaseDate         string `json:"releaseDate"`
			DefaultPriceListing *struct {
				Price    float64 `json:"price"`
				Currency string  `json:"currency"`
			} `json:"defaultPriceListing"`
		} `json:"pricing"`
	} `json:"publishingInformation"`
	PrivacyAndCompliance json.RawMessage `json:"privacyAndCompliance"`
	TestingInstructions  string          `json:"testingInstructions"`
}

func parseDefinition(raw json.RawMessage) (definition, answer, bool) {
	var d definition
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return d, ispBadRequest("MISSING_PARAMETER", "inSkillProductDefinition is required"), false
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, ispBadRequest("INVALID_DEFINITION", "inSkillProductDefinition is not a valid definition: %v", err), false
	}
	switch {
	case !slices.Contains(productTypes, d.Type):
		return d, ispBadRequest("INVALID_TYPE", "type must be one of %s, got %q", strings.Join(productTypes, ", "), d.Type), false
	case d.ReferenceName == "" || len([]rune(d.ReferenceName)) > maxIDLen:
		return d, ispBadRequest("INVALID_REFERENCE_NAME", "referenceName must be 1 to %d characters", maxIDLen), false
	case d.PurchasableState != "" && !slices.Contains(purchasableStates, d.PurchasableState):
		return d, ispBadRequest("INVALID_PURCHASABLE_STATE", "purchasableState must be one of %s", strings.Join(purchasableStates, ", ")), false
	case d.PromotableState != "" && !slices.Contains(promotableStates, d.PromotableState):
		return d, ispBadRequest("INVALID_PROMOTABLE_STATE", "promotableState must be one of %s", strings.Join(promotableStates, ", ")), false
	}
	return d, answer{}, true
}

// summary is a product's summary in a stage, in the SDK model's shape.
func summary(p *product, stage string) map[string]any {
	var d definition
	_ = json.Unmarshal(p.definition(stage), &d) // checked when stored
	s := map[string]any{
		"productId": p.ID, "type": d.Type, "referenceName": d.ReferenceName, "stage": stage,
		"lastUpdated":      p.Updated.UTC().Format("2006-01-02T15:04:05.000Z"),
		"purchasableState": "PURCHASABLE", "promotableState": "IN_SKILL_ONLY",
		"editableState": "EDITABLE", "status": "INCOMPLETE",
		"_links": map[string]any{"self": map[string]string{"href": ispPath + "/" + url.PathEscape(p.ID) + "/stages/" + stage + "/summary"}},
	}
	if d.PurchasableState != "" {
		s["purchasableState"] = d.PurchasableState
	}
	if d.PromotableState != "" {
		s["promotableState"] = d.PromotableState
	}
	switch {
	case stage == stageLive:
		s["status"], s["editableState"] = "PUBLISHED", "NOT_EDITABLE"
	case len(d.PublishingInformation.Locales) > 0 && d.PrivacyAndCompliance != nil && d.TestingInstructions != "":
		s["status"] = "COMPLETE"
	}
	names := map[string]string{}
	for loc, l := range d.PublishingInformation.Locales {
		names[loc] = l.Name
	}
	s["nameByLocale"] = names
	pricing := map[string]any{}
	for mkt, pr := range d.PublishingInformation.Pricing {
		m := map[string]any{}
		if pr.ReleaseDate != "" {
			m["releaseDate"] = pr.ReleaseDate
		}
		if pr.DefaultPriceListing != nil {
			m["defaultPriceListing"] = map[string]any{"price": pr.DefaultPriceListing.Price, "currency": pr.DefaultPriceListing.Currency}
		}
		pricing[mkt] = m
	}
	s["pricing"] = pricing
	return s
}

func (e *Emulator) createProduct(r *http.Request, body []byte) answer {
	var b struct {
		VendorID   *string         `json:"vendorId"`
		Definition json.RawMessage `json:"inSkillProductDefinition"`
	}
	if err := decode(body, &b); err != nil {
		return ispBadRequest("INVALID_REQUEST_BODY", "%v", err)
	}
	if b.VendorID == nil || *b.VendorID == "" {
		return ispBadRequest("MISSING_PARAMETER", "vendorId is required")
	}
	d, a, ok := parseDefinition(b.Definition)
	if !ok {
		return a
	}
	id := productID(*b.VendorID, d.ReferenceName)
	if e.state.Products[id] != nil {
		return ispBadRequest("DUPLICATE_REFERENCE_NAME", "vendor %s already has an in-skill product with referenceName %q", *b.VendorID, d.ReferenceName)
	}
	e.putProductLocked(*b.VendorID, id, b.Definition)
	return answer{http.StatusCreated, map[string]string{"productId": id}}
}

func (e *Emulator) putProductLocked(vendorID, id string, def json.RawMessage) *product {
	p := &product{ID: id, VendorID: vendorID, Version: 1, Updated: e.opts.Now(), Definition: bytes.Clone(def),
		Skills: map[string]map[string]bool{stageDev: {}, stageLive: {}}}
	e.state.Products[id] = p
	return p
}

// withETag is an answer body that also sets the product's ETag header.
type withETag struct {
	body any
	etag string
}

func (b withETag) MarshalJSON() ([]byte, error) { return json.Marshal(b.body) }

func (b withETag) headers() http.Header { return http.Header{"Etag": {b.etag}} }

func (e *Emulator) getProductDefinition(r *http.Request, _ []byte) answer {
	stage := r.PathValue("stage")
	if a, ok := checkStage(stage); !ok {
		return a
	}
	p, a, ok := e.productIn(r, stage)
	if !ok {
		return a
	}
	return answer{http.StatusOK, withETag{map[string]json.RawMessage{"inSkillProductDefinition": p.definition(stage)}, p.etag()}}
}

func (e *Emulator) getProductSummary(r *http.Request, _ []byte) answer {
	stage := r.PathValue("stage")
	if a, ok := checkStage(stage); !ok {
		return a
	}
	p, a, ok := e.productIn(r, stage)
	if !ok {
		return a
	}
	return answer{http.StatusOK, withETag{map[string]any{"inSkillProductSummary": summary(p, stage)}, p.etag()}}
}

// writable is the development product of an update or delete, checked
// against its stage and If-Match.
func (e *Emulator) writable(r *http.Request) (*product, answer, bool) {
	stage := r.PathValue("stage")
	if a, ok := checkStage(stage); !ok {
		return nil, a, false
	}
	if stage != stageDev {
		return nil, ispViolation(http.StatusForbidden, "STAGE_NOT_EDITABLE", "only the development stage of an in-skill product can be changed"), false
	}
	p, a, ok := e.productIn(r, stageDev)
	if !ok {
		return nil, a, false
	}
	if m := r.Header.Get("If-Match"); m != "" && m != p.etag() {
		return nil, ispError(http.StatusPreconditionFailed, "PRECONDITION_FAILED",
			fmt.Sprintf("If-Match %s is not the current ETag of in-skill product %s: it changed since it was read", m, p.ID)), false
	}
	return p, answer{}, true
}

func (e *Emulator) updateProduct(r *http.Request, body []byte) answer {
	p, a, ok := e.writable(r)
	if !ok {
		return a
	}
	var b struct {
		Definition json.RawMessage `json:"inSkillProductDefinition"`
	}
	if err := decode(body, &b); err != nil {
		return ispBadRequest("INVALID_REQUEST_BODY", "%v", err)
	}
	d, a, ok := parseDefinition(b.Definition)
	if !ok {
		return a
	}
	if productID(p.VendorID, d.ReferenceName) != p.ID {
		return ispBadRequest("INVALID_REFERENCE_NAME", "referenceName can't be changed")
	}
	p.Definition, p.Version, p.Updated = bytes.Clone(b.Definition), p.Version+1, e.opts.Now()
	if e.opts.ISPUpdateAnswers200 {
		return answer{http.StatusOK, withETag{map[string]json.RawMessage{"inSkillProductDefinition": p.Definition}, p.etag()}}
	}
	return answer{status: http.StatusNoContent}
}

func (e *Emulator) deleteProduct(r *http.Request, _ []byte) answer {
	p, a, ok := e.writable(r)
	if !ok {
		return a
	}
	switch {
	case p.Live != nil:
		return ispViolation(http.StatusForbidden, "PRODUCT_IS_LIVE", "in-skill product "+p.ID+" is live: live products can't be deleted")
	case p.associated() > 0:
		return ispViolation(http.StatusForbidden, "PRODUCT_IS_ASSOCIATED",
			fmt.Sprintf("in-skill product %s is associated with %d skill(s): disassociate it first", p.ID, p.associated()))
	}
	delete(e.state.Products, p.ID)
	return answer{status: http.StatusNoContent}
}

func (e *Emulator) listVendorProducts(r *http.Request, _ []byte) answer {
	q := r.URL.Query()
	vendor := q.Get("vendorId")
	if vendor == "" {
		return ispBadRequest("MISSING_PARAMETER", "vendorId is required")
	}
	ids := q["productId"]
	if len(ids) > 0 && (q.Has("nextToken") || q.Has("maxResults")) {
		return ispBadRequest("INVALID_PARAMETER", "productId can't be used with nextToken or maxResults")
	}
	if len(ids) > ispMaxFilterID {
		return ispBadRequest("INVALID_PARAMETER", "at most %d productId values, got %d", ispMaxFilterID, len(ids))
	}
	stage := q.Get("stage")
	if stage != "" {
		if a, ok := checkStage(stage); !ok {
			return a
		}
	}
	assoc := q.Get("isAssociatedWithSkill")
	if assoc != "" && assoc != "ASSOCIATED_WITH_SKILL" && assoc != "NO_ASSOCIATIONS" {
		return ispBadRequest("INVALID_PARAMETER", "isAssociatedWithSkill must be ASSOCIATED_WITH_SKILL or NO_ASSOCIATIONS")
	}
	// One entry per product and stage it exists in.
	var entries []listed
	for _, p := range sortedProducts(e.state.Products, func(p *product) bool { return p.VendorID == vendor }) {
		for _, st := range []string{stageDev, stageLive} {
			if p.definition(st) == nil || stage != "" && st != stage || len(ids) > 0 && !slices.Contains(ids, p.ID) {
				continue
			}
			s := summary(p, st)
			if v := q.Get("type"); v != "" && s["type"] != v ||
				q.Get("referenceName") != "" && s["referenceName"] != q.Get("referenceName") ||
				q.Get("status") != "" && s["status"] != q.Get("status") ||
				assoc == "ASSOCIATED_WITH_SKILL" && len(p.Skills[st]) == 0 || assoc == "NO_ASSOCIATIONS" && len(p.Skills[st]) > 0 {
				continue
			}
			entries = append(entries, listed{p, st})
		}
	}
	scope := strings.Join([]string{"vendor", vendor, stage, q.Get("type"), q.Get("referenceName"), q.Get("status"), assoc}, "\x00")
	return e.productList(r, scope, entries)
}

// Seeding, for tests and demos: no API call, no count.

// PutProduct creates an in-skill product of vendorID directly, with a
// minimal complete definition, and returns its id; live also publishes it.
func (e *Emulator) PutProduct(vendorID, referenceName string, live bool) string {
	def := demoDefinition(referenceName)
	e.mu.Lock()
	defer e.mu.Unlock()
	id := productID(vendorID, referenceName)
	p := e.state.Products[id]
	if p == nil {
		p = e.putProductLocked(vendorID, id, def)
	}
	if live {
		p.Live = bytes.Clone(def)
	}
	e.dirty = true
	return id
}

// Associate sets associations of a product directly, in a stage (live
// included, which the API itself never changes).
func (e *Emulator) Associate(stage, productID string, skillIDs ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.state.Products[productID]
	if p == nil {
		panic("emulator: Associate of unknown product " + productID)
	}
	for _, s := range skillIDs {
		p.Skills[stage][s] = true
	}
	e.dirty = true
}

// Disassociate removes associations of a product directly, in a stage, as
// another client would (a test that disturbs a listing between its pages).
func (e *Emulator) Disassociate(stage, productID string, skillIDs ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.state.Products[productID]; p != nil {
		for _, s := range skillIDs {
			delete(p.Skills[stage], s)
		}
		e.dirty = true
	}
}

// ProductSkills is the sorted skills a product is associated with in a stage.
func (e *Emulator) ProductSkills(stage, productID string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.state.Products[productID]; p != nil {
		return slices.Sorted(maps.Keys(p.Skills[stage]))
	}
	return nil
}

// ProductIDs is every product's id, sorted.
func (e *Emulator) ProductIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.state.Products))
}

func demoDefinition(referenceName string) json.RawMessage {
	d := map[string]any{
		"version": "1.0", "type": "ENTITLEMENT", "referenceName": referenceName,
		"publishingInformation": map[string]any{
			"locales": map[string]any{"en-US": map[string]any{"name": referenceName, "summary": "Demo product " + referenceName,
				"description": "A demo in-skill product of the bulksync emulator.", "examplePhrases": []string{"buy " + referenceName},
				"keywords": []string{"demo"}, "smallIconUri": "https://example.com/small.png", "largeIconUri": "https://example.com/large.png"}},
			"distributionCountries": []string{"US"},
			"pricing": map[string]any{"amazon.com": map[string]any{"releaseDate": "2024-01-01T00:00:00Z",
				"defaultPriceListing": map[string]any{"price": 1.99, "currency": "USD"}}},
			"taxInformation": map[string]any{"category": "SOFTWARE"},
		},
		"privacyAndCompliance": map[string]any{"locales": map[string]any{"en-US": map[string]any{"privacyPolicyUrl": "https://example.com/privacy"}}},
		"testingInstructions":  "Buy it in the development stage.",
		"purchasableState":     "PURCHASABLE",
	}
	b, _ := json.Marshal(d)
	return b
}
