package csvmodel

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// TableRow is one data line of a table: where it is, and the trimmed value
// of each Column in the order given ("" where the file has no such column).
type TableRow struct {
	File   string
	Line   int
	Values []string
	Raw    Raw // the row as its file holds it
}

// Where names the row for a person: "products.csv:17".
func (r TableRow) Where() string { return fmt.Sprintf("%s:%d", r.File, r.Line) }

// ReadTableFile reads one file of cols as ReadTable does.
func ReadTableFile(path string, cols []Column, delim Delimiter, each func(TableRow)) error {
	f, err := os.Open(path)
	if err != nil {
		return &FileError{File: path, Msg: "can't open: " + unwrapPath(err).Error()}
	}
	defer f.Close()
	return ReadTable(path, f, cols, delim, each)
}

// ReadTable reads a CSV stream of named columns, once, with the input rules
// of the room files (the same pass): UTF-8 with or without BOM (UTF-16 and
// binary refused), CRLF, LF or bare CR, the delimiter given or sniffed from
// the header line, RFC 4180 quoting, blank lines and rows of empty fields
// skipped, values trimmed of plain spaces and tabs, records bounded by
// MaxRecordBytes. A *FileError (file and line) rejects the
// stream: a required column missing, two columns meaning one field, a
// broken quote, a value of a column read that is not UTF-8.
func ReadTable(name string, in io.Reader, cols []Column, delim Delimiter, each func(TableRow)) error {
	c, err := Schema(cols).compile(nil)
	if err != nil {
		return err
	}
	r := &Reader{opts: Options{Delimiter: delim}, cols: c, table: true}
	src := &source{name: cleanName(name)}
	return r.pass(src, in, true, func(rec []string, line int, _ int64) error {
		if err := src.notUTF8(c.schema, rec, line); err != nil {
			return err
		}
		row := TableRow{File: src.name, Line: line, Values: make([]string, len(cols)), Raw: Raw{slices.Clone(rec), src.header, src.delim}}
		for col, i := range src.at {
			if i >= 0 && i < len(rec) {
				row.Values[col] = trimBlank(rec[i])
			}
		}
		each(row)
		return nil
	})
}

// cleanName is how a file is named in rows and messages: a path cleaned,
// a URL (s3://…) as it is given.
func cleanName(name string) string {
	if strings.Contains(name, "://") {
		return name
	}
	return filepath.Clean(name)
}
