package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The Communication Profile API (api/PROFILE-NOTES.md). Where the notes say
// "uncertain", these methods accept every plausible reading and nothing
// beyond it: a success must carry what the caller needs (the profile id,
// and the unit when the answer names one), else it is an Unexpected
// *APIError or, for the batch, an item left unconfirmed.

// MaxProfileBatch is the most units one batch create may name.
const MaxProfileBatch = 100

// EntityUnit is the only entity type a profile can belong to.
const EntityUnit = "UNIT"

// UnitPrefix starts every Alexa unit id.
const UnitPrefix = "amzn1.alexa.unit.did."

const (
	profilePath      = "/v1/communications/profile"
	profileBatchPath = "/v1/communications/profiles/batch"
)

// Entity is what a communication profile belongs to: a unit.
type Entity struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// ProfileRequest asks for the profile of one unit; Name is its display
// name for calls (optional).
type ProfileRequest struct {
	UnitID string
	Name   string
}

// Profile is a communication profile as an answer states it.
type Profile struct {
	ID     string // profileId.profileId
	UnitID string // entity.id; "" when the answer does not name the unit
	Name   string // "" when the answer has none
}

// profileWire is the answer of create and get: the id is nested twice,
// {"profileId":{"profileId":"…"}}.
type profileWire struct {
	Entity    *Entity `json:"entity"`
	ProfileID *struct {
		ProfileID string `json:"profileId"`
	} `json:"profileId"`
	Name string `json:"name"`
}

func (w profileWire) id() string {
	if w.ProfileID == nil {
		return ""
	}
	return w.ProfileID.ProfileID
}

// profile reads an answer that must name a profile, of unit when unit is
// not "" (an answer about another unit answers another question).
func readProfile(method, path string, status int, data []byte, unit string) (*Profile, error) {
	var w profileWire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, unexpected(method, path, status, data, "answer is not the documented JSON: "+err.Error())
	}
	p := &Profile{ID: w.id(), Name: w.Name}
	if w.Entity != nil {
		p.UnitID = w.Entity.ID
	}
	switch {
	case !strings.HasPrefix(p.ID, "amzn1."):
		return nil, unexpected(method, path, status, data, "answer has no profileId.profileId")
	case unit != "" && p.UnitID != "" && p.UnitID != unit:
		return nil, unexpected(method, path, status, data, "answer names unit "+p.UnitID+", not "+unit)
	}
	if p.UnitID == "" {
		p.UnitID = unit
	}
	return p, nil
}

func createBody(r ProfileRequest) any {
	return struct {
		Entity Entity `json:"entity"`
		Name   string `json:"name,omitempty"`
	}{Entity{EntityUnit, r.UnitID}, r.Name}
}

// CreateProfile creates the profile of one unit (201). It is idempotent: a
// unit that has a profile already gets it back, also with 201. The path
// keeps the trailing slash of the vendor's Postman collection.
func (c *Client) CreateProfile(ctx context.Context, r ProfileRequest) (*Profile, error) {
	path := profilePath + "/"
	status, data, err := c.send(ctx, http.MethodPost, path, createBody(r))
	if err != nil {
		return nil, err
	}
	if status != http.StatusCreated {
		return nil, unexpected(http.MethodPost, path, status, data, fmt.Sprintf("answered %d where the operation documents 201", status))
	}
	return readProfile(http.MethodPost, path, status, data, r.UnitID)
}

// GetProfileByUnit reads the profile of a unit (200). A nil Profile with a
// nil error is a 200 that names no profile; a unit without one may instead
// be answered 404 (the notes document neither), which is an *APIError.
func (c *Client) GetProfileByUnit(ctx context.Context, unitID string) (*Profile, error) {
	q := url.Values{"entity.type": {EntityUnit}, "entity.id": {unitID}}
	path := profilePath
	status, data, err := c.send(ctx, http.MethodGet, path, nil, &extra{query: q})
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, unexpected(http.MethodGet, path, status, data, fmt.Sprintf("answered %d to a read", status))
	}
	var w profileWire
	if err := json.Unmarshal(data, &w); err == nil && w.id() == "" && (w.Entity == nil || w.Entity.ID == unitID) {
		return nil, nil
	}
	return readProfile(http.MethodGet, path, status, data, unitID)
}

// GetProfile reads a profile by its id (200); the answer may or may not
// name its unit.
func (c *Client) GetProfile(ctx context.Context, profileID string) (*Profile, error) {
	path := profilePath + "/" + pathEscape(profileID)
	status, data, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, unexpected(http.MethodGet, path, status, data, fmt.Sprintf("answered %d to a read", status))
	}
	var w profileWire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, unexpected(http.MethodGet, path, status, data, "answer is not the documented JSON: "+err.Error())
	}
	if id := w.id(); id != "" && id != profileID {
		return nil, unexpected(http.MethodGet, path, status, data, "answer names profile "+id+", not "+profileID)
	}
	p := &Profile{ID: profileID, Name: w.Name}
	if w.Entity != nil {
		p.UnitID = w.Entity.ID
	}
	return p, nil
}

// UpdateProfileName changes a profile's display name. The notes document no
// status: 200 (with or without a body) and 204 are both success.
func (c *Client) UpdateProfileName(ctx context.Context, profileID, name string) error {
	path := profilePath + "/" + pathEscape(profileID)
	status, data, err := c.send(ctx, http.MethodPut, path, struct {
		Name string `json:"name"`
	}{name})
	return writeAnswer(http.MethodPut, path, status, data, err)
}

// DeleteProfile deletes a profile, turning calling off for its unit and
// removing every contact that points at it. 200 and 204 are both success.
func (c *Client) DeleteProfile(ctx context.Context, profileID string) error {
	path := profilePath + "/" + pathEscape(profileID)
	status, data, err := c.send(ctx, http.MethodDelete, path, nil)
	return writeAnswer(http.MethodDelete, path, status, data, err)
}

func writeAnswer(method, path string, status int, data []byte, err error) error {
	switch {
	case err != nil:
		return err
	case status == http.StatusOK, status == http.StatusNoContent:
		return noBody(method, path, status, data)
	}
	return unexpected(method, path, status, data, fmt.Sprintf("answered %d where 200 or 204 was expected", status))
}

// BatchResult is what a batch create's answer confirms: the profile of
// each unit it names unambiguously. A unit not in Profiles is unsettled:
// its profile may or may not exist now; an idempotent CreateProfile
// settles it.
type BatchResult struct {
	Status   int                // the 2xx the API answered with
	Profiles map[string]Profile // by unit id
}

// CreateProfiles creates the profiles of up to MaxProfileBatch units in one
// call. Each item's itemId is its index from 1, sent as a JSON number when
// numericIDs is set, as a string otherwise (the notes leave its type
// uncertain). The answer's shape is not documented: an item is confirmed
// only when the answer holds an object that points at it (by itemId, of
// either JSON type, or by entity.id, agreeing when both are there) and
// carries profileId.profileId as the single create does. Any 2xx is an
// answer; what it does not confirm is left to the caller.
func (c *Client) CreateProfiles(ctx context.Context, reqs []ProfileRequest, numericIDs bool) (*BatchResult, error) {
	if n := len(reqs); n == 0 || n > MaxProfileBatch {
		return nil, fmt.Errorf("batch of %d units: 1 to %d per batch", n, MaxProfileBatch)
	}
	type item struct {
		ItemID any    `json:"itemId"`
		Entity Entity `json:"entity"`
		Name   string `json:"name,omitempty"`
	}
	body := struct {
		Items []item `json:"items"`
	}{make([]item, len(reqs))}
	byItem := map[string]string{}
	asked := map[string]bool{}
	for i, r := range reqs {
		id := strconv.Itoa(i + 1)
		body.Items[i] = item{ItemID: id, Entity: Entity{EntityUnit, r.UnitID}, Name: r.Name}
		if numericIDs {
			body.Items[i].ItemID = i + 1
		}
		byItem[id] = r.UnitID
		asked[r.UnitID] = true
	}
	status, data, err := c.send(ctx, http.MethodPost, profileBatchPath, body)
	if err != nil {
		return nil, err
	}
	return &BatchResult{Status: status, Profiles: readBatch(data, byItem, asked)}, nil
}

// readBatch finds, anywhere one level down in the answer (a top-level
// array, or an array member of the top-level object), the items that name
// one of the units asked about and its profile id. A unit named twice with
// different ids is confirmed by neither.
func readBatch(data []byte, byItem map[string]string, asked map[string]bool) map[string]Profile {
	var lists [][]json.RawMessage
	var top any
	if json.Unmarshal(data, &top) != nil {
		return map[string]Profile{}
	}
	switch top.(type) {
	case []any:
		var l []json.RawMessage
		_ = json.Unmarshal(data, &l)
		lists = append(lists, l)
	case map[string]any:
		var m map[string]json.RawMessage
		_ = json.Unmarshal(data, &m)
		for _, v := range m {
			var l []json.RawMessage
			if json.Unmarshal(v, &l) == nil {
				lists = append(lists, l)
			}
		}
	}
	out := map[string]Profile{}
	conflict := map[string]bool{}
	for _, l := range lists {
		for _, raw := range l {
			var w struct {
				profileWire
				ItemID json.RawMessage `json:"itemId"`
			}
			if json.Unmarshal(raw, &w) != nil || !strings.HasPrefix(w.id(), "amzn1.") {
				continue
			}
			unit := ""
			if len(w.ItemID) > 0 {
				unit = byItem[itemKey(w.ItemID)]
				if unit == "" {
					continue // an itemId we did not send
				}
			}
			if w.Entity != nil && w.Entity.ID != "" {
				if unit != "" && w.Entity.ID != unit {
					continue // itemId and entity disagree: neither can be trusted
				}
				unit = w.Entity.ID
			}
			if !asked[unit] {
				continue
			}
			if prev, ok := out[unit]; ok && prev.ID != w.id() {
				conflict[unit] = true
			}
			out[unit] = Profile{ID: w.id(), UnitID: unit, Name: w.Name}
		}
	}
	for u := range conflict {
		delete(out, u)
	}
	return out
}

// itemKey is an itemId's text whatever its JSON type: 3 and "3" are one item.
func itemKey(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// UnitExists reports whether a unit exists: GET /v2/units/{unitId} (Unit
// Management, PROFILE-NOTES) answers 200 for one, 404 for none. Only the
// status is read: the notes show no answer body.
func (c *Client) UnitExists(ctx context.Context, unitID string) (bool, error) {
	err := c.do(ctx, http.MethodGet, "/v2/units/"+pathEscape(unitID), http.StatusOK, nil, nil)
	if StatusOf(err) == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}
