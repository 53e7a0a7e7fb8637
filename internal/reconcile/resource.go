package reconcile

import "context"

// Resource is one kind of association: how to read what exists, how to
// compare, and its write calls. Everything else (batching, guards, plans,
// pruning, shards, pacing, the report) is the engine's.
type Resource[V any] interface {
	// Kind names the resource in saved plans ("association").
	Kind() string
	// Names says what the resource calls the parts of a Key.
	Names() Names
	// Equal reports whether what the API has already is what is wanted.
	Equal(want, have V) bool
	// BatchSize is the most ids one filtered read of a group may name; 0
	// when a group can only be listed whole.
	BatchSize() int
	// PageSize is how many associations one page of a listing holds from
	// the given side; 0 when the API can't list from that side.
	PageSize(side Side) int
	// ReadPage reads one page of r; token is "" for the first page.
	ReadPage(ctx context.Context, r Read, token string) (Page[V], error)
	// Create, Update and Delete make one call each and return the status
	// the API answered with. The error is nil only for the answer the
	// operation documents.
	Create(ctx context.Context, k Key, v V) (int, error)
	Update(ctx context.Context, k Key, v V) (int, error)
	Delete(ctx context.Context, k Key) (int, error)
}

// Names are what a resource calls the parts of a Key.
type Names struct {
	Group, ID       string // in saved plans (JSON): serviceProviderId, externalUserId
	LogGroup, LogID string // in log lines: provider, external_user_id
}

// Side is where a read starts: a group (its associations), or an ID (the
// groups it is associated with).
type Side uint8

// The sides a resource may be read from.
const (
	ByGroup Side = iota
	ByID
)

// Read is one question to the API about what exists.
type Read struct {
	Side  Side
	Scope string   // the group (ByGroup) or the ID (ByID) read
	IDs   []string // ByGroup only: the ids asked about; nil lists the group whole
}

// Listing reports whether r reads its scope whole.
func (r Read) Listing() bool { return r.IDs == nil }

// Page is one page of a read's answer.
type Page[V any] struct {
	Found []Found[V]
	Next  string // token of the next page; "" on the last
	Total int    // the API's count, as it states it (its meaning may vary); -1 when it gives none
	// refused is how many of the page's entries the engine left out as
	// failing its checks: they count toward Total all the same.
	refused int
}

// Found is one association the API has.
type Found[V any] struct {
	Key   Key
	Value V
}
