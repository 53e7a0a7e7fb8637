// Package csvmodel reads the property management system's export: header
// aliases, delimiter and BOM handling, row checks and duplicates across all
// files. It yields valid rows, and invalid rows with their file and line.
package csvmodel

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gocarina/gocsv"
)

// Actions a row may ask for.
const (
	ActionUpsert = "upsert"
	ActionDelete = "delete"
)

// DefaultAmazonIDType is used when a row leaves amazonIdType empty.
const DefaultAmazonIDType = "communication-profile"

// ProviderPrefix starts every service provider ACI.
const ProviderPrefix = "amzn1.comms.csp.id."

// Row is one data line of an input file, trimmed and defaulted.
type Row struct {
	File              string
	Line              int // physical line in the file, 1-based
	ServiceProviderID string
	ExternalUserID    string
	AmazonID          string
	AmazonIDType      string
	Action            string
}

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
}

// record is what gocsv decodes; the header is rewritten to these names
// first, and _line is a column we add carrying the physical line number.
type record struct {
	ExternalUserID    string `csv:"externalUserId"`
	AmazonID          string `csv:"amazonId"`
	AmazonIDType      string `csv:"amazonIdType"`
	ServiceProviderID string `csv:"serviceProviderId"`
	Action            string `csv:"action"`
	Line              int    `csv:"_line"`
}

// aliases map normalized header names to canonical columns.
var aliases = map[string]string{
	"externaluserid": "externalUserId", "extension": "externalUserId", "roomextension": "externalUserId", "room": "externalUserId",
	"amazonid": "amazonId", "communicationprofileid": "amazonId", "profileid": "amazonId",
	"amazonidtype":      "amazonIdType",
	"serviceproviderid": "serviceProviderId", "provider": "serviceProviderId",
	"action": "action",
}

func normalizeHeader(h string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(h) {
		switch r {
		case ' ', '_', '-', '\t':
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// FileError rejects a whole file; Line is 0 when no line is to blame.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Options control reading.
type Options struct {
	Delimiter       Delimiter // 0: sniffed from the header line
	DefaultProvider string    // for rows without a serviceProviderId
	// OnRow, when set, receives each row as it is read and the reader
	// keeps none (validate of files too big to hold). A row found invalid
	// later, by a conflicting duplicate, is delivered again as Invalid.
	OnRow func(Checked)
}

// Reader reads several files as one input and remembers what it has seen,
// so that duplicates are found across files. Per key it keeps a 128-bit
// hash and 32 bytes, not the row, so a million rows fit in little memory.
type Reader struct {
	opts   Options
	seeds  [3]maphash.Seed
	seen   map[[2]uint64]seen
	later  map[[2]uint64][]seen // later rows of a repeated key (rare)
	files  []string
	rows   []Checked
	counts [3]int // by Status
}

// seen is where a key's row stands and what it asked for.
type seen struct {
	index  int32 // into rows, when they are kept
	file   int32 // into files
	line   int32
	status Status
	intent uint64 // hash of action, amazonId and amazonIdType
}

// NewReader starts an input.
func NewReader(o Options) *Reader {
	r := &Reader{opts: o, seen: map[[2]uint64]seen{}, later: map[[2]uint64][]seen{}}
	for i := range r.seeds {
		r.seeds[i] = maphash.MakeSeed()
	}
	return r
}

// ReadFile adds one file. A *FileError rejects the file whole.
func (r *Reader) ReadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &FileError{File: path, Msg: "can't open: " + errors.Unwrap(err).Error()}
	}
	defer f.Close()
	return r.Read(path, f)
}

// Read adds one input stream named name.
func (r *Reader) Read(name string, in io.Reader) error {
	name = filepath.Clean(name)
	r.files = append(r.files, name)
	br := bufio.NewReaderSize(in, 64<<10)
	head, _ := br.Peek(4096)
	if err := checkText(head); err != "" {
		return &FileError{File: name, Msg: err}
	}
	if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
		head = head[3:]
	}
	delim := rune(r.opts.Delimiter)
	if delim == 0 {
		delim = sniffDelimiter(head)
	}
	cr := csv.NewReader(br)
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	dec := &decoder{cr: cr, file: name}
	if err := dec.readHeader(); err != nil {
		return err
	}
	ch := make(chan record, 256)
	errc := make(chan error, 1)
	go func() { errc <- gocsv.UnmarshalDecoderToChan(dec, ch) }()
	for rec := range ch {
		r.add(name, rec)
	}
	if err := <-errc; err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			return fe
		}
		return &FileError{File: name, Line: dec.line, Msg: err.Error()}
	}
	return nil
}

// Rows returns every row read so far, in input order, with its verdict
// (none with Options.OnRow). Rows of a key given with conflicting amazonIds
// are all Invalid.
func (r *Reader) Rows() []Checked { return r.rows }

// Counts returns how many rows are valid, duplicate and invalid.
func (r *Reader) Counts() (valid, duplicate, invalid int) {
	return r.counts[Valid], r.counts[Duplicate], r.counts[Invalid]
}

func (r *Reader) hash(i int, parts ...string) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seeds[i])
	for _, p := range parts {
		h.WriteString(p)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// keep records a row's verdict: kept, or handed to OnRow.
func (r *Reader) keep(c Checked) int32 {
	r.counts[c.Status]++
	if r.opts.OnRow != nil {
		r.opts.OnRow(c)
		return -1
	}
	r.rows = append(r.rows, c)
	return int32(len(r.rows) - 1)
}

func (r *Reader) where(s seen) string { return r.files[s.file] + ":" + strconv.Itoa(int(s.line)) }

// invalidate turns an earlier row of key into Invalid.
func (r *Reader) invalidate(s seen, key Key, reason string) {
	r.counts[s.status]--
	r.counts[Invalid]++
	if r.opts.OnRow != nil {
		r.opts.OnRow(Checked{Row: Row{File: r.files[s.file], Line: int(s.line), ServiceProviderID: key.Provider,
			ExternalUserID: key.ExternalUserID}, Status: Invalid, Reason: reason})
		return
	}
	r.rows[s.index].Status, r.rows[s.index].Reason = Invalid, reason
}

func (r *Reader) add(file string, rec record) {
	row := Row{
		File:              file,
		Line:              rec.Line,
		ServiceProviderID: strings.TrimSpace(rec.ServiceProviderID),
		ExternalUserID:    strings.TrimSpace(rec.ExternalUserID),
		AmazonID:          strings.TrimSpace(rec.AmazonID),
		AmazonIDType:      strings.TrimSpace(rec.AmazonIDType),
		Action:            strings.ToLower(strings.TrimSpace(rec.Action)),
	}
	if row.ServiceProviderID == "" {
		row.ServiceProviderID = r.opts.DefaultProvider
	}
	if row.Action == "" {
		row.Action = ActionUpsert
	}
	if row.AmazonIDType == "" && row.Action == ActionUpsert {
		row.AmazonIDType = DefaultAmazonIDType
	}
	c := Checked{Row: row}
	if reason := Check(row); reason != "" {
		c.Status, c.Reason = Invalid, reason
		r.keep(c)
		return
	}
	k := [2]uint64{r.hash(0, row.ServiceProviderID, row.ExternalUserID), r.hash(1, row.ServiceProviderID, row.ExternalUserID)}
	here := seen{file: int32(len(r.files) - 1), line: int32(row.Line), intent: r.hash(2, row.Action, row.AmazonID, row.AmazonIDType)}
	first, dup := r.seen[k]
	switch {
	case !dup:
		here.index = r.keep(c)
		r.seen[k] = here
		return
	case first.intent == here.intent && first.status != Invalid:
		c.Status, c.Reason = Duplicate, "same as "+r.where(first)
	default:
		// Conflicting rows for one association: none can be trusted, so the
		// earlier ones (and their duplicates) are not applied either.
		c.Status = Invalid
		c.Reason = fmt.Sprintf("externalUserId %s is given conflicting values at %s and %s", row.ExternalUserID, r.where(first), row.Where())
		if first.status != Invalid {
			r.invalidate(first, row.Key(), c.Reason)
			first.status = Invalid
			r.seen[k] = first
			for i, s := range r.later[k] {
				if s.status != Invalid {
					r.invalidate(s, row.Key(), c.Reason)
					r.later[k][i].status = Invalid
				}
			}
		}
	}
	here.status = c.Status
	here.index = r.keep(c)
	r.later[k] = append(r.later[k], here)
}

// Check returns why a row can't be sent, or "".
func Check(r Row) string {
	switch r.Action {
	case ActionUpsert, ActionDelete:
	default:
		return fmt.Sprintf("action %q is not upsert or delete", r.Action)
	}
	if msg := checkID("externalUserId", r.ExternalUserID); msg != "" {
		return msg
	}
	if r.Action == ActionUpsert {
		if r.AmazonID == "" {
			return "amazonId is required for action upsert"
		}
		if msg := checkID("amazonId", r.AmazonID); msg != "" {
			return msg
		}
		if !strings.HasPrefix(r.AmazonID, "amzn1.") {
			return fmt.Sprintf("amazonId %q does not start with amzn1.", r.AmazonID)
		}
		if msg := checkID("amazonIdType", r.AmazonIDType); msg != "" {
			return msg
		}
	}
	return CheckProvider(r.ServiceProviderID)
}

// CheckProvider returns why a serviceProviderId can't be used, or "".
func CheckProvider(id string) string {
	if id == "" {
		return "serviceProviderId is empty and no default service provider is set"
	}
	if !strings.HasPrefix(id, ProviderPrefix) || len(id) == len(ProviderPrefix) {
		return fmt.Sprintf("serviceProviderId %q is not an ACI starting %s", id, ProviderPrefix)
	}
	if i := strings.IndexFunc(id, func(r rune) bool { return strings.ContainsRune("/?#%", r) || unicode.IsSpace(r) }); i >= 0 {
		return fmt.Sprintf("serviceProviderId %q contains %q, which can't go into a URL path", id, id[i])
	}
	return checkID("serviceProviderId", id)
}

func checkID(field, v string) string {
	if v == "" {
		return field + " is empty"
	}
	if n := utf8.RuneCountInString(v); n > 255 {
		return fmt.Sprintf("%s is %d characters long; at most 255", field, n)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return field + " contains a control character"
	}
	return ""
}

// Delimiter is a field delimiter: , ; or TAB, or 0 to sniff it from the
// header line.
type Delimiter rune

// UnmarshalText reads a delimiter's name: , ; or TAB (also comma,
// semicolon, tab), or auto.
func (d *Delimiter) UnmarshalText(b []byte) error {
	switch s := strings.ToLower(string(b)); s {
	case "", "auto":
		*d = 0
	case ",", "comma":
		*d = ','
	case ";", "semicolon":
		*d = ';'
	case "\t", "tab", `\t`:
		*d = '\t'
	default:
		return fmt.Errorf("delimiter %q: want , ; tab or auto", s)
	}
	return nil
}

// checkText refuses what is plainly not a UTF-8 text file.
func checkText(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xff, 0xfe}), bytes.HasPrefix(head, []byte{0xfe, 0xff}):
		return "file is UTF-16 text; export it as UTF-8 (CSV UTF-8 in spreadsheet programs)"
	case bytes.IndexByte(head, 0) >= 0:
		return "file is not text (it contains NUL bytes); is it a spreadsheet (.xlsx) rather than CSV?"
	}
	return ""
}

// sniffDelimiter picks , ; or TAB: whichever occurs most in the header line
// outside quotes (comma on a tie or none).
func sniffDelimiter(head []byte) rune {
	if i := bytes.IndexAny(head, "\r\n"); i >= 0 {
		head = head[:i]
	}
	counts := map[rune]int{}
	quoted := false
	for _, c := range string(head) {
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ';' || c == '\t'):
			counts[c]++
		}
	}
	best := ','
	for _, c := range []rune{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return best
}

// decoder feeds gocsv: the canonical header first, then each record padded
// to the header's width with its physical line number appended.
type decoder struct {
	cr     *csv.Reader
	file   string
	header []string
	line   int
}

func (d *decoder) readHeader() error {
	h, err := d.cr.Read()
	if err == io.EOF {
		return &FileError{File: d.file, Msg: "file is empty: a header row is required"}
	}
	if err != nil {
		return d.csvError(err)
	}
	d.header = make([]string, len(h)+1)
	seen := map[string]string{}
	for i, name := range h {
		canon := aliases[normalizeHeader(name)]
		if canon == "" {
			d.header[i] = "_ignored"
			continue
		}
		if prev, ok := seen[canon]; ok {
			return &FileError{File: d.file, Line: 1, Msg: fmt.Sprintf("columns %q and %q both mean %s", prev, name, canon)}
		}
		seen[canon] = name
		d.header[i] = canon
	}
	d.header[len(h)] = "_line"
	if _, ok := seen["externalUserId"]; !ok {
		return &FileError{File: d.file, Line: 1, Msg: fmt.Sprintf("required column externalUserId (or extension, roomExtension, room) is missing; the header has %s", strings.Join(h, ", "))}
	}
	if _, ok := seen["amazonId"]; !ok {
		if _, hasAction := seen["action"]; !hasAction {
			return &FileError{File: d.file, Line: 1, Msg: fmt.Sprintf("required column amazonId (or communicationProfileId, profileId) is missing; the header has %s", strings.Join(h, ", "))}
		}
	}
	return nil
}

// GetCSVRow implements gocsv.SimpleDecoder.
func (d *decoder) GetCSVRow() ([]string, error) {
	if d.line == 0 {
		d.line = 1
		return d.header, nil
	}
	rec, err := d.cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, err
		}
		return nil, d.csvError(err)
	}
	d.line, _ = d.cr.FieldPos(0)
	out := make([]string, len(d.header))
	n := copy(out[:len(d.header)-1], rec)
	for _, v := range out[:n] {
		if !utf8.ValidString(v) {
			return nil, &FileError{File: d.file, Line: d.line, Msg: "not UTF-8 text; export the file as UTF-8"}
		}
	}
	out[len(out)-1] = strconv.Itoa(d.line)
	return out, nil
}

// GetCSVRows implements gocsv.SimpleDecoder; gocsv's streaming path never calls it.
func (d *decoder) GetCSVRows() ([][]string, error) {
	var all [][]string
	for {
		r, err := d.GetCSVRow()
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		all = append(all, r)
	}
}

func (d *decoder) csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		switch {
		case errors.Is(pe.Err, csv.ErrQuote):
			msg = "a quoted field is never closed (unbalanced \")"
		case errors.Is(pe.Err, csv.ErrBareQuote):
			msg = "a \" appears inside an unquoted field; quote the field and double the \""
		}
		return &FileError{File: d.file, Line: pe.StartLine, Msg: msg}
	}
	return &FileError{File: d.file, Line: d.line, Msg: err.Error()}
}
