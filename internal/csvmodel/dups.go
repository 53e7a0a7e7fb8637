package csvmodel

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// markEvery is how many valid rows apart the first pass marks where a file
// can be read again from: settling a repeated key reads at most this many
// rows before it (16 on average). A mark costs 16 bytes, so half a byte a
// row.
const markEvery = 32

// mark is where a file can be read again from: the offset where a valid
// row's record begins (the previous record's end) and the row's line.
type mark struct {
	off  int64
	line uint32
}

// kept is what settling needs of a valid row of an input read once.
type kept struct {
	intent uint64 // of (action, amazonId, amazonIdType, unitId, name)
	line   uint32
	id     uint32 // offset of its provider index and externalUserId in the arena
}

// where is a row's file (index into the sources) and line.
type where struct{ file, line uint32 }

// candidate is a valid row whose key hash repeats, read again.
type candidate struct {
	vi     uint32 // its index among the valid rows
	at     where
	hash   uint64 // of its key
	intent uint64
	prov   int32
	id     string // externalUserId
}

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
	if rep := repeated(r.hashes); len(rep) > 0 {
		r.err = r.settle(rep)
	}
	r.hashes = nil
	for _, s := range r.srcs {
		s.marks, s.kept, s.arena = nil, nil, nil
	}
}

// settle reads again the rows whose key hash is one of rep (sorted) and
// decides them, key by key.
func (r *Reader) settle(rep []uint64) error {
	// A set of the repeated hashes' top bits (16 to 32 bits for each, at
	// most 8 MiB) spares most rows the search.
	shift := 64 - min(max(bits.Len(uint(len(rep)))+4, 6), 26)
	seen := make([]uint64, 1<<(64-shift)/64)
	for _, h := range rep {
		seen[h>>shift/64] |= 1 << (h >> shift % 64)
	}
	runs := map[uint64][]candidate{} // by hash, each in input order
	for i, src := range r.srcs {
		var want []uint32 // the file's valid rows to read again, by index within the file
		for k, h := range r.hashes[src.firstValid : src.firstValid+src.valid] {
			if seen[h>>shift/64]&(1<<(h>>shift%64)) == 0 {
				continue
			}
			if _, ok := slices.BinarySearch(rep, h); ok {
				want = append(want, uint32(k))
			}
		}
		if len(want) == 0 {
			continue
		}
		cands, err := r.candidates(src, uint32(i), want)
		if err != nil {
			return err
		}
		for _, c := range cands {
			runs[c.hash] = append(runs[c.hash], c)
		}
	}
	for _, run := range runs {
		r.settleRun(run)
	}
	slices.SortFunc(r.exc, func(a, b exception) int { return cmp.Compare(a.vi, b.vi) })
	return nil
}

// candidates returns the valid rows of one file given by their index
// within it (ascending): read again from the nearest mark before each, or
// from what was kept of a file read once.
func (r *Reader) candidates(src *source, file uint32, want []uint32) ([]candidate, error) {
	out := make([]candidate, 0, len(want))
	if src.once {
		for _, k := range want {
			kp := src.kept[k]
			prov, a := binary.Uvarint(src.arena[kp.id:])
			n, b := binary.Uvarint(src.arena[int(kp.id)+a:])
			at := int(kp.id) + a + b
			out = append(out, candidate{vi: src.firstValid + k, at: where{file, kp.line}, hash: r.hashes[src.firstValid+k],
				intent: kp.intent, prov: int32(prov), id: string(src.arena[at : at+int(n)])})
		}
		return out, nil
	}
	if err := src.unchanged(); err != nil {
		return nil, err
	}
	var rs *records
	var k uint32 // the index within the file of the next valid row rs reads
	var mk mark  // where rs began
	fresh := false
	buf := bufio.NewReaderSize(nil, 16<<10)
	for _, w := range want {
		if m := w / r.every; rs == nil || m*r.every > k {
			// Skip to the mark before w, or read on when there is none
			// between.
			mk = src.marks[m]
			rs, k, fresh = src.records(io.NewSectionReader(src.ra, mk.off, src.size-mk.off), mk.off, 0, buf), m*r.every, true
		}
		for {
			rec, line, _, err := rs.next()
			if err == io.EOF {
				return nil, src.changed()
			}
			if err != nil {
				return nil, err
			}
			if fresh { // the marked row, whose line is known: the lines after follow from it
				rs.lines += int(mk.line) - line
				line, fresh = int(mk.line), false
			}
			if blankRecord(rec) {
				continue
			}
			d, err := r.decode(src, rec, line)
			if err != nil {
				return nil, err
			}
			if d.reason != "" {
				continue
			}
			if k++; k-1 < w {
				continue
			}
			h := r.keyHash(d.prov, d.row.ExternalUserID)
			if h != r.hashes[src.firstValid+w] {
				return nil, src.changed()
			}
			out = append(out, candidate{vi: src.firstValid + w, at: where{file, uint32(line)}, hash: h,
				intent: r.intent(d.row), prov: d.prov, id: strings.Clone(d.row.ExternalUserID)})
			break
		}
	}
	if err := src.unchanged(); err != nil {
		return nil, err
	}
	return out, nil
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
			if !done[j] && run[j].prov == run[i].prov && run[j].id == run[i].id {
				done[j] = true
				group = append(group, run[j])
			}
		}
		if len(group) > 1 {
			r.settleKey(group)
		}
	}
}

// settleKey decides the rows of one key, in input order: repeats of the
// first row's values are duplicates; once a row asks for something else,
// none can be trusted, so every row of the key is invalid, those before
// included.
func (r *Reader) settleKey(group []candidate) {
	first := group[0].at
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
				status[k], other[k] = Invalid, group[j].at
			}
		default:
			status[j], other[j] = Invalid, group[j].at
		}
	}
	for k, c := range group {
		if status[k] == Valid {
			continue
		}
		r.counts[Valid]--
		r.counts[status[k]]++
		r.exc = append(r.exc, exception{vi: c.vi, status: status[k], at: c.at, first: first, other: other[k], id: group[0].id})
	}
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

// repeated returns the hashes that occur more than once, sorted. It sorts
// the hashes the cheap way, as they are uniform: one counting pass spreads
// them into buckets by their top bits (a dozen or so per bucket), and each
// bucket is sorted alone.
func repeated(hashes []uint64) []uint64 {
	if len(hashes) < 2 {
		return nil
	}
	shift := 64 - min(max(bits.Len(uint(len(hashes)))-3, 4), 22)
	count := make([]uint32, 1<<(64-shift)+1)
	for _, h := range hashes {
		count[h>>shift+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	hs := make([]uint64, len(hashes))
	next := slices.Clone(count[:len(count)-1])
	for _, h := range hashes {
		b := h >> shift
		hs[next[b]] = h
		next[b]++
	}
	var out []uint64
	for b := range len(count) - 1 {
		bucket := hs[count[b]:count[b+1]]
		if len(bucket) < 2 {
			continue
		}
		slices.Sort(bucket)
		for i := 1; i < len(bucket); i++ {
			if bucket[i] == bucket[i-1] && (len(out) == 0 || out[len(out)-1] != bucket[i]) {
				out = append(out, bucket[i])
			}
		}
	}
	return out
}
