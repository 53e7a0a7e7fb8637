package csvmodel

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

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

// MaxRecordBytes bounds one record of an input file: its lines, quoted
// line breaks included, and the empty lines before it. An export's record
// is a few hundred bytes (ids are at most 255 characters); reaching the
// bound takes eight spreadsheet cells filled to their limit (32,767
// characters, up to 128 KiB of UTF-8 each) in one row. A quote never
// closed makes the rest of the file one record, and encoding/csv holds a
// record whole, about three times over, before it returns: the bound keeps
// that to a few MiB.
const MaxRecordBytes = 1 << 20

// ErrRecordTooLong is why a file is refused when a record passes
// MaxRecordBytes.
var ErrRecordTooLong = errors.New("record too long")

// pass reads one source from its start: the header (resolved on the first
// pass), then fn for every record that is not blank, with its physical
// line and the offset in the file where it begins (the previous record's
// end).
func (r *Reader) pass(src *source, in io.Reader, first bool, fn func(rec []string, line int, start int64) error) error {
	br := bufio.NewReaderSize(in, 64<<10)
	head, _ := br.Peek(4096)
	if first {
		if msg := checkText(head); msg != "" {
			return &FileError{File: src.name, Msg: msg}
		}
		src.bom = bytes.HasPrefix(head, []byte("\xef\xbb\xbf"))
	}
	var base int64 // where encoding/csv's input starts in the file
	if src.bom {
		_, _ = br.Discard(3)
		head, base = head[3:], 3
	}
	if first {
		// Old Mac exports end lines with a bare CR, which encoding/csv
		// reads as one endless line.
		src.bareCR = bytes.IndexByte(head, '\r') >= 0 && bytes.IndexByte(head, '\n') < 0
		src.delim = rune(r.opts.Delimiter)
		if src.delim == 0 {
			src.delim = sniffDelimiter(head)
		}
		if !r.table {
			r.expect(src.size, head)
		}
	}
	rs := src.records(br, base, 0, nil)
	h, _, _, err := rs.next()
	if err == io.EOF {
		return &FileError{File: src.name, Msg: "file is empty: a header row is required"}
	}
	if err != nil {
		return err
	}
	if first {
		src.header = slices.Clone(h)
		if isReport(src.header, r.opts.Reports) {
			return &FileError{File: src.name, Line: 1, Msg: "this is a bulksync report, not an export: its header is the report's; keep reports out of the input files"}
		}
		at, msg, cause := r.cols.resolve(src.header)
		if msg != "" {
			return &FileError{File: src.name, Line: 1, Msg: msg, Err: cause}
		}
		src.at = at
	}
	for {
		rec, line, start, err := rs.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if blankRecord(rec) {
			if first {
				src.blank++
			}
			continue
		}
		if err := fn(rec, line, start); err != nil {
			return err
		}
	}
}

// records reads a source's records with encoding/csv, each bounded by
// MaxRecordBytes.
type records struct {
	cr    *csv.Reader
	bound *recordBound
	file  string
	base  int64 // the offset in the file of encoding/csv's input
	lines int   // added to encoding/csv's line numbers
	last  int   // the line of the last record read
}

// records starts reading src's records from in, which begins at offset
// base of the file, on line lines+1, through buf (reset; nil: a new one).
func (s *source) records(in io.Reader, base int64, lines int, buf *bufio.Reader) *records {
	if s.bareCR {
		in = crToLF{in}
	}
	b := &recordBound{r: in, max: MaxRecordBytes}
	if buf == nil {
		// As large as the first pass's buffer below, whose Read then fills
		// it directly.
		buf = bufio.NewReaderSize(b, 64<<10)
	} else {
		buf.Reset(b)
	}
	cr := csv.NewReader(buf) // buf itself
	cr.Comma = s.delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return &records{cr: cr, bound: b, file: s.name, base: base, lines: lines}
}

// next returns the next record, the line it starts on and the offset in
// the file where the previous one ended; io.EOF after the last. Any other
// error is a *FileError.
func (rs *records) next() (rec []string, line int, start int64, err error) {
	start = rs.base + rs.bound.end
	rec, err = rs.cr.Read()
	if rs.bound.over {
		// encoding/csv was told the input ended within the record, which it
		// then returns cut short, or refuses as an open quote.
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			line = pe.StartLine
		case err == nil:
			line, _ = rs.cr.FieldPos(0)
		default: // nothing but empty lines
			return nil, 0, 0, &FileError{File: rs.file, Line: rs.last, Err: ErrRecordTooLong,
				Msg: fmt.Sprintf("more than %s of empty lines follow the record that starts here", sizeText(MaxRecordBytes))}
		}
		return nil, 0, 0, &FileError{File: rs.file, Line: line + rs.lines, Err: ErrRecordTooLong,
			Msg: fmt.Sprintf("a record longer than %s starts here: is a quote never closed?", sizeText(MaxRecordBytes))}
	}
	if err == io.EOF {
		return nil, 0, 0, err
	}
	if err != nil {
		return nil, 0, 0, csvError(rs.file, rs.lines, err)
	}
	line, _ = rs.cr.FieldPos(0)
	line += rs.lines
	rs.last = line
	rs.bound.end = rs.cr.InputOffset()
	return rec, line, start, nil
}

// recordBound feeds encoding/csv and tells it the input has ended once a
// record has taken more than max bytes since the previous record's end:
// encoding/csv reads a record whole before it returns, so a bound must act
// on the bytes it is given.
type recordBound struct {
	r    io.Reader
	max  int64
	fed  int64 // bytes given to encoding/csv
	end  int64 // where the last record ended: encoding/csv's InputOffset
	over bool  // the input was cut short
}

func (b *recordBound) Read(p []byte) (int, error) {
	room := b.end + b.max - b.fed
	if room <= 0 {
		if b.over {
			return 0, io.EOF
		}
		// At the bound: cut the input only if there is more of it, so a
		// last record of exactly max bytes is read.
		var one [1]byte
		for {
			n, err := b.r.Read(one[:])
			if n > 0 {
				b.over = true
				return 0, io.EOF
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.fed += int64(n)
	return n, err
}

// sizeText is a size in bytes for a person: "1 MiB", "64 KiB".
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// blankRecord reports whether every field is empty or spaces: what a
// spreadsheet leaves after a deleted block (",,", ";;").
func blankRecord(rec []string) bool {
	for _, f := range rec {
		if f != "" && strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// crToLF reads bare CR line ends as LF.
type crToLF struct{ r io.Reader }

func (c crToLF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := range p[:n] {
		if p[i] == '\r' {
			p[i] = '\n'
		}
	}
	return n, err
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
	var counts [3]int // , ; TAB
	quoted := false
	for _, c := range head {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ',':
			counts[0]++
		case c == ';':
			counts[1]++
		case c == '\t':
			counts[2]++
		}
	}
	best, delims := 0, [3]rune{',', ';', '\t'}
	for i := 1; i < 3; i++ {
		if counts[i] > counts[best] {
			best = i
		}
	}
	return delims[best]
}

// csvError is encoding/csv's error as a *FileError; lines is added to its
// line numbers.
func csvError(file string, lines int, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		switch {
		case errors.Is(pe.Err, csv.ErrQuote):
			msg = "a quoted field is never closed (unbalanced \")"
		case errors.Is(pe.Err, csv.ErrBareQuote):
			msg = "a \" appears inside an unquoted field; quote the field and double the \""
		}
		return &FileError{File: file, Line: pe.StartLine + lines, Msg: msg}
	}
	return &FileError{File: file, Msg: err.Error()}
}

// expect makes room for the key hashes of a file of size bytes, judging its
// rows by the lines of its head: growing a large slice by appends would
// copy it over and over and hold the old copy and the new at once.
func (r *Reader) expect(size int64, head []byte) {
	lines := bytes.Count(head, []byte{'\n'})
	if lines == 0 {
		lines = bytes.Count(head, []byte{'\r'})
	}
	if size <= int64(len(head)) || lines < 2 || len(head) < 1024 {
		return
	}
	rows := int(size / int64(len(head)/lines))
	r.hashes = slices.Grow(r.hashes, rows+rows/16)
}
