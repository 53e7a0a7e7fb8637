package reconcile

import (
	"strings"
	"testing"
	"time"
)

func TestPlanFileRoundTrip(t *testing.T) {
	old := Profile{AmazonID: "amzn1.old", AmazonIDType: "communication-profile"}
	writes := []Write[Profile]{
		{Key: Key{"p", "7202"}, Action: ActDelete, Before: &old},
		{Key: Key{"p", "7201"}, Action: ActCreate, Want: Profile{AmazonID: "amzn1.new", AmazonIDType: "communication-profile"}, Src: Source{"rooms.csv", 2}},
		{Key: Key{"p", "7203"}, Action: ActUpdate, Want: Profile{AmazonID: "amzn1.b", AmazonIDType: "communication-profile"}, Before: &old, Src: Source{"rooms.csv", 4}},
	}
	res := Associations{}
	data, err := MarshalPlan(res, Plan[Profile]{Writes: writes, MaxDeletes: Limit{Count: 5}}, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"version": 2`, `"resource": "association"`, `"serviceProviderId": "p"`, `"externalUserId": "7201"`,
		`"before": null`, `"amazonId": "amzn1.old"`, `"file": "rooms.csv"`, `"maxDeletes": "5"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("plan file lacks %s:\n%s", want, data)
		}
	}
	plan, err := ParsePlan("plan.json", data, res)
	if err != nil {
		t.Fatal(err)
	}
	got := plan.Writes
	if plan.MaxDeletes != (Limit{Count: 5}) {
		t.Errorf("limit: got %v, want 5", plan.MaxDeletes)
	}
	if len(got) != 3 || got[0].Key.ID != "7201" || got[0].Want.AmazonID != "amzn1.new" || got[0].Before != nil || got[0].Src.Line != 2 ||
		got[1].Action != ActDelete || got[1].Before == nil || got[1].Before.AmazonID != "amzn1.old" || got[1].Want != (Profile{}) ||
		got[2].Action != ActUpdate {
		t.Errorf("round trip: %+v", got)
	}
}

func TestLoadPlanRefuses(t *testing.T) {
	tests := map[string]string{
		"not json":      `{`,
		"old version":   `{"version":1,"resource":"association","writes":[]}`,
		"no guard":      `{"version":2,"resource":"association","writes":[]}`,
		"bad guard":     `{"version":2,"resource":"association","maxDeletes":"lots","writes":[]}`,
		"other kind":    `{"version":2,"resource":"product","maxDeletes":"10%","writes":[]}`,
		"bad action":    `{"version":2,"resource":"association","maxDeletes":"10%","writes":[{"serviceProviderId":"p","externalUserId":"1","action":"upsert"}]}`,
		"no key":        `{"version":2,"resource":"association","maxDeletes":"10%","writes":[{"action":"delete"}]}`,
		"twice":         `{"version":2,"resource":"association","maxDeletes":"10%","writes":[{"serviceProviderId":"p","externalUserId":"1","action":"delete","before":{"amazonId":"amzn1.a"}},{"serviceProviderId":"p","externalUserId":"1","action":"delete","before":{"amazonId":"amzn1.a"}}]}`,
		"bad before":    `{"version":2,"resource":"association","maxDeletes":"10%","writes":[{"serviceProviderId":"p","externalUserId":"1","action":"delete","before":7}]}`,
		"bad key value": `{"version":2,"resource":"association","maxDeletes":"10%","writes":[{"serviceProviderId":5,"externalUserId":"1","action":"delete"}]}`,
	}
	for name, content := range tests {
		path := name + ".json"
		if _, err := ParsePlan(path, []byte(content), Associations{}); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want an error naming the file", name, err)
		}
	}
}

// A saved plan's action must be one the planner could have made from the
// state it records: an edited plan is refused, not applied.
func TestParsePlanChecksActionsAgainstBefore(t *testing.T) {
	head := `{"version":2,"resource":"association","maxDeletes":"10%","writes":[{"serviceProviderId":"p","externalUserId":"1",`
	for _, tc := range []struct{ name, write, want string }{
		{"create of what exists", `"action":"create","amazonId":"amzn1.a","amazonIdType":"communication-profile","before":{"amazonId":"amzn1.b","amazonIdType":"communication-profile"}`, "a create planned from a state where it exists"},
		{"delete of the absent", `"action":"delete","before":null`, "a delete planned from a state where it is absent"},
		{"delete, no before", `"action":"delete"`, "a delete planned from a state where it is absent"},
		{"update of the absent", `"action":"update","amazonId":"amzn1.a","amazonIdType":"communication-profile"`, "an update planned from a state where it is absent"},
		{"update to the same", `"action":"update","amazonId":"amzn1.a","amazonIdType":"communication-profile","before":{"amazonId":"amzn1.a","amazonIdType":"communication-profile"}`, "an update to what it already is"},
	} {
		if _, err := ParsePlan(tc.name+".json", []byte(head+tc.write+`}]}`), Associations{}); err == nil || !strings.Contains(err.Error(), "write 1: externalUserId 1: "+tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}
