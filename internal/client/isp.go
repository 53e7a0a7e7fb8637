package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// In-Skill Product Management, part of the Skill Management API
// (api/in-skill-product-management.txt and api/ISP-NOTES.md): products, and
// which skills offer them.

// MaxISPPage is the most results one page of an in-skill product list may
// hold; every list call asks for it.
const MaxISPPage = 100

// Stages of a skill and its products.
const (
	StageDevelopment = "development"
	StageLive        = "live"
)

// extra is what a few operations add to a request (a query, If-Match) or
// need of an answer (its ETag).
type extra struct {
	query  url.Values
	header http.Header
	answer http.Header // set by do to the answer's headers
}

// ProductSummary is one in-skill product of a list, kept whole: it prints as
// the API sent it, whatever fields the API adds.
type ProductSummary struct {
	ProductID     string
	ReferenceName string
	Raw           json.RawMessage
}

// UnmarshalJSON keeps the summary as sent and reads its ids.
func (p *ProductSummary) UnmarshalJSON(b []byte) error {
	var ids struct {
		ProductID     string `json:"productId"`
		ReferenceName string `json:"referenceName"`
	}
	if err := json.Unmarshal(b, &ids); err != nil {
		return err
	}
	p.ProductID, p.ReferenceName, p.Raw = ids.ProductID, ids.ReferenceName, bytes.Clone(b)
	return nil
}

// MarshalJSON writes the summary as the API sent it.
func (p ProductSummary) MarshalJSON() ([]byte, error) {
	if p.Raw == nil {
		return json.Marshal(map[string]string{"productId": p.ProductID})
	}
	return p.Raw, nil
}

// ProductPage is one page of a product list.
type ProductPage struct {
	Products []ProductSummary
	Next     string // token of the next page; "" on the last
}

// SkillPage is one page of the skills a product is associated with.
type SkillPage struct {
	SkillIDs []string
	Next     string
}

// listPage is a list answer's paging, in either shape.
type listPage struct {
	Products    *[]ProductSummary `json:"inSkillProducts"`
	SkillIDs    *[]string         `json:"associatedSkillIds"`
	IsTruncated *bool             `json:"isTruncated"`
	NextToken   string            `json:"nextToken"`
}

// next is the token of the next page. isTruncated: false marks the last
// page; an answer without it (the older flat shape) has more pages while it
// names a nextToken.
func (l listPage) next(method, path string) (string, error) {
	switch {
	case l.IsTruncated == nil:
		return l.NextToken, nil
	case !*l.IsTruncated:
		return "", nil
	case l.NextToken == "":
		return "", &APIError{Status: http.StatusOK, Method: method, Path: path, Unexpected: true,
			Message: "the list says isTruncated but gives no nextToken"}
	}
	return l.NextToken, nil
}

func pageQuery(token string) url.Values {
	q := url.Values{"maxResults": {strconv.Itoa(MaxISPPage)}}
	if token != "" {
		q.Set("nextToken", token)
	}
	return q
}

// listProducts reads one page of a product list. It accepts both shapes:
// the SDK's model wraps the list in inSkillProductSummaryList, the
// reference page shows it flat.
func (c *Client) listProducts(ctx context.Context, path string, q url.Values) (*ProductPage, error) {
	var body struct {
		Wrapped *listPage `json:"inSkillProductSummaryList"`
		listPage
	}
	if err := c.do(ctx, http.MethodGet, path, http.StatusOK, nil, &body, &extra{query: q}); err != nil {
		return nil, err
	}
	l := body.listPage
	if body.Wrapped != nil {
		l = *body.Wrapped
	}
	if l.Products == nil && l.IsTruncated == nil && l.NextToken == "" {
		return nil, &APIError{Status: http.StatusOK, Method: http.MethodGet, Path: path, Unexpected: true,
			Message: "the answer is not a list of in-skill products"}
	}
	next, err := l.next(http.MethodGet, path)
	if err != nil {
		return nil, err
	}
	p := &ProductPage{Next: next}
	if l.Products != nil {
		p.Products = *l.Products
	}
	return p, nil
}

func skillProductsPath(skillID, stage string) string {
	return "/v1/skills/" + pathEscape(skillID) + "/stages/" + pathEscape(stage) + "/inSkillProducts"
}

func productPath(productID string) string { return "/v1/inSkillProducts/" + pathEscape(productID) }

func productStagePath(productID, stage string) string {
	return productPath(productID) + "/stages/" + pathEscape(stage)
}

// ListSkillProducts reads one page of the products associated with a skill
// in a stage; token is "" for the first page.
func (c *Client) ListSkillProducts(ctx context.Context, skillID, stage, token string) (*ProductPage, error) {
	return c.listProducts(ctx, skillProductsPath(skillID, stage), pageQuery(token))
}

// VendorFilter narrows a vendor's product list (all optional).
type VendorFilter struct {
	ProductIDs            []string // at most 50, and not with paging
	Stage                 string
	Type                  string
	ReferenceName         string
	Status                string
	IsAssociatedWithSkill string // ASSOCIATED_WITH_SKILL or NO_ASSOCIATIONS
}

// ListVendorProducts reads one page of a vendor's products. The API takes
// productId filters only without paging.
func (c *Client) ListVendorProducts(ctx context.Context, vendorID string, f VendorFilter, token string) (*ProductPage, error) {
	q := url.Values{"vendorId": {vendorID}}
	if len(f.ProductIDs) > 0 {
		if len(f.ProductIDs) > 50 {
			return nil, fmt.Errorf("list products: at most 50 product ids, got %d", len(f.ProductIDs))
		}
		q["productId"] = f.ProductIDs
	} else {
		q = pageQuery(token)
		q.Set("vendorId", vendorID)
	}
	for k, v := range map[string]string{"stage": f.Stage, "type": f.Type, "referenceName": f.ReferenceName,
		"status": f.Status, "isAssociatedWithSkill": f.IsAssociatedWithSkill} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return c.listProducts(ctx, "/v1/inSkillProducts", q)
}

// ListProductSkills reads one page of the skills a product is associated
// with in a stage.
func (c *Client) ListProductSkills(ctx context.Context, productID, stage, token string) (*SkillPage, error) {
	path := productStagePath(productID, stage) + "/skills"
	var l listPage
	if err := c.do(ctx, http.MethodGet, path, http.StatusOK, nil, &l, &extra{query: pageQuery(token)}); err != nil {
		return nil, err
	}
	if l.SkillIDs == nil && l.IsTruncated == nil && l.NextToken == "" {
		return nil, &APIError{Status: http.StatusOK, Method: http.MethodGet, Path: path, Unexpected: true,
			Message: "the answer is not a list of associated skills"}
	}
	next, err := l.next(http.MethodGet, path)
	if err != nil {
		return nil, err
	}
	p := &SkillPage{Next: next}
	if l.SkillIDs != nil {
		p.SkillIDs = *l.SkillIDs
	}
	return p, nil
}

// AssociateProduct makes a product available in a skill (204). The call
// carries no body.
func (c *Client) AssociateProduct(ctx context.Context, productID, skillID string) error {
	return c.do(ctx, http.MethodPut, productPath(productID)+"/skills/"+pathEscape(skillID), http.StatusNoContent, nil, nil)
}

// DisassociateProduct removes a product from a skill (204).
func (c *Client) DisassociateProduct(ctx context.Context, productID, skillID string) error {
	return c.do(ctx, http.MethodDelete, productPath(productID)+"/skills/"+pathEscape(skillID), http.StatusNoContent, nil, nil)
}

// Product is a product's definition or summary as the API sent it, with the
// ETag that a conditional update or delete names.
type Product struct {
	Answer json.RawMessage // {"inSkillProductDefinition":{…}} or {"inSkillProductSummary":{…}}
	ETag   string
}

// GetProduct reads a product's definition (the manifest) in a stage.
func (c *Client) GetProduct(ctx context.Context, productID, stage string) (*Product, error) {
	return c.getProduct(ctx, productStagePath(productID, stage), "inSkillProductDefinition")
}

// GetProductSummary reads a product's summary in a stage.
func (c *Client) GetProductSummary(ctx context.Context, productID, stage string) (*Product, error) {
	return c.getProduct(ctx, productStagePath(productID, stage)+"/summary", "inSkillProductSummary")
}

func (c *Client) getProduct(ctx context.Context, path, field string) (*Product, error) {
	var body map[string]json.RawMessage
	x := &extra{}
	if err := c.do(ctx, http.MethodGet, path, http.StatusOK, nil, &body, x); err != nil {
		return nil, err
	}
	if _, ok := body[field]; !ok {
		return nil, &APIError{Status: http.StatusOK, Method: http.MethodGet, Path: path, Unexpected: true,
			Message: "the answer has no " + field}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return &Product{Answer: raw, ETag: x.answer.Get("ETag")}, nil
}

// CreatedProduct is the answer to a create.
type CreatedProduct struct {
	ProductID string `json:"productId"`
}

// CreateProduct creates a product for a vendor from its definition (the
// inSkillProductDefinition object of a manifest) and returns its new id (201).
func (c *Client) CreateProduct(ctx context.Context, vendorID string, definition json.RawMessage) (*CreatedProduct, error) {
	body := map[string]any{"vendorId": vendorID, "inSkillProductDefinition": definition}
	var out CreatedProduct
	if err := c.do(ctx, http.MethodPost, "/v1/inSkillProducts", http.StatusCreated, body, &out); err != nil {
		return nil, err
	}
	if out.ProductID == "" {
		return nil, &APIError{Status: http.StatusCreated, Method: http.MethodPost, Path: "/v1/inSkillProducts", Unexpected: true,
			Message: "the answer names no productId"}
	}
	return &out, nil
}

// UpdateProduct replaces a product's development definition; with an etag,
// only if the product is still that version (else 412). The SDK's model
// documents 204, the reference page 200 with the definition: both are the
// update done.
func (c *Client) UpdateProduct(ctx context.Context, productID string, definition json.RawMessage, etag string) error {
	body := map[string]any{"inSkillProductDefinition": definition}
	err := c.do(ctx, http.MethodPut, productStagePath(productID, StageDevelopment), http.StatusNoContent, body, nil, ifMatch(etag))
	var ae *APIError
	if errors.As(err, &ae) && ae.Unexpected && ae.Status == http.StatusOK {
		return nil
	}
	return err
}

// DeleteProduct deletes a product (development stage only; the API refuses
// live products and products associated with a skill); with an etag, only
// if the product is still that version.
func (c *Client) DeleteProduct(ctx context.Context, productID, etag string) error {
	return c.do(ctx, http.MethodDelete, productStagePath(productID, StageDevelopment), http.StatusNoContent, nil, nil, ifMatch(etag))
}

func ifMatch(etag string) *extra {
	x := &extra{}
	if etag != "" {
		x.header = http.Header{"If-Match": {etag}}
	}
	return x
}
