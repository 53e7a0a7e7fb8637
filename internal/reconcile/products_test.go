package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/rs/zerolog"
)

// fakeISP is an in-memory In-Skill Product API: skill -> product, pages of
// page entries, counting calls.
type fakeISP struct {
	mu    sync.Mutex
	have  map[Key]bool // {skill, product}
	page  int
	calls map[string]int // skill.products, product.skills, associate, disassociate
	stage string         // the stage every read must ask for
}

func newFakeISP(page int) *fakeISP {
	return &fakeISP{have: map[Key]bool{}, page: page, calls: map[string]int{}, stage: "development"}
}

func (f *fakeISP) list(keys []string, token string) ([]string, string) {
	off, _ := strconv.Atoi(token)
	end := min(off+f.page, len(keys))
	next := ""
	if end < len(keys) {
		next = strconv.Itoa(end)
	}
	return keys[off:end], next
}

func (f *fakeISP) scope(match func(Key) bool, part func(Key) string) []string {
	var out []string
	for k := range f.have {
		if match(k) {
			out = append(out, part(k))
		}
	}
	slices.Sort(out)
	return out
}

func (f *fakeISP) ListSkillProducts(_ context.Context, skill, stage, token string) (*client.ProductPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["skill.products"]++
	if stage != f.stage {
		return nil, fmt.Errorf("read of stage %s", stage)
	}
	ids, next := f.list(f.scope(func(k Key) bool { return k.Group == skill }, func(k Key) string { return k.ID }), token)
	p := &client.ProductPage{Next: next}
	for _, id := range ids {
		p.Products = append(p.Products, client.ProductSummary{ProductID: id})
	}
	return p, nil
}

func (f *fakeISP) ListProductSkills(_ context.Context, product, stage, token string) (*client.SkillPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["product.skills"]++
	if stage != f.stage {
		return nil, fmt.Errorf("read of stage %s", stage)
	}
	ids, next := f.list(f.scope(func(k Key) bool { return k.ID == product }, func(k Key) string { return k.Group }), token)
	return &client.SkillPage{SkillIDs: ids, Next: next}, nil
}

func (f *fakeISP) AssociateProduct(_ context.Context, product, skill string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["associate"]++
	f.have[Key{skill, product}] = true
	return nil
}

func (f *fakeISP) DisassociateProduct(_ context.Context, product, skill string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["disassociate"]++
	if !f.have[Key{skill, product}] {
		return &client.APIError{Status: 404, Type: "NOT_FOUND"}
	}
	delete(f.have, Key{skill, product})
	return nil
}

func (f *fakeISP) reads() int  { return f.calls["skill.products"] + f.calls["product.skills"] }
func (f *fakeISP) writes() int { return f.calls["associate"] + f.calls["disassociate"] }

func skillName(i int) string   { return fmt.Sprintf("amzn1.ask.skill.%03d", i) }
func productName(i int) string { return fmt.Sprintf("amzn1.adg.product.%02d", i) }

func runProducts(t *testing.T, f *fakeISP, opts Options, rows []Row[Associated]) (map[Key]Fate[Associated], error) {
	t.Helper()
	f.calls = map[string]int{}
	fates := map[Key]Fate[Associated]{}
	var mu sync.Mutex
	e := &Engine[Associated]{Res: Products{API: f, Stage: "development"}, Caller: testCaller(2), Log: zerolog.Nop(), Opts: opts,
		Emit: func(x Fate[Associated]) {
			mu.Lock()
			defer mu.Unlock()
			if _, dup := fates[x.Row.Key]; dup {
				t.Errorf("%v reported twice", x.Row.Key)
			}
			fates[x.Row.Key] = x
		}}
	_, err := e.Run(context.Background(), values(rows))
	return fates, err
}

func assoc(skill, product string, line int) Row[Associated] {
	return Row[Associated]{Src: Source{"products.csv", line}, Key: Key{skill, product}}
}

// 12 products in 300 skills: read per product (12 × 3 pages of 100), not
// per skill (300 pages); the second run writes nothing.
func TestProductsCheaperSide(t *testing.T) {
	f := newFakeISP(100)
	var rows []Row[Associated]
	for p := range 12 {
		for s := range 300 {
			rows = append(rows, assoc(skillName(s), productName(p), len(rows)+2))
			if (p+s)%10 != 0 {
				f.have[Key{skillName(s), productName(p)}] = true // 10% missing
			}
		}
	}
	fates, err := runProducts(t, f, Options{MaxDeletes: Limit{Percent: 10}}, rows)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.calls["product.skills"]; got != 36 || f.calls["skill.products"] != 0 {
		t.Errorf("reads: %v, want 36 product.skills pages", f.calls)
	}
	if f.writes() != 360 || len(f.have) != 3600 {
		t.Errorf("writes %d, state %d; want 360 and 3600", f.writes(), len(f.have))
	}
	created := fates[Key{skillName(0), productName(0)}]
	if created.Outcome != Created || created.Status != 204 || created.Action != ActCreate {
		t.Errorf("an associate's fate: %+v", created)
	}
	if same := fates[Key{skillName(1), productName(0)}]; same.Outcome != Unchanged || same.Prev == nil {
		t.Errorf("an existing association's fate: %+v", same)
	}
	if _, err := runProducts(t, f, Options{MaxDeletes: Limit{Percent: 10}}, rows); err != nil || f.writes() != 0 || f.reads() != 36 {
		t.Errorf("second run: %v, calls %v; want 36 reads and no write", err, f.calls)
	}
}

// With --prune every skill named is listed whole; what no row names goes.
func TestProductsPrune(t *testing.T) {
	f := newFakeISP(2)
	f.have[Key{skillName(1), productName(1)}] = true
	f.have[Key{skillName(1), productName(2)}] = true // not in the files: pruned
	f.have[Key{skillName(1), productName(3)}] = true // disassociated by its row
	f.have[Key{skillName(2), productName(9)}] = true // a skill no row names: untouched
	rows := []Row[Associated]{
		assoc(skillName(1), productName(1), 2),
		assoc(skillName(1), productName(4), 3),
		{Src: Source{"products.csv", 4}, Key: Key{skillName(1), productName(3)}, Delete: true},
		{Src: Source{"products.csv", 5}, Key: Key{skillName(1), productName(5)}, Delete: true},
	}
	fates, err := runProducts(t, f, Options{Prune: true, MaxDeletes: Limit{None: true}}, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Key]bool{{skillName(1), productName(1)}: true, {skillName(1), productName(4)}: true, {skillName(2), productName(9)}: true}
	if !maps.Equal(f.have, want) {
		t.Errorf("state: %v, want %v", f.have, want)
	}
	// skill 1 holds 3 at the start: 2 pages of 2.
	if f.calls["skill.products"] != 2 || f.calls["product.skills"] != 0 || f.writes() != 3 {
		t.Errorf("calls %v; want 2 skill.products pages and 3 writes", f.calls)
	}
	pruned := fates[Key{skillName(1), productName(2)}]
	if pruned.Outcome != Deleted || pruned.Row.Src.File != "" || pruned.Status != 204 {
		t.Errorf("pruned: %+v", pruned)
	}
	if n := fates[Key{skillName(1), productName(5)}]; n.Outcome != Unchanged || n.Action != ActNone {
		t.Errorf("disassociate of what is not there: %+v", n)
	}
	if _, err := runProducts(t, f, Options{Prune: true, MaxDeletes: Limit{None: true}}, rows); err != nil || f.writes() != 0 {
		t.Errorf("second run: %v, %d writes", err, f.writes())
	}
}

func TestProductsReadPage(t *testing.T) {
	f := newFakeISP(2)
	f.stage = "live"
	for s := range 3 {
		f.have[Key{skillName(s), productName(1)}] = true
	}
	res := Products{API: f, Stage: "live"}
	p, err := res.ReadPage(context.Background(), Read{Side: ByID, Scope: productName(1)}, "")
	if err != nil || len(p.Found) != 2 || p.Found[0].Key != (Key{skillName(0), productName(1)}) || p.Next == "" || p.Total != -1 {
		t.Errorf("by product: %+v, %v", p, err)
	}
	p, err = res.ReadPage(context.Background(), Read{Side: ByGroup, Scope: skillName(2)}, "")
	if err != nil || len(p.Found) != 1 || p.Found[0].Key != (Key{skillName(2), productName(1)}) || p.Next != "" {
		t.Errorf("by skill: %+v, %v", p, err)
	}
	if st, err := res.Delete(context.Background(), Key{skillName(9), productName(1)}); st != 404 || err == nil {
		t.Errorf("disassociate of what is not there: %d %v", st, err)
	}
	keys := slices.SortedFunc(maps.Keys(f.have), func(a, b Key) int { return cmp.Compare(a.Group, b.Group) })
	if len(keys) != 3 {
		t.Errorf("state: %v", keys)
	}
}
