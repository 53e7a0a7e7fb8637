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
	"strings"
	"sync"
	"time"
)

// SafeCell defuses a value a spreadsheet would run as a formula.
func SafeCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// Writer streams report records. It is safe for concurrent use; records
// reach the file within a second of being written, and only whole ones.
// After the first failed write it writes nothing more: a report with a gap
// in it would pass for a whole one.
type Writer struct {
	mu      sync.Mutex
	out     io.Writer
	buf     bytes.Buffer // whole records only: a kill -9 never leaves half a line
	w       *csv.Writer  // writes into buf
	closer  io.Closer
	written int64 // bytes of whole records on out
	err     error
	onErr   func(error)
	stop    chan struct{}
	done    chan struct{}
}

// truncater is a file the Writer can cut back to its last whole record.
type truncater interface{ Truncate(size int64) error }

// NewWriter writes header to w and starts the flusher. closer, when not
// nil, is the file w writes to, created empty for the report: Close closes
// it, and a write that a full disk cut short is cut back to the last whole
// record (closer can Truncate, as an *os.File can). onErr, when not nil, is called once with the
// first write error after the header, as soon as it happens, so the run can
// stop instead of producing rows nobody will see.
func NewWriter(w io.Writer, closer io.Closer, header []string, onErr func(error)) (*Writer, error) {
	rw := &Writer{out: w, closer: closer, stop: make(chan struct{}), done: make(chan struct{})}
	rw.w = csv.NewWriter(&rw.buf)
	_ = rw.w.Write(header)
	rw.w.Flush()
	if rw.flushLocked(); rw.err != nil {
		return nil, rw.err
	}
	rw.onErr = onErr
	go rw.flusher()
	return rw, nil
}

func (w *Writer) flusher() {
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

// Write adds one record, its cells defused by SafeCell (in place).
func (w *Writer) Write(rec []string) {
	for i, v := range rec {
		rec[i] = SafeCell(v)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	_ = w.w.Write(rec) // into memory: can't fail
	w.w.Flush()
	if w.buf.Len() >= 64<<10 {
		w.flushLocked()
	}
}

// flushLocked writes the buffered records in one write call; the first
// failure is kept (Write buffers nothing after it), and the part of a
// record it wrote is cut off.
func (w *Writer) flushLocked() {
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
	if t, ok := w.closer.(truncater); ok && n > 0 {
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
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
}

// Close flushes and closes; it returns the first write error, if any.
func (w *Writer) Close() error {
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
