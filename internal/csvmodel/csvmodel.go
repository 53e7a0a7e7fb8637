// Package csvmodel reads the property management system's export: header
// aliases and column choices, delimiter and BOM handling, row checks and
// duplicates across all files. It yields valid rows, and invalid rows with
// their file and line.
//
// Reading is two passes. The first reads every file with encoding/csv
// through a column index worked out once from each header, checks every row
// and keeps, per valid row, only a 64-bit hash of its key (8 bytes), and
// every 32 valid rows where the file can be read again from. Once every
// file is read the hashes are sorted; a hash that repeats marks the few
// candidates for duplicates, whose rows are read again (from the nearest
// mark) and settled by comparing the keys themselves and what the rows ask
// for. An input that can't be read twice (standard input without a spool)
// keeps, per valid row, what that needs instead: the hash of what it asks,
// its line and its id. Rows then reads the files again and hands out each
// row with its verdict; no row is kept.
//
// Every record is bounded (MaxRecordBytes) as encoding/csv reads it, so a
// quote never closed costs a few megabytes, not the file.
package csvmodel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"math"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Actions a row may ask for.
const (
	ActionUpsert = "upsert"
	ActionDelete = "delete"
)

// DefaultAmazonIDType is used when a row leaves amazonIdType empty, and
// the only type the API takes.
const DefaultAmazonIDType = "communication-profile"

// ProviderPrefix starts every service provider ACI.
const ProviderPrefix = "amzn1.comms.csp.id."

// StdinName is the file name of standard input in messages and reports
// ("stdin:17").
const StdinName = "stdin"

// Row is one data line of an input file, trimmed and defaulted.
type Row struct {
	File              string
	Line              int // physical line in the file, 1-based
	ServiceProviderID string
	ExternalUserID    string
	AmazonID          string
	AmazonIDType      string
	Action            string
	UnitID            string // the room's Alexa unit: its profile is resolved when AmazonID is empty, checked when not
	Name              string // display name of a profile created for the unit
}

// UnitPrefix starts every Alexa unit id (api/PROFILE-NOTES.md).
const UnitPrefix = "amzn1.alexa.unit.did."

// Where names the row for a person: "rooms.csv:17".
func (r Row) Where() string { return r.File + ":" + strconv.Itoa(r.Line) }

// Key identifies the association a row is about.
func (r Row) Key() Key { return Key{r.ServiceProviderID, r.ExternalUserID} }

// Key is (provider, externalUserId).
type Key struct{ Provider, ExternalUserID string }

// Status says what became of a row in reading.
type Status int

// A row is valid, a repeat of an earlier identical row, or invalid.
const (
	Valid Status = iota
	Duplicate
	Invalid
)

// Checked is a row with its verdict; Reason says why it is not valid.
type Checked struct {
	Row
	Status Status
	Reason string
	// Raw is set with Options.Records: the row as its file holds it.
	Raw *Raw
}

// Raw is a row as its file holds it: its cells as read (every column,
// untrimmed; a copy), the file's header (shared: not to be changed) and
// delimiter, so that the row can be written back as it came.
type Raw struct {
	Record, Header []string
	Comma          rune
}

// FileError rejects a whole file; Line is 0 when no line is to blame.
type FileError struct {
	File string
	Line int
	Msg  string
	Err  error // a sentinel saying what kind of refusal, when there is one
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

func (e *FileError) Unwrap() error { return e.Err }

// Options control reading.
type Options struct {
	Delimiter       Delimiter // 0: sniffed from the header line
	DefaultProvider string    // for rows without a serviceProviderId
	// Columns are choices FIELD=HEADER: the header named is the field's
	// column, whatever the aliases say.
	Columns []string
	// Reports are the headers of bulksync's own reports: a file with one
	// is refused (its columns would read as input).
	Reports [][]string
	// Stdin is what the file name "-" reads.
	Stdin io.Reader
	// Spool keeps a copy of an input that can't be read twice (standard
	// input, a pipe) in a temporary file in TempDir (default: the
	// system's), unlinked at once, so that Rows can read it again.
	Spool   bool
	TempDir string
	// Records sets Checked.Raw.
	Records bool
	// OnRow, when set, receives each row as the first pass reads it, with
	// the verdict of its own checks: Valid or Invalid. Duplicates are
	// decided once every file is read (Problems, Rows).
	OnRow func(Checked)
}

// Reader reads several files as one input.
type Reader struct {
	opts    Options
	cols    *columns
	seeds   [4]maphash.Seed // key, amazonId, amazonIdType, provider
	keyMask uint64          // key hashes keep these bits: all, but a test makes keys collide
	every   uint32          // valid rows between marks: markEvery, but a test marks every row

	provs  []provider // each distinct provider id, checked once
	provIx map[string]int32
	last   string // the provider of the previous row, and its index:
	lastIx int32  // exports rarely change provider from row to row
	types  [2]uint64

	table    bool // ReadTable: rows are handed out once, no keys kept
	srcs     []*source
	stdin    bool
	nrows    uint32   // rows read so far
	hashes   []uint64 // of each valid row's key, in input order, until resolved
	exc      []exception
	resolved bool
	err      error  // why duplicates could not be settled
	counts   [3]int // by Status
}

type provider struct {
	id     string
	reason string // why it can't be used, or ""
	hash   uint64
}

// NewReader starts an input; it refuses column choices that name no field.
func NewReader(o Options) (*Reader, error) {
	cols, err := RoomColumns().compile(o.Columns)
	if err != nil {
		return nil, err
	}
	r := &Reader{opts: o, cols: cols, provIx: map[string]int32{}, keyMask: math.MaxUint64, every: markEvery}
	for i := range r.seeds {
		r.seeds[i] = maphash.MakeSeed()
	}
	r.types = [2]uint64{r.typeHash(""), r.typeHash(DefaultAmazonIDType)}
	return r, nil
}

// ReadFile adds one file; "-" is Options.Stdin. A *FileError rejects the
// file whole.
func (r *Reader) ReadFile(path string) error {
	if path == "-" {
		switch {
		case r.opts.Stdin == nil:
			return &FileError{File: StdinName, Msg: "no standard input to read"}
		case r.stdin:
			return &FileError{File: StdinName, Msg: "standard input (-) is named twice; it can be read once"}
		}
		r.stdin = true
		return r.Read(StdinName, r.opts.Stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return &FileError{File: path, Msg: "can't open: " + unwrapPath(err).Error()}
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		f.Close()
		return &FileError{File: path, Msg: "can't read: " + unwrapPath(err).Error()}
	case fi.IsDir():
		f.Close()
		return &FileError{File: path, Msg: "is a folder, not a CSV file"}
	case !fi.Mode().IsRegular():
		defer f.Close() // a pipe or device: read once, spooled if asked
		return r.Read(path, f)
	}
	src := &source{name: cleanName(path), ra: f, size: fi.Size(), file: f, mod: fi.ModTime()}
	return r.first(src, io.NewSectionReader(f, 0, src.size))
}

// Read adds one input stream named name. An in-memory reader (with ReadAt
// and Size) is read again by Rows; any other is read once, or spooled
// (Options.Spool).
func (r *Reader) Read(name string, in io.Reader) error {
	src := &source{name: cleanName(name)}
	if ra, ok := in.(interface {
		io.ReaderAt
		Size() int64
	}); ok {
		src.ra, src.size = ra, ra.Size()
		return r.first(src, io.NewSectionReader(ra, 0, src.size))
	}
	if r.opts.Spool {
		f, err := os.CreateTemp(r.opts.TempDir, "bulksync-input-*.csv")
		if err != nil {
			return &FileError{File: src.name, Msg: fmt.Sprintf("can't keep a copy to read it a second time: %v; set TMPDIR to a writable folder", unwrapPath(err))}
		}
		if os.Remove(f.Name()) == nil { // gone with the last descriptor, even after kill -9
			src.spoolName = ""
		} else {
			src.spoolName = f.Name()
		}
		src.spool = f
		in = &tee{in: in, out: f, n: &src.size}
	}
	if err := r.first(src, in); err != nil {
		return err
	}
	if src.spool != nil {
		src.ra = src.spool
	}
	return nil
}

// first is the first pass over one source: checks, and keys for duplicates.
func (r *Reader) first(src *source, in io.Reader) error {
	r.srcs = append(r.srcs, src)
	src.firstValid = uint32(len(r.hashes))
	src.once = src.ra == nil && src.spool == nil
	return r.pass(src, in, true, func(rec []string, line int, start int64) error {
		d, err := r.decode(src, rec, line)
		if err != nil {
			return err
		}
		if r.nrows == math.MaxUint32 || len(src.arena) > math.MaxUint32-2048 {
			return &FileError{File: src.name, Line: line, Msg: "more rows than bulksync can read in one run"}
		}
		r.nrows++
		src.rows++
		c := Checked{Row: d.row}
		if r.opts.Records {
			c.Raw = &Raw{slices.Clone(rec), src.header, src.delim}
		}
		if d.reason != "" {
			r.counts[Invalid]++
			c.Status, c.Reason = Invalid, d.reason
		} else {
			r.counts[Valid]++
			r.keep(src, d, line, start)
			src.valid++
		}
		if r.opts.OnRow != nil {
			r.opts.OnRow(c)
		}
		return nil
	})
}

// keep remembers a valid row for the duplicate check: the hash of its key,
// and where to read it again; or, from an input read once, what the check
// needs of it.
func (r *Reader) keep(src *source, d decoded, line int, start int64) {
	ext := d.row.ExternalUserID
	switch {
	case src.once:
		src.kept = append(src.kept, kept{intent: r.intent(d.row), line: uint32(min(line, math.MaxUint32)), id: uint32(len(src.arena))})
		src.arena = binary.AppendUvarint(src.arena, uint64(d.prov))
		src.arena = binary.AppendUvarint(src.arena, uint64(len(ext)))
		src.arena = append(src.arena, ext...)
	case src.valid%r.every == 0:
		src.marks = append(src.marks, mark{off: start, line: uint32(min(line, math.MaxUint32))})
	}
	r.hashes = append(r.hashes, r.keyHash(d.prov, ext))
}

// keyHash is the hash of a key: provider (by its index) and externalUserId.
func (r *Reader) keyHash(prov int32, ext string) uint64 {
	return (maphash.String(r.seeds[0], ext) ^ r.provs[prov].hash) & r.keyMask
}

// intent is the hash of what a row asks for: two rows of one key are
// duplicates when they ask the same.
func (r *Reader) intent(row Row) uint64 {
	intent := maphash.String(r.seeds[1], row.AmazonID) ^ bits.RotateLeft64(r.typeOf(row.AmazonIDType), 17)
	if row.UnitID != "" || row.Name != "" {
		// A unit (and the name of its profile) is part of what a row asks.
		intent ^= bits.RotateLeft64(maphash.String(r.seeds[1], row.UnitID+"\x00"+row.Name), 31)
	}
	if row.Action == ActionDelete {
		intent = ^intent
	}
	return intent
}

func (r *Reader) typeOf(t string) uint64 {
	switch t {
	case "":
		return r.types[0]
	case DefaultAmazonIDType:
		return r.types[1]
	}
	return r.typeHash(t)
}

func (r *Reader) typeHash(t string) uint64 { return maphash.String(r.seeds[2], t) }

// decoded is one record as a row, with its provider's index and why it
// can't be sent ("" when it can).
type decoded struct {
	row    Row
	prov   int32
	reason string
}

// decode reads a record through the file's column index: only the columns
// bulksync uses must be UTF-8; values are trimmed of plain spaces and tabs,
// and defaulted.
func (r *Reader) decode(src *source, rec []string, line int) (decoded, error) {
	var f [numRoomColumns]string
	var plain [numRoomColumns]bool // printable ASCII: UTF-8, and no id check needed beyond its length
	bad := -1                      // the leftmost column read that is not UTF-8
	for col, i := range src.at {
		if i < 0 || i >= len(rec) {
			continue
		}
		v := trimBlank(rec[i])
		f[col], plain[col] = v, plainASCII(v)
		if !plain[col] && !utf8.ValidString(rec[i]) && (bad < 0 || i < src.at[bad]) {
			bad = col
		}
	}
	if bad >= 0 {
		return decoded{}, src.notUTF8(r.cols.schema, rec, line)
	}
	d := decoded{row: Row{File: src.name, Line: line, ExternalUserID: f[colExternalUserID], AmazonID: f[colAmazonID],
		UnitID: f[colUnitID], Name: f[colName]}}
	switch act := strings.ToLower(f[colAction]); act { // no copy when already lower case
	case "", ActionUpsert:
		d.row.Action = ActionUpsert
	case ActionDelete:
		d.row.Action = ActionDelete
	default:
		d.row.Action = act
	}
	switch typ := f[colAmazonIDType]; {
	case typ == DefaultAmazonIDType || typ == "" && d.row.Action == ActionUpsert:
		d.row.AmazonIDType = DefaultAmazonIDType
	default:
		d.row.AmazonIDType = typ
	}
	d.prov = r.provider(f[colServiceProviderID])
	p := &r.provs[d.prov]
	d.row.ServiceProviderID = p.id
	d.reason = checkRow(d.row.Action, d.row.ExternalUserID, d.row.AmazonID, d.row.AmazonIDType, p.reason,
		d.row.UnitID != "", plain[colExternalUserID], plain[colAmazonID])
	if d.reason == "" && (d.row.UnitID != "" || d.row.Name != "") {
		d.reason = checkUnit(d.row.UnitID, d.row.Name)
	}
	return d, nil
}

// provider interns a provider id (the default when empty), checking each
// distinct one once.
func (r *Reader) provider(id string) int32 {
	if id == "" {
		id = r.opts.DefaultProvider
	}
	if len(r.provs) > 0 && id == r.last {
		return r.lastIx
	}
	// An export alternates between a few providers: look among the first
	// few before the map.
	for i := range min(len(r.provs), 4) {
		if r.provs[i].id == id {
			r.last, r.lastIx = r.provs[i].id, int32(i)
			return int32(i)
		}
	}
	i, ok := r.provIx[id]
	if !ok {
		id = strings.Clone(id) // not the record's memory
		i = int32(len(r.provs))
		r.provs = append(r.provs, provider{id: id, reason: CheckProvider(id), hash: maphash.String(r.seeds[3], id)})
		r.provIx[id] = i
	}
	r.last, r.lastIx = r.provs[i].id, i
	return i
}

// Counts returns how many rows are valid, duplicate and invalid, once
// every file is read. When Problems or Rows yields an error, duplicates are
// not settled: the counts are of each row's own checks.
func (r *Reader) Counts() (valid, duplicate, invalid int) {
	r.resolve()
	return r.counts[Valid], r.counts[Duplicate], r.counts[Invalid]
}

// Blank returns how many rows were skipped because every field was empty.
func (r *Reader) Blank() int {
	n := 0
	for _, s := range r.srcs {
		n += s.blank
	}
	return n
}

// Problems returns the rows that the duplicate check made duplicate or
// invalid, in input order, once every file is read. Their Row has File,
// Line and ExternalUserID only. Settling reads the rows of repeated keys
// again: a file that changed meanwhile (or can't be read) yields a
// *FileError, and nothing else.
func (r *Reader) Problems() iter.Seq2[Checked, error] {
	r.resolve()
	return func(yield func(Checked, error) bool) {
		if r.err != nil {
			yield(Checked{}, r.err)
			return
		}
		for _, e := range r.exc {
			c := Checked{Row: Row{File: r.srcs[e.at.file].name, Line: int(e.at.line), ExternalUserID: e.id}, Status: e.status, Reason: r.reason(e)}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// errStop ends a pass early: the consumer of Rows stopped.
var errStop = errors.New("stop")

// Rows reads the input again, once every file is read, and yields every
// row in input order with its verdict: rows of a key given with conflicting
// values are all Invalid, repeats of a key's first row Duplicate. A file
// that changed since the first pass, or an input that can't be read twice,
// yields a *FileError and ends.
func (r *Reader) Rows() iter.Seq2[Checked, error] {
	r.resolve()
	return func(yield func(Checked, error) bool) {
		if r.err != nil {
			yield(Checked{}, r.err)
			return
		}
		vi, next := uint32(0), 0 // valid rows so far; the next exception
		for _, src := range r.srcs {
			if err := src.unchanged(); err != nil {
				yield(Checked{}, err)
				return
			}
			var rows uint32
			err := r.pass(src, io.NewSectionReader(src.ra, 0, src.size), false, func(rec []string, line int, _ int64) error {
				d, err := r.decode(src, rec, line)
				if err != nil {
					return err
				}
				c := Checked{Row: d.row}
				if r.opts.Records {
					c.Raw = &Raw{slices.Clone(rec), src.header, src.delim}
				}
				switch {
				case d.reason != "":
					c.Status, c.Reason = Invalid, d.reason
				case next < len(r.exc) && r.exc[next].vi == vi:
					c.Status, c.Reason = r.exc[next].status, r.reason(r.exc[next])
					next++
					vi++
				default:
					vi++
				}
				rows++
				if !yield(c, nil) {
					return errStop
				}
				return nil
			})
			switch {
			case err == errStop:
				return
			case err == nil && rows != src.rows:
				err = src.changed()
			case err == nil:
				err = src.unchanged()
			}
			if err != nil {
				yield(Checked{}, err)
				return
			}
		}
	}
}

// Close releases the files kept for Rows.
func (r *Reader) Close() error {
	var errs []error
	for _, s := range r.srcs {
		if s.file != nil {
			errs = append(errs, s.file.Close())
		}
		if s.spool != nil {
			errs = append(errs, s.spool.Close())
			if s.spoolName != "" {
				errs = append(errs, os.Remove(s.spoolName))
			}
		}
	}
	return errors.Join(errs...)
}

// source is one input file and what its first pass learned of it.
type source struct {
	name      string
	ra        io.ReaderAt // where Rows reads it again; nil when it can't
	size      int64
	file      *os.File // a regular file, kept open: a replaced file is still read whole
	mod       time.Time
	spool     *os.File // the copy of a stream
	spoolName string   // when it could not be unlinked at once

	rows              uint32 // rows read, blank ones aside
	firstValid, valid uint32 // index of its first valid row among all the input's; its valid rows
	blank             int
	marks             []mark // where to read the file again from: one every markEvery valid rows
	once              bool   // it can't be read again: kept and arena keep what settling needs
	kept              []kept // by valid row
	arena             []byte // the externalUserIds of kept, each after its provider index, length-prefixed
	bom, bareCR       bool
	delim             rune
	header            []string
	at                []int // by column: index in a record, or -1
}

// notUTF8 refuses a record whose columns read are not all UTF-8, naming
// the leftmost such column and its first bad byte; nil when they are.
func (s *source) notUTF8(schema Schema, rec []string, line int) error {
	bad := -1
	for col, i := range s.at {
		if i >= 0 && i < len(rec) && !utf8.ValidString(rec[i]) && (bad < 0 || i < s.at[bad]) {
			bad = col
		}
	}
	if bad < 0 {
		return nil
	}
	b, at, _ := badByte(rec[s.at[bad]])
	return &FileError{File: s.name, Line: line, Msg: fmt.Sprintf(
		"not UTF-8 text in column %s: byte 0x%02X at character %d; export the file as UTF-8", s.column(schema, bad), b, at)}
}

func (s *source) column(schema Schema, col int) string {
	h := printable(s.header[s.at[col]])
	if normalizeHeader(h) == normalizeHeader(schema[col].Name) {
		return strconv.Quote(h)
	}
	return fmt.Sprintf("%q (%s)", h, schema[col].Name)
}

// unchanged checks, before and after a later pass, that a regular file is
// as the first pass found it.
func (s *source) unchanged() error {
	if s.ra == nil {
		return &FileError{File: s.name, Msg: "this input can be read only once"}
	}
	if s.file == nil {
		return nil
	}
	fi, err := s.file.Stat()
	if err != nil || fi.Size() != s.size || !fi.ModTime().Equal(s.mod) {
		return s.changed()
	}
	return nil
}

func (s *source) changed() error {
	return &FileError{File: s.name, Msg: "the file changed while bulksync was reading it; run again once it is written whole"}
}

// tee copies a stream into its spool as it is read.
type tee struct {
	in  io.Reader
	out io.Writer
	n   *int64
}

func (t *tee) Read(p []byte) (int, error) {
	n, err := t.in.Read(p)
	if n > 0 {
		if _, werr := t.out.Write(p[:n]); werr != nil {
			return n, fmt.Errorf("can't keep a copy to read it a second time: %w; set TMPDIR to a writable folder", werr)
		}
		*t.n += int64(n)
	}
	return n, err
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
