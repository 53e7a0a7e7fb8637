package client

import (
	"context"
	"errors"
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

// ErrRepeatedToken is returned by Pages when the server hands back a page
// token it already gave: following it would never end.
var ErrRepeatedToken = errors.New("server repeated a page token")

// maxPages bounds Pages even against a server that invents new tokens for
// empty pages forever.
const maxPages = 100000

// Pages follows nextPageToken from q to the last page, calling fetch for each
// page (so the caller decides how a page is fetched: directly, or through
// the worker's rate limit and retries) and yield for each page's answer.
func Pages(ctx context.Context, q QueryRequest, fetch func(context.Context, QueryRequest) (*QueryResponse, error), yield func(*QueryResponse) error) error {
	seen := map[string]bool{}
	emptyRun := 0
	for page := 0; ; page++ {
		if page >= maxPages {
			return fmt.Errorf("query stopped after %d pages", maxPages)
		}
		resp, err := fetch(ctx, q)
		if err != nil {
			return err
		}
		if err := yield(resp); err != nil {
			return err
		}
		next := resp.PaginationContext.NextPageToken
		if next == "" {
			return nil
		}
		if seen[next] {
			return fmt.Errorf("page %d: %w %q", page+2, ErrRepeatedToken, next)
		}
		seen[next] = true
		// Empty pages with a token are legal now and then, but a long run of
		// them is a server that will never finish.
		if len(resp.AccountAssociations) == 0 {
			if emptyRun++; emptyRun >= 10 {
				return fmt.Errorf("query stopped: %d empty pages in a row, each with a next token", emptyRun)
			}
		} else {
			emptyRun = 0
		}
		pc := PaginationRequest{NextToken: next}
		if q.PaginationContext != nil {
			pc.MaxResults = q.PaginationContext.MaxResults
		}
		q.PaginationContext = &pc
	}
}
