package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
)

type displayName struct {
	Locale string `json:"locale"`
	Value  string `json:"value"`
}

type skillConfiguration struct {
	SkillID string `json:"skillId"`
}

type network struct {
	NetworkType        string             `json:"networkType"`
	SkillConfiguration skillConfiguration `json:"skillConfiguration"`
}

type association struct {
	ExternalUserID string `json:"externalUserId"`
	AmazonID       string `json:"amazonId"`
	AmazonIDType   string `json:"amazonIdType"`
}

type provider struct {
	ID           string                  `json:"serviceProviderId"`
	LogicalID    string                  `json:"serviceProviderLogicalId"`
	DisplayName  []displayName           `json:"displayName,omitempty"`
	Network      *network                `json:"network,omitempty"`
	Associations map[string]*association `json:"-"`
	sorted       []string                // association ids in order; nil when stale
}

func (p *provider) sortedIDs() []string {
	if p.sorted == nil {
		p.sorted = slices.Sorted(maps.Keys(p.Associations))
	}
	return p.sorted
}

type state struct {
	Providers map[string]*provider
	Products  map[string]*product // in-skill products by productId (isp.go)
	Units     map[string]*unit    // by unit id (profile.go)
	byProfile map[string]*unit    // by profile id: the units that have one
}

func newState() *state {
	return &state{Providers: map[string]*provider{}, Products: map[string]*product{}, Units: map[string]*unit{},
		byProfile: map[string]*unit{}}
}

func (s *state) ensureProvider(id, logical string) {
	if s.Providers[id] != nil {
		return
	}
	s.Providers[id] = &provider{ID: id, LogicalID: logical, Associations: map[string]*association{}}
}

func (s *state) byLogicalID(logical string) *provider {
	for _, p := range s.Providers {
		if p.LogicalID == logical {
			return p
		}
	}
	return nil
}

// The file form: lists in a stable order, so that a state file diffs well.
type fileProvider struct {
	provider
	Associations []association `json:"associations"`
}

type fileState struct {
	Providers []fileProvider `json:"providers"`
	Products  []fileProduct  `json:"products,omitempty"`
	Units     []unit         `json:"units,omitempty"`
}

func (s *state) marshal() ([]byte, error) {
	var f fileState
	for _, id := range slices.Sorted(maps.Keys(s.Providers)) {
		p := s.Providers[id]
		fp := fileProvider{provider: *p, Associations: make([]association, 0, len(p.Associations))}
		for _, aid := range p.sortedIDs() {
			fp.Associations = append(fp.Associations, *p.Associations[aid])
		}
		f.Providers = append(f.Providers, fp)
	}
	f.Products = s.fileProducts()
	for _, id := range slices.Sorted(maps.Keys(s.Units)) {
		f.Units = append(f.Units, *s.Units[id])
	}
	return json.MarshalIndent(f, "", " ")
}

func (s *state) load(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errStateFile, err)
	}
	var f fileState
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("%w %s: not an emulator state: %v", errStateFile, path, err)
	}
	for _, fp := range f.Providers {
		p := fp.provider
		p.Associations = make(map[string]*association, len(fp.Associations))
		for i := range fp.Associations {
			a := fp.Associations[i]
			p.Associations[a.ExternalUserID] = &a
		}
		s.Providers[p.ID] = &p
	}
	s.loadProducts(f.Products)
	for _, u := range f.Units {
		s.putUnit(u)
	}
	return nil
}
