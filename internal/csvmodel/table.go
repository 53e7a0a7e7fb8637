package csvmodel

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Column is one field a table is read for: its name, the other headers
// that mean it (matched like every header: ignoring case, spaces, _ and -),
// and whether a file must have it.
type Column struct {
	Name     string
	Aliases  []string
	Required bool
}

// TableRow is one data line of a table: where it is, and the trimmed value
// of each Column in the order given ("" where the file has no such column).
type TableRow struct {
	File   string
	Line   int
	Values []string
}

// Where names the row for a person: "products.csv:17".
func (r TableRow) Where() string { return fmt.Sprintf("%s:%d", r.File, r.Line) }

// ReadTableFile reads one file of cols as ReadTable does.
func ReadTableFile(path string, cols []Column, delim Delimiter, each func(TableRow)) error {
	f, err := os.Open(path)
	if err != nil {
		return &FileError{File: path, Msg: "can't open: " + errors.Unwrap(err).Error()}
	}
	defer f.Close()
	return ReadTable(path, f, cols, delim, each)
}

// ReadTable reads a CSV stream of named columns with the input rules of the
// room files: UTF-8 with or without BOM (UTF-16 and binary refused), the
// delimiter given or sniffed from the header line, RFC 4180 quoting, blank
// lines and rows of empty fields skipped, values trimmed. A *FileError
// (file and line) rejects the stream: a required column missing, two
// columns meaning one field, a broken quote, a value that is not UTF-8.
func ReadTable(name string, in io.Reader, cols []Column, delim Delimiter, each func(TableRow)) error {
	name = filepath.Clean(name)
	br := bufio.NewReaderSize(in, 64<<10)
	head, _ := br.Peek(4096)
	if msg := checkText(head); msg != "" {
		return &FileError{File: name, Msg: msg}
	}
	if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
		head = head[3:]
	}
	d := rune(delim)
	if d == 0 {
		d = sniffDelimiter(head)
	}
	cr := csv.NewReader(br)
	cr.Comma, cr.FieldsPerRecord = d, -1
	dec := &decoder{cr: cr, file: name}
	header, err := cr.Read()
	if err == io.EOF {
		return &FileError{File: name, Msg: "file is empty: a header row is required"}
	}
	if err != nil {
		return dec.csvError(err)
	}
	index, err := tableIndex(name, header, cols)
	if err != nil {
		return err
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return dec.csvError(err)
		}
		line, _ := cr.FieldPos(0)
		dec.line = line
		row := TableRow{File: name, Line: line, Values: make([]string, len(cols))}
		blank := true
		for _, v := range rec {
			blank = blank && strings.TrimSpace(v) == ""
		}
		if blank {
			continue
		}
		for c, i := range index {
			if i < 0 || i >= len(rec) {
				continue
			}
			if !utf8.ValidString(rec[i]) {
				return &FileError{File: name, Line: line, Msg: fmt.Sprintf("column %s is not UTF-8 text; export the file as UTF-8", header[i])}
			}
			row.Values[c] = strings.TrimSpace(rec[i])
		}
		each(row)
	}
}

// tableIndex maps each column to its position in the header (-1: absent).
func tableIndex(file string, header []string, cols []Column) ([]int, error) {
	index := make([]int, len(cols))
	for c := range index {
		index[c] = -1
	}
	for i, h := range header {
		n := normalizeHeader(h)
		for c, col := range cols {
			match := n == normalizeHeader(col.Name)
			for _, a := range col.Aliases {
				match = match || n == normalizeHeader(a)
			}
			if !match {
				continue
			}
			if index[c] >= 0 {
				return nil, &FileError{File: file, Line: 1, Msg: fmt.Sprintf("columns %q and %q both mean %s", header[index[c]], h, col.Name)}
			}
			index[c] = i
		}
	}
	for c, col := range cols {
		if col.Required && index[c] < 0 {
			also := ""
			if len(col.Aliases) > 0 {
				also = " (or " + strings.Join(col.Aliases, ", ") + ")"
			}
			return nil, &FileError{File: file, Line: 1, Msg: fmt.Sprintf("required column %s%s is missing; the header has %s",
				col.Name, also, strings.Join(header, ", "))}
		}
	}
	return index, nil
}
