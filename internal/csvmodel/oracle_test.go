package csvmodel

// The reader before issue 18, kept as a test oracle: gocsv decoding every
// row by reflection, a map of 128-bit key hashes for duplicates. The new
// reader must give the same verdicts, rows and refusals on every input the
// tests and the fuzzer try.
//
// It follows the rules that changed on purpose since (issue 14), each
// marked "rule:" below: blank rows are skipped, only the columns read must
// be UTF-8 (the refusal names the column), bare CR line ends are read, a
// bulksync report is refused, and the row checks are the package's Check;
// and a row may name its room's Alexa unit instead of an amazonId, with the
// name of a profile created for it (issue 16); values are trimmed of plain
// spaces and tabs only (issue 22: the id checks themselves are Check's).

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gocarina/gocsv"
)

type oracleRecord struct {
	ExternalUserID    string `csv:"externalUserId"`
	AmazonID          string `csv:"amazonId"`
	AmazonIDType      string `csv:"amazonIdType"`
	ServiceProviderID string `csv:"serviceProviderId"`
	Action            string `csv:"action"`
	UnitID            string `csv:"unitId"` // rule: issue 16
	Name              string `csv:"name"`
	Line              int    `csv:"_line"`
}

var oracleAliases = map[string]string{
	"externaluserid": "externalUserId", "extension": "externalUserId", "roomextension": "externalUserId", "room": "externalUserId",
	"amazonid": "amazonId", "communicationprofileid": "amazonId", "profileid": "amazonId",
	"amazonidtype":      "amazonIdType",
	"serviceproviderid": "serviceProviderId", "provider": "serviceProviderId",
	"action": "action",
	"unitid": "unitId", "unit": "unitId", "alexaunitid": "unitId", // rule: issue 16
	"name": "name",
}

type oracle struct {
	opts   Options
	seeds  [3]maphash.Seed
	seen   map[[2]uint64]oracleSeen
	later  map[[2]uint64][]oracleSeen
	files  []string
	rows   []Checked
	counts [3]int
}

type oracleSeen struct {
	index  int32
	file   int32
	line   int32
	status Status
	intent uint64
}

func newOracle(o Options) *oracle {
	r := &oracle{opts: o, seen: map[[2]uint64]oracleSeen{}, later: map[[2]uint64][]oracleSeen{}}
	for i := range r.seeds {
		r.seeds[i] = maphash.MakeSeed()
	}
	return r
}

func (r *oracle) Read(name string, in io.Reader) error {
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
	var rd io.Reader = br
	if bytes.IndexByte(head, '\r') >= 0 && bytes.IndexByte(head, '\n') < 0 {
		rd = crToLF{br} // rule: bare CR line ends
	}
	delim := rune(r.opts.Delimiter)
	if delim == 0 {
		delim = sniffDelimiter(head)
	}
	cr := csv.NewReader(rd)
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	dec := &oracleDecoder{cr: cr, file: name, reports: r.opts.Reports}
	if err := dec.readHeader(); err != nil {
		return err
	}
	ch := make(chan oracleRecord, 256)
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

func (r *oracle) Counts() (valid, duplicate, invalid int) {
	return r.counts[Valid], r.counts[Duplicate], r.counts[Invalid]
}

func (r *oracle) hash(i int, parts ...string) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seeds[i])
	for _, p := range parts {
		h.WriteString(p)
		h.WriteByte(0)
	}
	return h.Sum64()
}

func (r *oracle) keep(c Checked) int32 {
	r.counts[c.Status]++
	r.rows = append(r.rows, c)
	return int32(len(r.rows) - 1)
}

func (r *oracle) where(s oracleSeen) string { return r.files[s.file] + ":" + strconv.Itoa(int(s.line)) }

func (r *oracle) invalidate(s oracleSeen, reason string) {
	r.counts[s.status]--
	r.counts[Invalid]++
	r.rows[s.index].Status, r.rows[s.index].Reason = Invalid, reason
}

func (r *oracle) add(file string, rec oracleRecord) {
	trim := func(v string) string { return strings.Trim(v, " \t") } // rule: issue 22, only plain spaces and tabs
	row := Row{
		File:              file,
		Line:              rec.Line,
		ServiceProviderID: trim(rec.ServiceProviderID),
		ExternalUserID:    trim(rec.ExternalUserID),
		AmazonID:          trim(rec.AmazonID),
		AmazonIDType:      trim(rec.AmazonIDType),
		Action:            strings.ToLower(trim(rec.Action)),
		UnitID:            trim(rec.UnitID),
		Name:              trim(rec.Name),
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
	here := oracleSeen{file: int32(len(r.files) - 1), line: int32(row.Line), intent: r.hash(2, row.Action, row.AmazonID, row.AmazonIDType, row.UnitID, row.Name)}
	first, dup := r.seen[k]
	switch {
	case !dup:
		here.index = r.keep(c)
		r.seen[k] = here
		return
	case first.intent == here.intent && first.status != Invalid:
		c.Status, c.Reason = Duplicate, "same as "+r.where(first)
	default:
		c.Status = Invalid
		c.Reason = fmt.Sprintf("externalUserId %s is given conflicting values at %s and %s", row.ExternalUserID, r.where(first), row.Where())
		if first.status != Invalid {
			r.invalidate(first, c.Reason)
			first.status = Invalid
			r.seen[k] = first
			for i, s := range r.later[k] {
				if s.status != Invalid {
					r.invalidate(s, c.Reason)
					r.later[k][i].status = Invalid
				}
			}
		}
	}
	here.status = c.Status
	here.index = r.keep(c)
	r.later[k] = append(r.later[k], here)
}

type oracleDecoder struct {
	cr      *csv.Reader
	file    string
	reports [][]string
	raw     []string // the file's header
	header  []string
	line    int
}

func (d *oracleDecoder) readHeader() error {
	h, err := d.cr.Read()
	if err == io.EOF {
		return &FileError{File: d.file, Msg: "file is empty: a header row is required"}
	}
	if err != nil {
		return d.csvError(err)
	}
	if isReport(h, d.reports) { // rule: a report is not input
		return &FileError{File: d.file, Line: 1, Msg: "this is a bulksync report, not an export: its header is the report's; keep reports out of the input files"}
	}
	d.raw = h
	d.header = make([]string, len(h)+1)
	seen := map[string]string{}
	for i, name := range h {
		canon := oracleAliases[normalizeHeader(name)]
		if canon == "" {
			d.header[i] = "_ignored"
			continue
		}
		if prev, ok := seen[canon]; ok {
			return &FileError{File: d.file, Line: 1, Msg: fmt.Sprintf("columns %q and %q both mean %s", printable(prev), printable(name), canon)}
		}
		seen[canon] = name
		d.header[i] = canon
	}
	d.header[len(h)] = "_line"
	if _, ok := seen["externalUserId"]; !ok {
		return &FileError{File: d.file, Line: 1, Msg: fmt.Sprintf("required column externalUserId (or extension, roomExtension, room) is missing; the header has %s", printableList(h))}
	}
	if _, ok := seen["amazonId"]; !ok {
		_, hasUnit := seen["unitId"] // rule: issue 16
		if _, hasAction := seen["action"]; !hasAction && !hasUnit {
			return &FileError{File: d.file, Line: 1, Msg: fmt.Sprintf("required column amazonId (or communicationProfileId, profileId) is missing (it may be left out when the file has a column action or unitId); the header has %s", printableList(h))}
		}
	}
	return nil
}

func (d *oracleDecoder) GetCSVRow() ([]string, error) {
	if d.line == 0 {
		d.line = 1
		return d.header, nil
	}
	for {
		rec, err := d.cr.Read()
		if err != nil {
			if err == io.EOF {
				return nil, err
			}
			return nil, d.csvError(err)
		}
		d.line, _ = d.cr.FieldPos(0)
		if blankRecord(rec) {
			continue // rule: blank rows are skipped
		}
		out := make([]string, len(d.header))
		n := copy(out[:len(d.header)-1], rec)
		for i, v := range out[:n] {
			if d.header[i] == "_ignored" {
				continue // rule: only the columns read must be UTF-8
			}
			if b, at, bad := badByte(v); bad {
				col := strconv.Quote(printable(d.raw[i]))
				if normalizeHeader(d.raw[i]) != strings.ToLower(d.header[i]) {
					col = fmt.Sprintf("%s (%s)", col, d.header[i])
				}
				return nil, &FileError{File: d.file, Line: d.line, Msg: fmt.Sprintf("not UTF-8 text in column %s: byte 0x%02X at character %d; export the file as UTF-8", col, b, at)}
			}
		}
		out[len(out)-1] = strconv.Itoa(d.line)
		return out, nil
	}
}

func (d *oracleDecoder) GetCSVRows() ([][]string, error) {
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

func (d *oracleDecoder) csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return csvError(d.file, 0, err)
	}
	return &FileError{File: d.file, Line: d.line, Msg: err.Error()}
}
