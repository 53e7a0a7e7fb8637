// Package report writes what became of every row, in the engine's words
// (reconcile's outcomes and actions): the per-row report CSV (streamed and
// flushed, so a killed run leaves a readable file), the run summary for
// people (stderr) and machines (JSON), progress and metrics.
package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocarina/gocsv"
)

// SafeCell defuses a value a spreadsheet would run as a formula.
func SafeCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// BlankZero is a number a report cell leaves empty when it is zero: a line
// or an HTTP status that there is none of.
type BlankZero int

// MarshalCSV implements gocsv.TypeMarshaller.
func (n BlankZero) MarshalCSV() (string, error) {
	if n == 0 {
		return "", nil
	}
	return strconv.Itoa(int(n)), nil
}

// Fate is the columns every report row ends with: what became of the row.
type Fate struct {
	Action       string    `csv:"action"`
	Outcome      string    `csv:"outcome"`
	HTTPStatus   BlankZero `csv:"http_status"`
	ErrorType    string    `csv:"error_type"`
	ErrorMessage string    `csv:"error_message"`
	Attempts     int       `csv:"attempts"`
	DurationMS   int64     `csv:"duration_ms"`
}

// Header is the columns of a report of rows R: the csv tags of its fields,
// in order (gocsv's reading of them).
func Header[R any]() []string {
	var w capture
	_ = gocsv.MarshalCSV([]R{}, &w)
	return w.rec
}

// capture keeps the last record written to it.
type capture struct{ rec []string }

func (c *capture) Write(rec []string) error { c.rec = append([]string(nil), rec...); return nil }
func (*capture) Flush()                     {}
func (*capture) Error() error               { return nil }

// safeCSV is the gocsv.CSVWriter reports are written through: every cell
// defused by SafeCell, into a csv.Writer.
type safeCSV struct{ *csv.Writer }

func (w safeCSV) Write(rec []string) error {
	for i, v := range rec {
		rec[i] = SafeCell(v)
	}
	return w.Writer.Write(rec)
}

// Writer streams report rows of type R, a struct whose csv tags name the
// columns (gocsv). It is safe for concurrent use; rows reach the file
// within a second of being written, and only whole ones. After the first
// failed write it writes nothing more: a report with a gap in it would pass
// for a whole one.
type Writer[R any] struct {
	mu      sync.Mutex
	out     io.Writer
	buf     bytes.Buffer // whole records only: a kill -9 never leaves half a line
	w       safeCSV      // writes into buf
	closer  io.Closer
	written int64 // bytes of whole records on out
	each    bool  // flush every row: the run is stopping
	err     error
	onErr   func(error)
	stop    chan struct{}
	done    chan struct{}
}

// truncater is a file the Writer can cut back to its last whole record.
type truncater interface{ Truncate(size int64) error }

// NewWriter writes R's header to w and starts the flusher. closer, when
// not nil, is what Close closes once the rows are flushed (the file w
// writes to). A write that a full disk cut short is cut back to the last
// whole record when w can Truncate (as an *os.File can). onErr, when not
// nil, is called once with the first write error after the header, as soon
// as it happens, so the run can stop instead of producing rows nobody will
// see.
func NewWriter[R any](w io.Writer, closer io.Closer, onErr func(error)) (*Writer[R], error) {
	rw := &Writer[R]{out: w, closer: closer, stop: make(chan struct{}), done: make(chan struct{})}
	rw.w = safeCSV{csv.NewWriter(&rw.buf)}
	if err := gocsv.MarshalCSV([]R{}, rw.w); err != nil {
		return nil, fmt.Errorf("report header: %w", err)
	}
	if rw.flushLocked(); rw.err != nil {
		return nil, rw.err
	}
	rw.onErr = onErr
	go rw.flusher()
	return rw, nil
}

func (w *Writer[R]) flusher() {
	defer close(w.done)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.Flush()
		}
	}
}

// Write adds one row, its cells defused by SafeCell.
func (w *Writer[R]) Write(row R) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	// Into memory: it can't fail for a row of R.
	_ = gocsv.MarshalCSVWithoutHeaders([]R{row}, w.w)
	if w.each || w.buf.Len() >= 64<<10 {
		w.flushLocked()
	}
}

// FlushEach flushes what is buffered and, from now on, every row as it is
// written: a run that is stopping may be killed at any moment.
func (w *Writer[R]) FlushEach() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.each = true
	w.flushLocked()
}

// flushLocked writes the buffered records in one write call; the first
// failure is kept (Write buffers nothing after it), and the part of a
// record it wrote is cut off.
func (w *Writer[R]) flushLocked() {
	if w.buf.Len() == 0 {
		return
	}
	defer w.buf.Reset()
	n, err := w.out.Write(w.buf.Bytes())
	if err == nil && n < w.buf.Len() {
		err = io.ErrShortWrite
	}
	if err == nil {
		w.written += int64(n)
		return
	}
	if t, ok := w.out.(truncater); ok && n > 0 {
		if terr := t.Truncate(w.written); terr != nil {
			err = fmt.Errorf("%w (and cutting off the half-written record failed: %v)", err, terr)
		}
	}
	w.err = err
	if w.onErr != nil {
		w.onErr(w.err)
	}
}

// Flush pushes buffered records to the file now.
func (w *Writer[R]) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
}

// Close flushes and closes; it returns the first write error, if any.
func (w *Writer[R]) Close() error {
	close(w.stop)
	<-w.done
	w.Flush()
	w.mu.Lock()
	err := w.err
	w.mu.Unlock()
	if w.closer != nil {
		if cerr := w.closer.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close report: %w", cerr)
		}
	}
	return err
}
