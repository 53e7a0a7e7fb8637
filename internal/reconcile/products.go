package reconcile

import (
	"context"
	"net/http"

	"github.com/bulksync/bulksync/internal/client"
)

// Associated is the value of a skill ↔ in-skill product association: there
// is nothing to it but being there.
type Associated struct{}

func (Associated) String() string { return "associated" }

// ProductAPI is what the product association resource needs of the service.
type ProductAPI interface {
	ListSkillProducts(ctx context.Context, skillID, stage, token string) (*client.ProductPage, error)
	ListProductSkills(ctx context.Context, productID, stage, token string) (*client.SkillPage, error)
	AssociateProduct(ctx context.Context, productID, skillID string) error
	DisassociateProduct(ctx context.Context, productID, skillID string) error
}

// Products is the skill ↔ in-skill product association (Key.Group the
// skill, Key.ID the product). What exists is read per skill or per product,
// pages of up to 100, with no filtered read: the planner reads from the
// side that costs fewer pages. Writes go to the development stage (the API
// has no other); Stage is the stage read.
type Products struct {
	API   ProductAPI
	Stage string
}

// Kind implements Resource.
func (Products) Kind() string { return "product" }

// Names implements Resource.
func (Products) Names() Names {
	return Names{Group: "skillId", ID: "productId", LogGroup: "skill_id", LogID: "product_id"}
}

// Equal implements Resource: an association is there or not.
func (Products) Equal(_, _ Associated) bool { return true }

// BatchSize implements Resource: there is no read of chosen products.
func (Products) BatchSize() int { return 0 }

// PageSize implements Resource: both sides list, up to 100 a page.
func (Products) PageSize(Side) int { return client.MaxISPPage }

// ReadPage implements Resource.
func (p Products) ReadPage(ctx context.Context, r Read, token string) (Page[Associated], error) {
	page := Page[Associated]{Total: -1}
	if r.Side == ByID {
		resp, err := p.API.ListProductSkills(ctx, r.Scope, p.Stage, token)
		if err != nil {
			return page, err
		}
		for _, s := range resp.SkillIDs {
			page.Found = append(page.Found, Found[Associated]{Key: Key{Group: s, ID: r.Scope}})
		}
		page.Next = resp.Next
		return page, nil
	}
	resp, err := p.API.ListSkillProducts(ctx, r.Scope, p.Stage, token)
	if err != nil {
		return page, err
	}
	for _, x := range resp.Products {
		page.Found = append(page.Found, Found[Associated]{Key: Key{Group: r.Scope, ID: x.ProductID}})
	}
	page.Next = resp.Next
	return page, nil
}

// Create implements Resource: associate (204).
func (p Products) Create(ctx context.Context, k Key, _ Associated) (int, error) {
	return answered(http.StatusNoContent, p.API.AssociateProduct(ctx, k.ID, k.Group))
}

// Update implements Resource; Equal never asks for one, and associating
// again is the same as associating.
func (p Products) Update(ctx context.Context, k Key, v Associated) (int, error) {
	return p.Create(ctx, k, v)
}

// Delete implements Resource: disassociate (204).
func (p Products) Delete(ctx context.Context, k Key) (int, error) {
	return answered(http.StatusNoContent, p.API.DisassociateProduct(ctx, k.ID, k.Group))
}

// ShardByGroup implements GroupSharded: a skill's product list carries no
// total, so only the one shard that writes a skill may read it for its
// writes; every association of a skill is that shard's.
func (Products) ShardByGroup() bool { return true }
