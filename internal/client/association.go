package client

import (
	"context"
	"fmt"
	"net/http"
)

// MaxQueryIDs is the most externalUserIds one query may filter on.
const MaxQueryIDs = 30

// Association links a room extension to an Alexa communication profile.
type Association struct {
	ExternalUserID string `json:"externalUserId"`
	AmazonID       string `json:"amazonId,omitempty"`
	AmazonIDType   string `json:"amazonIdType,omitempty"`
}

// QueryRequest is the body of a query: filters are required, an empty
// ExternalUserIDs lists every association of the provider.
type QueryRequest struct {
	Filters           QueryFilters       `json:"filters"`
	PaginationContext *PaginationRequest `json:"paginationContext,omitempty"`
}

// QueryFilters selects associations by externalUserId (1 to 30 of them).
type QueryFilters struct {
	ExternalUserIDs []string `json:"externalUserIds,omitempty"`
}

// PaginationRequest asks for one page.
type PaginationRequest struct {
	NextToken  string `json:"nextToken,omitempty"`
	MaxResults int    `json:"maxResults,omitempty"`
}

// QueryResponse is one page of a query.
type QueryResponse struct {
	PaginationContext struct {
		TotalCount    int    `json:"totalCount"`
		NextPageToken string `json:"nextPageToken,omitempty"`
	} `json:"paginationContext"`
	AccountAssociations []Association `json:"accountAssociations"`
}

func associationsPath(providerID string) string {
	return "/v1/communications/serviceProviders/" + pathEscape(providerID) + "/externalUsers"
}

// CreateAssociation creates one association (201); 409 when the id already has one.
func (c *Client) CreateAssociation(ctx context.Context, providerID string, a Association) error {
	return c.do(ctx, http.MethodPost, associationsPath(providerID), http.StatusCreated, a, nil)
}

// UpdateAssociation points an existing association at another profile (200).
func (c *Client) UpdateAssociation(ctx context.Context, providerID string, a Association) error {
	return c.do(ctx, http.MethodPut, associationsPath(providerID), http.StatusOK, a, nil)
}

// DeleteAssociation removes the association of one externalUserId (200).
// The id travels in a JSON body on DELETE, as the API requires.
func (c *Client) DeleteAssociation(ctx context.Context, providerID, externalUserID string) error {
	return c.do(ctx, http.MethodDelete, associationsPath(providerID), http.StatusOK, Association{ExternalUserID: externalUserID}, nil)
}

// QueryAssociations asks for one page of associations.
func (c *Client) QueryAssociations(ctx context.Context, providerID string, q QueryRequest) (*QueryResponse, error) {
	if n := len(q.Filters.ExternalUserIDs); n > MaxQueryIDs {
		return nil, fmt.Errorf("query of %d ids: at most %d per query", n, MaxQueryIDs)
	}
	var out QueryResponse
	if err := c.do(ctx, http.MethodPost, associationsPath(providerID)+"/query", http.StatusOK, q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
