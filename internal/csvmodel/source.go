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

// pass reads one source from its start: the header (resolved on the first
// pass), then fn for every record that is not blank, with its physical
// line.
func (r *Reader) pass(src *source, in io.Reader, first bool, fn func(rec []string, line int) error) error {
	br := bufio.NewReaderSize(in, 64<<10)
	head, _ := br.Peek(4096)
	if first {
		if msg := checkText(head); msg != "" {
			return &FileError{File: src.name, Msg: msg}
		}
		src.bom = bytes.HasPrefix(head, []byte("\xef\xbb\xbf"))
	}
	if src.bom {
		_, _ = br.Discard(3)
		head = head[3:]
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
	var rd io.Reader = br
	if src.bareCR {
		rd = crToLF{br}
	}
	cr := csv.NewReader(rd)
	cr.Comma = src.delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	h, err := cr.Read()
	if err == io.EOF {
		return &FileError{File: src.name, Msg: "file is empty: a header row is required"}
	}
	if err != nil {
		return csvError(src.name, err)
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
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if errors.Is(err, errStop) {
				return err
			}
			return csvError(src.name, err)
		}
		line, _ := cr.FieldPos(0)
		if blankRecord(rec) {
			if first {
				src.blank++
			}
			continue
		}
		if err := fn(rec, line); err != nil {
			return err
		}
	}
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

func csvError(file string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		switch {
		case errors.Is(pe.Err, csv.ErrQuote):
			msg = "a quoted field is never closed (unbalanced \")"
		case errors.Is(pe.Err, csv.ErrBareQuote):
			msg = "a \" appears inside an unquoted field; quote the field and double the \""
		}
		return &FileError{File: file, Line: pe.StartLine, Msg: msg}
	}
	return &FileError{File: file, Msg: err.Error()}
}

// expect makes room for the keys of a file of size bytes, judging its
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
	r.keys = slices.Grow(r.keys, rows+rows/16)
	r.arena = slices.Grow(r.arena, (rows+rows/16)*12)
}
