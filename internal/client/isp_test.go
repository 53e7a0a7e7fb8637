package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

const skillA = "amzn1.ask.skill.aaaaaaaa-0000-0000-0000-000000000000"

var definition = json.RawMessage(`{"version":"1.0","type":"SUBSCRIPTION","referenceName":"gold",
	"subscriptionInformation":{"subscriptionPaymentFrequency":"MONTHLY","subscriptionTrialPeriodDays":7}}`)

func TestProductOperations(t *testing.T) {
	for _, o := range []emulator.Options{{}, {ISPFlatLists: true, ISPUpdateAnswers200: true}} {
		c, e := contract(t, o)
		ctx := context.Background()
		created, err := c.CreateProduct(ctx, "M1V", definition)
		if err != nil || !strings.HasPrefix(created.ProductID, "amzn1.adg.product.") {
			t.Fatalf("create: %+v, %v", created, err)
		}
		id := created.ProductID
		got, err := c.GetProduct(ctx, id, StageDevelopment)
		if err != nil || got.ETag == "" || !strings.Contains(string(got.Answer), `"inSkillProductDefinition"`) {
			t.Fatalf("get: %+v, %v", got, err)
		}
		if sum, err := c.GetProductSummary(ctx, id, StageDevelopment); err != nil || !strings.Contains(string(sum.Answer), `"inSkillProductSummary"`) || sum.ETag != got.ETag {
			t.Errorf("summary: %+v, %v", sum, err)
		}
		if err := c.UpdateProduct(ctx, id, definition, `"stale"`); StatusOf(err) != 412 {
			t.Errorf("update with a stale etag: %v, want 412", err)
		}
		if err := c.UpdateProduct(ctx, id, definition, got.ETag); err != nil {
			t.Errorf("update (flat %v): %v", o.ISPFlatLists, err)
		}
		if err := c.AssociateProduct(ctx, id, skillA); err != nil {
			t.Fatalf("associate: %v", err)
		}
		if err := c.AssociateProduct(ctx, id, skillA); err != nil {
			t.Errorf("associate twice: %v", err)
		}
		page, err := c.ListSkillProducts(ctx, skillA, StageDevelopment, "")
		if err != nil || len(page.Products) != 1 || page.Products[0].ProductID != id || page.Products[0].ReferenceName != "gold" || page.Next != "" {
			t.Errorf("list skill products (flat %v): %+v, %v", o.ISPFlatLists, page, err)
		}
		out, _ := json.Marshal(page.Products[0])
		if !strings.Contains(string(out), `"purchasableState"`) {
			t.Errorf("a listed product prints as sent, got %s", out)
		}
		skills, err := c.ListProductSkills(ctx, id, StageDevelopment, "")
		if err != nil || !slices.Equal(skills.SkillIDs, []string{skillA}) {
			t.Errorf("list product skills: %+v, %v", skills, err)
		}
		vendor, err := c.ListVendorProducts(ctx, "M1V", VendorFilter{IsAssociatedWithSkill: "ASSOCIATED_WITH_SKILL"}, "")
		if err != nil || len(vendor.Products) != 1 {
			t.Errorf("list vendor products: %+v, %v", vendor, err)
		}
		err = c.DeleteProduct(ctx, id, "")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 403 || ae.Type != "PRODUCT_IS_ASSOCIATED" || !strings.Contains(ae.Message, "disassociate it first") {
			t.Errorf("delete of an associated product: %#v", err)
		}
		if err := c.DisassociateProduct(ctx, id, skillA); err != nil {
			t.Errorf("disassociate: %v", err)
		}
		if err := c.DisassociateProduct(ctx, id, skillA); StatusOf(err) != 404 || !strings.Contains(err.Error(), "NOT_FOUND") {
			t.Errorf("disassociate twice: %v", err)
		}
		if err := c.DeleteProduct(ctx, id, ""); err != nil {
			t.Errorf("delete: %v", err)
		}
		if len(e.ProductIDs()) != 0 {
			t.Errorf("products left: %v", e.ProductIDs())
		}
	}
}

func TestProductPagesFollow(t *testing.T) {
	c, e := contract(t, emulator.Options{ISPPageSize: 3})
	var want []string
	for i := range 7 {
		id := e.PutProduct("M1V", fmt.Sprintf("p%d", i), false)
		e.Associate(StageDevelopment, id, skillA)
		want = append(want, id)
	}
	slices.Sort(want)
	var got []string
	token, pages := "", 0
	for {
		p, err := c.ListSkillProducts(context.Background(), skillA, StageDevelopment, token)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, x := range p.Products {
			got = append(got, x.ProductID)
		}
		if token = p.Next; token == "" {
			break
		}
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("got %v in %d pages, want %v in 3", got, pages, want)
	}
}

// The list shapes a server may send: the SDK's wrapped one, the page's flat
// one, the older CLI's (nextToken, no isTruncated), and what no list is.
func TestProductListShapes(t *testing.T) {
	tests := []struct {
		name, body string
		ids        []string
		next       string
		bad        string
	}{
		{"wrapped, more", `{"inSkillProductSummaryList":{"inSkillProducts":[{"productId":"p1"}],"isTruncated":true,"nextToken":"t2"}}`, []string{"p1"}, "t2", ""},
		{"wrapped, last", `{"inSkillProductSummaryList":{"inSkillProducts":[{"productId":"p1"}],"isTruncated":false}}`, []string{"p1"}, "", ""},
		{"flat, more", `{"inSkillProducts":[{"productId":"p1"},{"productId":"p2"}],"isTruncated":true,"nextToken":"t2"}`, []string{"p1", "p2"}, "t2", ""},
		{"flat, last with a stray token", `{"inSkillProducts":[],"isTruncated":false,"nextToken":"t9"}`, nil, "", ""},
		{"older: token, no isTruncated", `{"inSkillProducts":[{"productId":"p1"}],"nextToken":"t2"}`, []string{"p1"}, "t2", ""},
		{"truncated without a token", `{"inSkillProducts":[],"isTruncated":true}`, nil, "", "isTruncated but gives no nextToken"},
		{"not a list", `{"hello":"world"}`, nil, "", "not a list of in-skill products"},
		{"not JSON", `<html>`, nil, "", "not the documented JSON"},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("maxResults") != "100" {
				t.Errorf("%s: maxResults %q, want 100", tt.name, r.URL.Query().Get("maxResults"))
			}
			_, _ = w.Write([]byte(tt.body))
		}))
		c, err := New(Options{Endpoint: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.ListSkillProducts(context.Background(), skillA, StageDevelopment, "")
		srv.Close()
		if tt.bad != "" {
			var ae *APIError
			if !errors.As(err, &ae) || !ae.Unexpected || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("%s: got %v, want an unexpected answer saying %q", tt.name, err, tt.bad)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var ids []string
		for _, x := range p.Products {
			ids = append(ids, x.ProductID)
		}
		if !slices.Equal(ids, tt.ids) || p.Next != tt.next {
			t.Errorf("%s: got %v next %q, want %v next %q", tt.name, ids, p.Next, tt.ids, tt.next)
		}
	}
}

// ISP error bodies map into APIError as Smart Properties' do.
func TestISPErrorBodies(t *testing.T) {
	tests := []struct {
		status          int
		body            string
		wantType, wantM string
	}{
		{404, `{"code":"NOT_FOUND","message":"no such product"}`, "NOT_FOUND", "no such product"},
		{412, `{"code":"PRECONDITION_FAILED","message":"etag"}`, "PRECONDITION_FAILED", "etag"},
		{401, `{"message":"Token is invalid"}`, "", "Token is invalid"},
		{400, `{"message":"Bad request","violations":[{"code":"INVALID_STAGE","message":"stage must be development or live"}]}`,
			"INVALID_STAGE", "Bad request; stage must be development or live"},
		{403, `{"message":"forbidden","violations":[{"code":"A","message":"first"},{"code":"B","message":"second"}]}`, "A", "forbidden; first; second"},
		{404, `{"id":"NOT_FOUND","message":"as the page shows it"}`, "NOT_FOUND", "as the page shows it"},
		{400, `{"type":"BAD_REQUEST","message":"Smart Properties"}`, "BAD_REQUEST", "Smart Properties"},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			_, _ = w.Write([]byte(tt.body))
		}))
		c, _ := New(Options{Endpoint: srv.URL})
		err := c.AssociateProduct(context.Background(), "p", skillA)
		srv.Close()
		var f *APIError
		if !errors.As(err, &f) || f.Status != tt.status || f.Type != tt.wantType || f.Message != tt.wantM {
			t.Fatalf("%s: got %v, want %d %q %q", tt.body, err, tt.status, tt.wantType, tt.wantM)
		}
		// A 403 that lists violations refuses the request, not the caller.
		if wantRefused := strings.Contains(tt.body, "violations"); f.Refused != wantRefused {
			t.Errorf("%s: refused %v, want %v", tt.body, f.Refused, wantRefused)
		}
	}
}

// Associate and disassociate carry no body (and so no Content-Type).
func TestAssociateSendsNoBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 0 || r.Header.Get("Content-Type") != "" {
			t.Errorf("%s %s: body of %d bytes, Content-Type %q", r.Method, r.URL.Path, r.ContentLength, r.Header.Get("Content-Type"))
		}
		if want := "/v1/inSkillProducts/amzn1.adg.product.a%2Fb/skills/" + skillA; r.URL.EscapedPath() != want {
			t.Errorf("path %s, want %s", r.URL.EscapedPath(), want)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c, _ := New(Options{Endpoint: srv.URL})
	if err := c.AssociateProduct(context.Background(), "amzn1.adg.product.a/b", skillA); err != nil {
		t.Error(err)
	}
	if err := c.DisassociateProduct(context.Background(), "amzn1.adg.product.a/b", skillA); err != nil {
		t.Error(err)
	}
}
