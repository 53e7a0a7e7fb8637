package csvmodel

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
)

// entry is what the first pass keeps of a valid row for the duplicate
// check: 24 bytes, not the row. Its place among the valid rows is its
// index in Reader.keys.
type entry struct {
	hash   uint64 // of (provider, externalUserId)
	intent uint64 // of (action, amazonId, amazonIdType)
	line   uint32
	id     uint32 // offset of its provider index and externalUserId in the arena
}

// candidate is a valid row whose key hash repeats, with its index.
type candidate struct {
	vi uint32
	entry
}

// where is a row's file (index into the sources) and line.
type where struct{ file, line uint32 }

// exception is a valid row that the duplicate check made a duplicate or
// invalid.
type exception struct {
	vi           uint32 // its index among the valid rows
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
		for i, k := range r.keys { // in input order
			if run, ok := repeats[k.hash]; ok {
				repeats[k.hash] = append(run, candidate{uint32(i), k})
			}
		}
		for _, run := range repeats {
			r.settleRun(run)
		}
		slices.SortFunc(r.exc, func(a, b exception) int { return cmp.Compare(a.vi, b.vi) })
	}
	r.keys, r.arena = nil, nil
}

// settleRun splits rows of equal hash by their real key, each in input
// order.
func (r *Reader) settleRun(run []candidate) {
	done := make([]bool, len(run))
	var group []candidate
	for i := range run {
		if done[i] {
			continue
		}
		group = append(group[:0], run[i])
		for j := i + 1; j < len(run); j++ {
			if !done[j] && r.keyOf(run[j].entry) == r.keyOf(run[i].entry) {
				done[j] = true
				group = append(group, run[j])
			}
		}
		if len(group) > 1 {
			r.settleKey(group)
		}
	}
}

// keyOf is a kept row's key as the arena holds it: provider index and
// externalUserId, each length as a uvarint.
func (r *Reader) keyOf(e entry) string {
	_, a := binary.Uvarint(r.arena[e.id:])
	n, b := binary.Uvarint(r.arena[int(e.id)+a:])
	return string(r.arena[e.id : int(e.id)+a+b+int(n)])
}

func (r *Reader) idOf(e entry) string {
	_, a := binary.Uvarint(r.arena[e.id:])
	n, b := binary.Uvarint(r.arena[int(e.id)+a:])
	return string(r.arena[int(e.id)+a+b : int(e.id)+a+b+int(n)])
}

// settleKey decides the rows of one key, in input order: repeats of the
// first row's values are duplicates; once a row asks for something else,
// none can be trusted, so every row of the key is invalid, those before
// included.
func (r *Reader) settleKey(group []candidate) {
	first := r.where(group[0])
	id := r.idOf(group[0].entry)
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
	for k, c := range group {
		if status[k] == Valid {
			continue
		}
		r.counts[Valid]--
		r.counts[status[k]]++
		r.exc = append(r.exc, exception{vi: c.vi, status: status[k], at: r.where(c), first: first, other: other[k], id: id})
	}
}

// where is the file and line of a kept row: the last file whose first
// valid row is at or before it, among those with valid rows.
func (r *Reader) where(c candidate) where {
	i, found := slices.BinarySearchFunc(r.srcs, c.vi, func(s *source, vi uint32) int { return cmp.Compare(s.firstValid, vi) })
	if !found {
		i--
	}
	for i+1 < len(r.srcs) && r.srcs[i+1].firstValid == c.vi && r.srcs[i].valid == 0 {
		i++ // files with no valid row share their first index with the next
	}
	return where{file: uint32(i), line: c.line}
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
func repeated(keys []entry) map[uint64][]candidate {
	out := map[uint64][]candidate{}
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
