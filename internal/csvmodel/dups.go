package csvmodel

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
)

// entry is what the first pass keeps of a valid row for the duplicate
// check: 32 bytes, not the row.
type entry struct {
	hash   uint64 // of (provider, externalUserId)
	intent uint64 // of (action, amazonId, amazonIdType)
	ord    uint32 // the row's place in the input
	line   uint32
	id     uint32 // offset of its externalUserId in the arena
	prov   uint32
}

// where is a row's file (index into the sources) and line.
type where struct{ file, line uint32 }

// exception is a valid row that the duplicate check made a duplicate or
// invalid.
type exception struct {
	ord          uint32
	status       Status
	at           where
	first, other where  // the key's first row; the row that conflicts with it
	id           string // externalUserId, for the conflict message
}

// resolve settles duplicates once every file is read: only rows whose key
// hash repeats are looked at again, grouped by the keys themselves (a
// 64-bit collision is possible, never trusted).
func (r *Reader) resolve() {
	if r.resolved {
		return
	}
	r.resolved = true
	repeats := repeated(r.keys)
	if len(repeats) > 0 {
		for _, k := range r.keys { // in input order
			if run, ok := repeats[k.hash]; ok {
				repeats[k.hash] = append(run, k)
			}
		}
		for _, run := range repeats {
			r.settleRun(run)
		}
		slices.SortFunc(r.exc, func(a, b exception) int { return cmp.Compare(a.ord, b.ord) })
	}
	r.keys, r.arena = nil, nil
}

// settleRun splits rows of equal hash by their real key, each in input
// order.
func (r *Reader) settleRun(run []entry) {
	done := make([]bool, len(run))
	var group []entry
	for i := range run {
		if done[i] {
			continue
		}
		group = append(group[:0], run[i])
		for j := i + 1; j < len(run); j++ {
			if !done[j] && run[j].prov == run[i].prov && r.idOf(run[j]) == r.idOf(run[i]) {
				done[j] = true
				group = append(group, run[j])
			}
		}
		if len(group) > 1 {
			r.settleKey(group)
		}
	}
}

func (r *Reader) idOf(e entry) string {
	n := int(r.arena[e.id]) | int(r.arena[e.id+1])<<8
	return string(r.arena[e.id+2 : int(e.id)+2+n])
}

// settleKey decides the rows of one key, in input order: repeats of the
// first row's values are duplicates; once a row asks for something else,
// none can be trusted, so every row of the key is invalid, those before
// included.
func (r *Reader) settleKey(group []entry) {
	first := r.where(group[0])
	id := r.idOf(group[0])
	status := make([]Status, len(group))
	other := make([]where, len(group))
	conflict := -1
	for j := 1; j < len(group); j++ {
		switch {
		case conflict < 0 && group[j].intent == group[0].intent:
			status[j] = Duplicate
		case conflict < 0:
			conflict = j
			for k := 0; k <= j; k++ {
				status[k], other[k] = Invalid, r.where(group[j])
			}
		default:
			status[j], other[j] = Invalid, r.where(group[j])
		}
	}
	for k, e := range group {
		if status[k] == Valid {
			continue
		}
		r.counts[Valid]--
		r.counts[status[k]]++
		r.exc = append(r.exc, exception{ord: e.ord, status: status[k], at: r.where(e), first: first, other: other[k], id: id})
	}
}

// where is the file and line of a kept row: the file is the last whose
// first row is at or before the row's.
func (r *Reader) where(e entry) where {
	i, found := slices.BinarySearchFunc(r.srcs, e.ord, func(s *source, ord uint32) int { return cmp.Compare(s.first, ord) })
	if !found {
		i--
	}
	for i+1 < len(r.srcs) && r.srcs[i+1].first == e.ord && r.srcs[i].rows == 0 {
		i++ // files with no rows share their first ordinal with the next
	}
	return where{file: uint32(i), line: e.line}
}

func (r *Reader) whereText(w where) string {
	return r.srcs[w.file].name + ":" + strconv.FormatUint(uint64(w.line), 10)
}

// reason says why an exception is not valid.
func (r *Reader) reason(e exception) string {
	if e.status == Duplicate {
		return "same as " + r.whereText(e.first)
	}
	return fmt.Sprintf("externalUserId %s is given conflicting values at %s and %s", e.id, r.whereText(e.first), r.whereText(e.other))
}

// repeated returns the key hashes that occur more than once. It sorts the
// hashes the cheap way, as they are uniform: one counting pass spreads them
// into buckets by their top bits (a dozen or so per bucket), and each
// bucket is sorted alone.
func repeated(keys []entry) map[uint64][]entry {
	out := map[uint64][]entry{}
	if len(keys) < 2 {
		return out
	}
	shift := 64 - min(max(bits.Len(uint(len(keys)))-3, 4), 22)
	count := make([]uint32, 1<<(64-shift)+1)
	for _, k := range keys {
		count[k.hash>>shift+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	hs := make([]uint64, len(keys))
	next := slices.Clone(count[:len(count)-1])
	for _, k := range keys {
		b := k.hash >> shift
		hs[next[b]] = k.hash
		next[b]++
	}
	for b := range len(count) - 1 {
		bucket := hs[count[b]:count[b+1]]
		if len(bucket) < 2 {
			continue
		}
		slices.Sort(bucket)
		for i := 1; i < len(bucket); i++ {
			if bucket[i] == bucket[i-1] {
				out[bucket[i]] = nil
			}
		}
	}
	return out
}
