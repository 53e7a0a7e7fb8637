package reconcile

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard selects a stable share of the associations: those whose hash of
// (provider, externalUserId) falls in shard Index of Count. The hash is
// FNV-1a, fixed forever, so every pod of a migration agrees on the split.
type Shard struct {
	Index, Count int
}

// ParseShard reads "I/N" with 0 <= I < N.
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	idx, err1 := strconv.Atoi(i)
	cnt, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || cnt < 1 || idx < 0 || idx >= cnt {
		return Shard{}, fmt.Errorf("shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)
	}
	return Shard{Index: idx, Count: cnt}, nil
}

// UnmarshalText reads a shard as ParseShard does, so a flag can be one.
func (s *Shard) UnmarshalText(b []byte) error {
	v, err := ParseShard(string(b))
	if err == nil {
		*s = v
	}
	return err
}

// Has reports whether the association belongs to this shard; the zero
// Shard has them all.
func (s Shard) Has(provider, externalUserID string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(provider))
	h.Write([]byte{0})
	h.Write([]byte(externalUserID))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

func (s Shard) String() string {
	if s.Count <= 1 {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// GroupSharded is implemented by a resource whose groups must each be
// written by one shard: its listings carry no total, so a listing read
// while another shard deletes from it would skip entries unseen. Such a
// resource is split by group alone.
type GroupSharded interface {
	ShardByGroup() bool
}

// Owns reports whether shard s writes the association k of res. It is the
// one test of "this row is another shard's": the engine, and whatever
// prepares rows for it (resolving units, counting progress), ask it alone.
func Owns[V any](s Shard, res Resource[V], k Key) bool {
	if g, ok := res.(GroupSharded); ok && g.ShardByGroup() {
		return s.Has(k.Group, "")
	}
	return s.Has(k.Group, k.ID)
}
