package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/rs/zerolog"
)

// assocAPI is the Smart Properties association API in memory, paging
// queries by 10 as the real one does.
type assocAPI struct {
	mu      sync.Mutex
	have    map[string]client.Association // externalUserId -> association, of provider "p"
	queries []client.QueryRequest
	wrote   []string
}

func (a *assocAPI) QueryAssociations(_ context.Context, provider string, q client.QueryRequest) (*client.QueryResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queries = append(a.queries, q)
	var ids []string
	for id := range a.have {
		if q.Filters.ExternalUserIDs == nil || slices.Contains(q.Filters.ExternalUserIDs, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	off := 0
	if q.PaginationContext != nil {
		fmt.Sscan(q.PaginationContext.NextToken, &off)
	}
	end := min(off+10, len(ids))
	out := &client.QueryResponse{}
	out.PaginationContext.TotalCount = len(ids)
	if end < len(ids) {
		out.PaginationContext.NextPageToken = fmt.Sprint(end)
	}
	for _, id := range ids[off:end] {
		out.AccountAssociations = append(out.AccountAssociations, a.have[id])
	}
	return out, nil
}

func (a *assocAPI) CreateAssociation(_ context.Context, p string, x client.Association) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.wrote = append(a.wrote, "create "+x.ExternalUserID)
	a.have[x.ExternalUserID] = x
	return nil
}

func (a *assocAPI) UpdateAssociation(_ context.Context, p string, x client.Association) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.have[x.ExternalUserID]; !ok {
		return &client.APIError{Status: 404}
	}
	a.wrote = append(a.wrote, "update "+x.ExternalUserID)
	a.have[x.ExternalUserID] = x
	return nil
}

func (a *assocAPI) DeleteAssociation(_ context.Context, p, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.wrote = append(a.wrote, "delete "+id)
	delete(a.have, id)
	return nil
}

func TestAssociationsResource(t *testing.T) {
	api := &assocAPI{have: map[string]client.Association{}}
	for i := range 25 {
		id := fmt.Sprint(7200 + i)
		api.have[id] = client.Association{ExternalUserID: id, AmazonID: "amzn1.old", AmazonIDType: "communication-profile"}
	}
	var rows []Row[Profile]
	for i := range 3 {
		id := fmt.Sprint(7200 + i)
		rows = append(rows, Row[Profile]{Src: Source{"in.csv", i + 2}, Key: Key{"p", id}, Want: Profile{AmazonID: "amzn1.new", AmazonIDType: "communication-profile"}})
	}
	rows = append(rows, Row[Profile]{Src: Source{"in.csv", 5}, Key: Key{"p", "9999"}, Want: Profile{AmazonID: "amzn1.x", AmazonIDType: "communication-profile"}})
	var fates []Fate[Profile]
	e := &Engine[Profile]{Res: Associations{API: api}, Caller: testCaller(1), Log: zerolog.Nop(), Emit: func(f Fate[Profile]) { fates = append(fates, f) },
		Opts: Options{Prune: true, MaxDeletes: Limit{None: true}}}
	res, err := e.Run(context.Background(), values(rows))
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[Updated] != 3 || res.Counts[Created] != 1 || res.Counts[Deleted] != 22 {
		t.Errorf("counts: %v", res.Counts.Map())
	}
	// The prune listing: 25 associations in pages of 10.
	if len(api.queries) != 3 || api.queries[0].Filters.ExternalUserIDs != nil || api.queries[2].PaginationContext.NextToken != "20" {
		t.Errorf("queries: %+v", api.queries)
	}
	for _, f := range fates {
		if f.Outcome == Updated && (f.Prev == nil || f.Prev.String() != "amzn1.old" || f.Status != 200) {
			t.Errorf("update's fate: %+v", f)
		}
		if f.Outcome == Created && f.Status != 201 {
			t.Errorf("create's fate: %+v", f)
		}
	}
	if len(api.have) != 4 || api.have["7201"].AmazonID != "amzn1.new" {
		t.Errorf("final: %v", api.have)
	}

	// Without --prune: one query of the 4 ids.
	api.queries = nil
	e.Opts = Options{MaxDeletes: Limit{None: true}}
	if _, err := e.Run(context.Background(), values(rows)); err != nil {
		t.Fatal(err)
	}
	if len(api.queries) != 1 || len(api.queries[0].Filters.ExternalUserIDs) != 4 {
		t.Errorf("queries: %+v", api.queries)
	}
	r := Associations{}
	if r.BatchSize() != 30 || r.PageSize(ByGroup) != 10 || r.PageSize(ByID) != 0 || r.Kind() != "association" {
		t.Errorf("shape: %d %d %d", r.BatchSize(), r.PageSize(ByGroup), r.PageSize(ByID))
	}
	if s, err := answered(201, &client.APIError{Status: 409}); s != 409 || err == nil {
		t.Errorf("answered: %d %v", s, err)
	}
}

// Where a profile came from is for the report: a row resolved from its
// unit is unchanged when the API has that profile.
func TestProfileEqualIgnoresWhereItCameFrom(t *testing.T) {
	have := Profile{AmazonID: "amzn1.p", AmazonIDType: "communication-profile"}
	tests := []struct {
		want Profile
		same bool
	}{
		{Profile{AmazonID: "amzn1.p", AmazonIDType: "communication-profile", UnitID: "amzn1.alexa.unit.did.U", Name: "Room 1", Resolution: "found"}, true},
		{Profile{AmazonID: "amzn1.q", AmazonIDType: "communication-profile", UnitID: "amzn1.alexa.unit.did.U"}, false},
		{Profile{AmazonID: "amzn1.p", AmazonIDType: "other"}, false},
		{Profile{AmazonIDType: "communication-profile", UnitID: "amzn1.alexa.unit.did.U", Resolution: "to_create"}, false},
	}
	for _, tt := range tests {
		if got := (Associations{}).Equal(tt.want, have); got != tt.same {
			t.Errorf("Equal(%+v, %+v): got %v, want %v", tt.want, have, got, tt.same)
		}
	}
}
