package reconcile

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Write is one write of a saved plan and the state it was computed from.
type Write[V any] struct {
	Key    Key
	Action Action // create, update or delete
	Want   V      // zero for a delete
	Before *V     // what the API had when planned; nil when absent
	Src    Source
}

// planVersion 2 is generic over the resource; plans of version 1 (rooms
// only) are refused with a request to plan again.
const planVersion = 2

// Plan is a saved plan: its writes, and the delete guard it was reviewed
// under (applying it checks the same limit, or a stricter one).
type Plan[V any] struct {
	Writes     []Write[V]
	MaxDeletes Limit
}

type planFile struct {
	Version    int               `json:"version"`
	Resource   string            `json:"resource"`
	CreatedAt  time.Time         `json:"createdAt"`
	MaxDeletes *Limit            `json:"maxDeletes"`
	Writes     []json.RawMessage `json:"writes"`
}

// MarshalPlan is a plan as its file holds it, sorted by key. Each write is
// one JSON object: the wanted value's fields, the key under the resource's
// names, the action, the state it was planned from, and where its row came
// from.
func MarshalPlan[V any](res Resource[V], p Plan[V], now time.Time) ([]byte, error) {
	writes := slices.Clone(p.Writes)
	slices.SortFunc(writes, func(a, b Write[V]) int {
		return cmp.Or(cmp.Compare(a.Key.Group, b.Key.Group), cmp.Compare(a.Key.ID, b.Key.ID))
	})
	n := res.Names()
	f := planFile{Version: planVersion, Resource: res.Kind(), CreatedAt: now.UTC(), MaxDeletes: &p.MaxDeletes, Writes: []json.RawMessage{}}
	for _, w := range writes {
		obj := map[string]any{}
		if w.Action != ActDelete {
			want, err := json.Marshal(w.Want)
			if err != nil {
				return nil, fmt.Errorf("save plan: %w", err)
			}
			if err := json.Unmarshal(want, &obj); err != nil {
				return nil, fmt.Errorf("save plan: value of %s is not a JSON object: %w", w.Key.ID, err)
			}
		}
		obj[n.Group], obj[n.ID], obj["action"], obj["before"] = w.Key.Group, w.Key.ID, w.Action.String(), w.Before
		if w.Src.File != "" {
			obj["file"], obj["line"] = w.Src.File, w.Src.Line
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("save plan: %w", err)
		}
		f.Writes = append(f.Writes, raw)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("save plan: %w", err)
	}
	return append(data, '\n'), nil
}

// ParsePlan reads a saved plan of res (data, the file named path) and
// checks its form: the guard it was made under, a known action per write,
// a key, and no key twice. The caller checks the values as it checks input
// rows.
func ParsePlan[V any](path string, data []byte, res Resource[V]) (Plan[V], error) {
	writes, limit, err := parsePlan(path, data, res)
	return Plan[V]{Writes: writes, MaxDeletes: limit}, err
}

func parsePlan[V any](path string, data []byte, res Resource[V]) ([]Write[V], Limit, error) {
	var f planFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, Limit{}, fmt.Errorf("plan %s: not a bulksync plan: %v", path, err)
	}
	switch {
	case f.Version != planVersion:
		return nil, Limit{}, fmt.Errorf("plan %s: version %d, this bulksync reads version %d: make the plan again", path, f.Version, planVersion)
	case f.Resource != res.Kind():
		return nil, Limit{}, fmt.Errorf("plan %s: a plan of %q, not of %q", path, f.Resource, res.Kind())
	case f.MaxDeletes == nil:
		return nil, Limit{}, fmt.Errorf("plan %s: it does not say which delete guard it was made under: make the plan again", path)
	}
	n := res.Names()
	seen := map[Key]bool{}
	out := make([]Write[V], 0, len(f.Writes))
	for i, raw := range f.Writes {
		where := fmt.Sprintf("plan %s: write %d", path, i+1)
		var head map[string]json.RawMessage
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, Limit{}, fmt.Errorf("%s: %v", where, err)
		}
		var w Write[V]
		var action string
		for name, dst := range map[string]any{n.Group: &w.Key.Group, n.ID: &w.Key.ID, "action": &action, "file": &w.Src.File, "line": &w.Src.Line} {
			if v, ok := head[name]; ok {
				if err := json.Unmarshal(v, dst); err != nil {
					return nil, Limit{}, fmt.Errorf("%s: %s: %v", where, name, err)
				}
			}
		}
		switch action {
		case "create":
			w.Action = ActCreate
		case "update":
			w.Action = ActUpdate
		case "delete":
			w.Action = ActDelete
		default:
			return nil, Limit{}, fmt.Errorf("%s: action %q is not create, update or delete", where, action)
		}
		if w.Key.Group == "" || w.Key.ID == "" {
			return nil, Limit{}, fmt.Errorf("%s: %s and %s are required", where, n.Group, n.ID)
		}
		if b, ok := head["before"]; ok && !bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
			w.Before = new(V)
			if err := json.Unmarshal(b, w.Before); err != nil {
				return nil, Limit{}, fmt.Errorf("%s: before: %v", where, err)
			}
		}
		if w.Action != ActDelete {
			if err := json.Unmarshal(raw, &w.Want); err != nil {
				return nil, Limit{}, fmt.Errorf("%s: %v", where, err)
			}
		}
		if msg := againstBefore(res, w); msg != "" {
			return nil, Limit{}, fmt.Errorf("%s: %s %s: %s", where, n.ID, w.Key.ID, msg)
		}
		if seen[w.Key] {
			return nil, Limit{}, fmt.Errorf("%s: %s appears twice", where, w.Key.ID)
		}
		seen[w.Key] = true
		out = append(out, w)
	}
	return out, *f.MaxDeletes, nil
}

// againstBefore says why a write could not have been planned from the
// state it records ("" when it could): the planner creates only what is
// absent, and updates or deletes only what is there, updating it to
// something else.
func againstBefore[V any](res Resource[V], w Write[V]) string {
	switch {
	case w.Action == ActCreate && w.Before != nil:
		return "a create planned from a state where it exists"
	case w.Action != ActCreate && w.Before == nil:
		return fmt.Sprintf("%s %s planned from a state where it is absent", article(w.Action), w.Action)
	case w.Action == ActUpdate && res.Equal(w.Want, *w.Before):
		return "an update to what it already is"
	}
	return ""
}

func article(a Action) string {
	if a == ActUpdate {
		return "an"
	}
	return "a"
}
