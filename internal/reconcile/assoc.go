package reconcile

import (
	"context"
	"net/http"
	"strings"

	"github.com/bulksync/bulksync/internal/client"
)

// Profile is what a room's association points at: an Alexa communication
// profile. A row may name the room's Alexa unit instead; then the profile
// is resolved from it before the diff. Equal compares only AmazonID and
// AmazonIDType: the rest says where the profile came from.
type Profile struct {
	AmazonID     string `json:"amazonId"`
	AmazonIDType string `json:"amazonIdType"`
	UnitID       string `json:"unitId,omitempty"` // the unit the row named
	Name         string `json:"-"`                // display name for a profile created for the unit
	Resolution   string `json:"-"`                // what resolving UnitID found or did; "" when not resolved
}

func (p Profile) String() string { return p.AmazonID }

// AssociationAPI is what the association resource needs of the service.
type AssociationAPI interface {
	QueryAssociations(ctx context.Context, providerID string, q client.QueryRequest) (*client.QueryResponse, error)
	CreateAssociation(ctx context.Context, providerID string, a client.Association) error
	UpdateAssociation(ctx context.Context, providerID string, a client.Association) error
	DeleteAssociation(ctx context.Context, providerID, externalUserID string) error
}

// Associations is the Smart Properties account association: a service
// provider's room extension (Key.ID, externalUserId) associated with a
// communication profile. A provider is read 30 ids at a time, or listed
// whole (pages of 10).
type Associations struct{ API AssociationAPI }

// associationPage is the Smart Properties page limit (api/NOTES.md).
const associationPage = 10

// Kind implements Resource.
func (Associations) Kind() string { return "association" }

// Names implements Resource.
func (Associations) Names() Names {
	return Names{Group: "serviceProviderId", ID: "externalUserId", LogGroup: "provider", LogID: "external_user_id"}
}

// Equal implements Resource.
func (Associations) Equal(want, have Profile) bool {
	return want.AmazonID == have.AmazonID && want.AmazonIDType == have.AmazonIDType
}

// BatchSize implements Resource.
func (Associations) BatchSize() int { return client.MaxQueryIDs }

// PageSize implements Resource: a provider's associations can be listed;
// there is no way to ask which providers have an extension.
func (Associations) PageSize(s Side) int {
	if s == ByGroup {
		return associationPage
	}
	return 0
}

// ReadPage implements Resource.
func (a Associations) ReadPage(ctx context.Context, r Read, token string) (Page[Profile], error) {
	q := client.QueryRequest{Filters: client.QueryFilters{ExternalUserIDs: r.IDs}}
	if token != "" {
		q.PaginationContext = &client.PaginationRequest{NextToken: token}
	}
	resp, err := a.API.QueryAssociations(ctx, r.Scope, q)
	if err != nil {
		return Page[Profile]{}, err
	}
	p := Page[Profile]{Next: resp.PaginationContext.NextPageToken, Total: resp.PaginationContext.TotalCount,
		Found: make([]Found[Profile], len(resp.AccountAssociations))}
	for i, x := range resp.AccountAssociations {
		p.Found[i] = Found[Profile]{Key: Key{r.Scope, x.ExternalUserID}, Value: Profile{AmazonID: x.AmazonID, AmazonIDType: listedType(x.AmazonIDType)}}
	}
	return p, nil
}

// DefaultAmazonIDType is the amazonIdType the API documents as the default,
// and the only one it takes.
const DefaultAmazonIDType = "communication-profile"

// listedType is the amazonIdType a query answered, as an input row says
// it: an absent type is the documented default, and so is a spelling of
// it (COMMUNICATION_PROFILE, say), since the API takes no other. Read
// as they come, either would make every row an update on every run.
func listedType(t string) string {
	spelled := strings.ToLower(strings.NewReplacer("_", "-", " ", "-").Replace(strings.TrimSpace(t)))
	if t == "" || spelled == DefaultAmazonIDType {
		return DefaultAmazonIDType
	}
	return t
}

// Create implements Resource.
func (a Associations) Create(ctx context.Context, k Key, v Profile) (int, error) {
	return answered(http.StatusCreated, a.API.CreateAssociation(ctx, k.Group, association(k, v)))
}

// Update implements Resource.
func (a Associations) Update(ctx context.Context, k Key, v Profile) (int, error) {
	return answered(http.StatusOK, a.API.UpdateAssociation(ctx, k.Group, association(k, v)))
}

// Delete implements Resource.
func (a Associations) Delete(ctx context.Context, k Key) (int, error) {
	return answered(http.StatusOK, a.API.DeleteAssociation(ctx, k.Group, k.ID))
}

func association(k Key, v Profile) client.Association {
	return client.Association{ExternalUserID: k.ID, AmazonID: v.AmazonID, AmazonIDType: v.AmazonIDType}
}

// answered is the status a call was answered with: the documented one when
// it succeeded (the client accepts no other), else its error's.
func answered(documented int, err error) (int, error) {
	if err != nil {
		return client.StatusOf(err), err
	}
	return documented, nil
}
