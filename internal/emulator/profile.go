package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// The Communication Profile API, from api/PROFILE-NOTES.md: create (at the
// collection's path with a trailing slash, and the docs' without), get by unit, get/update/delete
// by profile id, batch create. Where the notes are uncertain the emulator
// plays one reading, chosen by ProfileOptions, so that tests can cover each.

// Batch answer readings (ProfileOptions.Batch).
const (
	// BatchResults, the default: 200 {"results":[…]}, one entry per item in
	// request order, each with its itemId as sent and either the entity and
	// profileId.profileId of the single create or an Error object.
	BatchResults = "results"
	BatchItems   = "items"    // the same entries under "items"
	BatchArray   = "array"    // the same entries as a top-level array
	BatchFlat    = "flat"     // like results, but profileId is a plain string
	BatchEmpty   = "empty"    // 201 {}: applied, nothing to read
	BatchAsync   = "accepted" // 202 with no body: applied, nothing to read
)

// ProfileOptions are the units the emulator has and, where PROFILE-NOTES
// says "uncertain", which reading of the API it plays.
type ProfileOptions struct {
	// Units exist at start: unit id -> its profile id, "" for a unit with no
	// profile yet. Nil seeds DemoUnits; an empty map seeds none. A unit the
	// state file has already is left as it is.
	Units map[string]string
	// Batch is the shape of the batch create's answer: BatchResults
	// (default), BatchItems, BatchArray, BatchFlat, BatchEmpty or BatchAsync.
	Batch string
	// ItemID is the JSON type of itemId the batch accepts: "" either,
	// "number" or "string"; the other type is refused with 400.
	ItemID string
	// Missing is how get by unit answers a unit without a profile: "404"
	// (default, NOT_FOUND) or "empty" (200 {}).
	Missing string
	// WriteStatus is the success of update and delete: 200 (default; update
	// answers the profile, delete no body) or 204 (no body).
	WriteStatus int
}

func (o *ProfileOptions) check() error {
	switch o.Batch {
	case "":
		o.Batch = BatchResults
	case BatchResults, BatchItems, BatchArray, BatchFlat, BatchEmpty, BatchAsync:
	default:
		return fmt.Errorf("profile batch reading %q: want results, items, array, flat, empty or accepted", o.Batch)
	}
	switch o.ItemID {
	case "", "number", "string":
	default:
		return fmt.Errorf("profile itemId type %q: want number, string or empty for either", o.ItemID)
	}
	switch o.Missing {
	case "":
		o.Missing = "404"
	case "404", "empty":
	default:
		return fmt.Errorf("profile missing reading %q: want 404 or empty", o.Missing)
	}
	switch o.WriteStatus {
	case 0:
		o.WriteStatus = http.StatusOK
	case http.StatusOK, http.StatusNoContent:
	default:
		return fmt.Errorf("profile write status %d: want 200 or 204", o.WriteStatus)
	}
	return nil
}

// The demo property's units: rooms 101 to 120. Rooms 101-110 have a
// communication profile, 111-120 have none yet.
const (
	DemoUnitPrefix    = "amzn1.alexa.unit.did.AEDEMOROOM"
	DemoProfilePrefix = "amzn1.alexa.communications.profile.did.AEDEMOPROFILE"
)

// DemoUnits are the units an emulator starts with unless told otherwise.
func DemoUnits() map[string]string {
	m := map[string]string{}
	for room := 101; room <= 120; room++ {
		id := fmt.Sprintf("%s%d", DemoUnitPrefix, room)
		m[id] = ""
		if room <= 110 {
			m[id] = fmt.Sprintf("%s%d", DemoProfilePrefix, room)
		}
	}
	return m
}

type unit struct {
	ID        string `json:"unitId"`
	ProfileID string `json:"profileId,omitempty"`
	Name      string `json:"name,omitempty"`
}

// putUnit adds or replaces a unit, keeping the profile index true.
func (s *state) putUnit(u unit) {
	if old := s.Units[u.ID]; old != nil && old.ProfileID != "" {
		delete(s.byProfile, old.ProfileID)
	}
	p := &u
	s.Units[u.ID] = p
	if u.ProfileID != "" {
		s.byProfile[u.ProfileID] = p
	}
}

func (e *Emulator) seedUnits() {
	units := e.opts.Profiles.Units
	if units == nil {
		units = DemoUnits()
	}
	for _, id := range slices.Sorted(maps.Keys(units)) {
		if e.state.Units[id] == nil {
			e.state.putUnit(unit{ID: id, ProfileID: units[id]})
		}
	}
}

// Units returns every unit: unit id -> profile id ("" when it has none).
func (e *Emulator) Units() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]string{}
	for id, u := range e.state.Units {
		out[id] = u.ProfileID
	}
	return out
}

// ProfileName returns the display name of a unit's profile.
func (e *Emulator) ProfileName(unitID string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if u := e.state.Units[unitID]; u != nil {
		return u.Name
	}
	return ""
}

// PutUnits sets units directly (unit id -> profile id, "" for none): test
// set-up that costs no API call.
func (e *Emulator) PutUnits(units map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, p := range units {
		e.state.putUnit(unit{ID: id, ProfileID: p})
	}
	e.dirty = true
}

const (
	profilePath      = "/v1/communications/profile"
	profileBatchPath = "/v1/communications/profiles/batch"
	maxProfileBatch  = 100
)

func (e *Emulator) profileRoutes(api func(pattern, op string, h func(*http.Request, []byte) answer, write bool)) {
	// The collection keeps a trailing slash; the docs and the vendor's CLI
	// do not: both are served, and neither redirects.
	api("POST "+profilePath+"/{$}", "profile.create", e.createProfile, true)
	api("POST "+profilePath, "profile.create", e.createProfile, true)
	api("POST "+profileBatchPath, "profile.batch", e.createProfiles, true)
	api("GET "+profilePath, "profile.by_unit", e.getProfileByUnit, false)
	api("GET "+profilePath+"/{id}", "profile.get", e.getProfile, false)
	api("PUT "+profilePath+"/{id}", "profile.update", e.updateProfile, true)
	api("DELETE "+profilePath+"/{id}", "profile.delete", e.deleteProfile, true)
	api("GET /v2/units/{id}", "unit.get", e.getUnit, false)
}

// getUnit is Unit Management's get of one unit, as far as bulksync needs
// it: whether the unit exists. The notes show no body; this one is minimal.
func (e *Emulator) getUnit(r *http.Request, _ []byte) answer {
	id := r.PathValue("id")
	if e.state.Units[id] == nil {
		return notFound("unit %s not found", id)
	}
	return answer{http.StatusOK, map[string]string{"id": id}}
}

type entity struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type profileIDObject struct {
	ProfileID string `json:"profileId"`
}

type profileItem struct {
	Entity *entity `json:"entity"`
	Name   *string `json:"name"`
}

// checkItem refuses what the service would: no entity, another type than
// UNIT, no id.
func checkItem(it profileItem) error {
	switch {
	case it.Entity == nil:
		return fmt.Errorf("entity is required")
	case it.Entity.Type != "UNIT":
		return fmt.Errorf("entity.type must be UNIT, got %q", it.Entity.Type)
	}
	return checkLen("entity.id", it.Entity.ID)
}

// ensureProfile is the idempotent create: the unit's profile, made if it
// has none; a name given replaces the display name.
func (e *Emulator) ensureProfile(it profileItem) (*unit, answer, bool) {
	u := e.state.Units[it.Entity.ID]
	if u == nil {
		return nil, notFound("unit %s not found", it.Entity.ID), false
	}
	if u.ProfileID == "" {
		u.ProfileID = "amzn1.alexa.communications.profile.did." + strings.ToUpper(randHex(20))
		e.state.byProfile[u.ProfileID] = u
	}
	if it.Name != nil && *it.Name != "" {
		u.Name = *it.Name
	}
	return u, answer{}, true
}

// createdView is the documented create answer: the id nested twice.
func createdView(u *unit) map[string]any {
	return map[string]any{"entity": entity{"UNIT", u.ID}, "profileId": profileIDObject{u.ProfileID}}
}

func (e *Emulator) createProfile(_ *http.Request, body []byte) answer {
	var it profileItem
	if err := decode(body, &it); err != nil {
		return badRequest("%v", err)
	}
	if err := checkItem(it); err != nil {
		return badRequest("%v", err)
	}
	u, a, ok := e.ensureProfile(it)
	if !ok {
		return a
	}
	return answer{http.StatusCreated, createdView(u)}
}

func (e *Emulator) createProfiles(_ *http.Request, body []byte) answer {
	var b struct {
		Items *[]struct {
			profileItem
			ItemID json.RawMessage `json:"itemId"`
		} `json:"items"`
	}
	if err := decode(body, &b); err != nil {
		return badRequest("%v", err)
	}
	if b.Items == nil || len(*b.Items) == 0 || len(*b.Items) > maxProfileBatch {
		n := 0
		if b.Items != nil {
			n = len(*b.Items)
		}
		return badRequest("items takes 1 to %d items, got %d", maxProfileBatch, n)
	}
	items := *b.Items
	seenItem, seenUnit := map[string]bool{}, map[string]bool{}
	for i, it := range items {
		raw := bytes.TrimSpace(it.ItemID)
		kind := "other"
		switch {
		case len(raw) == 0 || string(raw) == "null":
			return badRequest("items[%d].itemId is required", i)
		case raw[0] == '"':
			kind = "string"
		case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
			kind = "number"
		}
		if kind == "other" || (e.opts.Profiles.ItemID != "" && kind != e.opts.Profiles.ItemID) {
			return badRequest("items[%d].itemId must be a %s", i, cmpOr(e.opts.Profiles.ItemID, "string or a number"))
		}
		if seenItem[string(raw)] {
			return badRequest("items[%d].itemId %s is used twice", i, raw)
		}
		seenItem[string(raw)] = true
		if err := checkItem(it.profileItem); err != nil {
			return badRequest("items[%d]: %v", i, err)
		}
		if seenUnit[it.Entity.ID] {
			return badRequest("items[%d]: unit %s is in the batch twice", i, it.Entity.ID)
		}
		seenUnit[it.Entity.ID] = true
	}
	results := make([]map[string]any, len(items))
	for i, it := range items {
		r := map[string]any{"itemId": json.RawMessage(bytes.TrimSpace(it.ItemID))}
		u, a, ok := e.ensureProfile(it.profileItem)
		switch {
		case !ok:
			r["error"] = a.body
		case e.opts.Profiles.Batch == BatchFlat:
			r["entity"], r["profileId"] = entity{"UNIT", u.ID}, u.ProfileID
		default:
			maps.Copy(r, createdView(u))
		}
		results[i] = r
	}
	switch e.opts.Profiles.Batch {
	case BatchItems:
		return answer{http.StatusOK, map[string]any{"items": results}}
	case BatchArray:
		return answer{http.StatusOK, results}
	case BatchEmpty:
		return answer{http.StatusCreated, map[string]any{}}
	case BatchAsync:
		return answer{status: http.StatusAccepted}
	}
	return answer{http.StatusOK, map[string]any{"results": results}}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (e *Emulator) getProfileByUnit(r *http.Request, _ []byte) answer {
	q := r.URL.Query()
	if t := q.Get("entity.type"); t != "UNIT" {
		return badRequest("entity.type must be UNIT, got %q", t)
	}
	id := q.Get("entity.id")
	if err := checkLen("entity.id", id); err != nil {
		return badRequest("%v", err)
	}
	u := e.state.Units[id]
	switch {
	case u == nil:
		return notFound("unit %s not found", id)
	case u.ProfileID == "" && e.opts.Profiles.Missing == "empty":
		return answer{http.StatusOK, map[string]any{}}
	case u.ProfileID == "":
		return notFound("unit %s has no communication profile", id)
	}
	// [CLI] shows a profileId object and a name, no entity.
	return answer{http.StatusOK, map[string]any{"profileId": profileIDObject{u.ProfileID}, "name": u.Name}}
}

func (e *Emulator) profileOf(r *http.Request) (*unit, answer, bool) {
	id := r.PathValue("id")
	u := e.state.byProfile[id]
	if u == nil {
		return nil, notFound("communication profile %s not found", id), false
	}
	return u, answer{}, true
}

func fullView(u *unit) map[string]any {
	v := createdView(u)
	v["name"] = u.Name
	return v
}

func (e *Emulator) getProfile(r *http.Request, _ []byte) answer {
	u, a, ok := e.profileOf(r)
	if !ok {
		return a
	}
	return answer{http.StatusOK, fullView(u)}
}

func (e *Emulator) updateProfile(r *http.Request, body []byte) answer {
	u, a, ok := e.profileOf(r)
	if !ok {
		return a
	}
	var b struct {
		Name *string `json:"name"`
	}
	if err := decode(body, &b); err != nil {
		return badRequest("%v", err)
	}
	if b.Name == nil || *b.Name == "" {
		return badRequest("name is required")
	}
	u.Name = *b.Name
	if e.opts.Profiles.WriteStatus == http.StatusNoContent {
		return answer{status: http.StatusNoContent}
	}
	return answer{http.StatusOK, fullView(u)}
}

func (e *Emulator) deleteProfile(r *http.Request, _ []byte) answer {
	u, a, ok := e.profileOf(r)
	if !ok {
		return a
	}
	delete(e.state.byProfile, u.ProfileID)
	u.ProfileID, u.Name = "", ""
	return answer{status: e.opts.Profiles.WriteStatus}
}
