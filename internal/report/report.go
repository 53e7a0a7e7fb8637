// Package report writes what became of every row: the per-row report CSV
// (streamed and flushed, so a killed run leaves a readable file) and the run
// summary for people (stderr) and machines (JSON).
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
)

// Outcomes of a row.
const (
	Created   = "created"
	Updated   = "updated"
	Deleted   = "deleted"
	Unchanged = "unchanged"
	Duplicate = "duplicate"
	Invalid   = "invalid"
	Failed    = "failed"
	Skipped   = "skipped"
	Planned   = "planned"
)

// Outcomes lists every outcome in the order a summary shows them.
var Outcomes = []string{Created, Updated, Deleted, Unchanged, Planned, Duplicate, Invalid, Failed, Skipped}

// Actions of a row.
const (
	ActCreate = "create"
	ActUpdate = "update"
	ActDelete = "delete"
	ActNone   = "none"
)

// Header is the report's columns, in order.
var Header = []string{"file", "line", "service_provider_id", "external_user_id", "amazon_id", "amazon_id_type",
	"previous_amazon_id", "action", "outcome", "http_status", "error_type", "error_message", "attempts", "duration_ms"}

// Row is one line of the report: an input row, or an association pruned
// because no input row named it (File empty, Line 0).
type Row struct {
	File              string
	Line              int
	ServiceProviderID string
	ExternalUserID    string
	AmazonID          string
	AmazonIDType      string
	PreviousAmazonID  string
	Action            string
	Outcome           string
	HTTPStatus        int
	ErrorType         string
	ErrorMessage      string
	Attempts          int
	Duration          time.Duration
}

func (r Row) record() []string {
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	rec := []string{r.File, num(r.Line), r.ServiceProviderID, r.ExternalUserID, r.AmazonID, r.AmazonIDType,
		r.PreviousAmazonID, r.Action, r.Outcome, num(r.HTTPStatus), r.ErrorType, r.ErrorMessage,
		strconv.Itoa(r.Attempts), strconv.FormatInt(r.Duration.Milliseconds(), 10)}
	for i, v := range rec {
		rec[i] = SafeCell(v)
	}
	return rec
}

// SafeCell defuses a value a spreadsheet would run as a formula.
func SafeCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// Writer streams report rows. It is safe for concurrent use; rows reach the
// file within a second of being written.
type Writer struct {
	mu     sync.Mutex
	out    io.Writer
	buf    bytes.Buffer // whole records only: a kill -9 never leaves half a line
	w      *csv.Writer  // writes into buf
	closer io.Closer
	counts map[string]int
	err    error
	stop   chan struct{}
	done   chan struct{}
}

// NewWriter writes the header to w and starts the flusher. closer, when not
// nil, is closed by Close.
func NewWriter(w io.Writer, closer io.Closer) (*Writer, error) {
	rw := &Writer{out: w, closer: closer, counts: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	rw.w = csv.NewWriter(&rw.buf)
	_ = rw.w.Write(Header)
	rw.w.Flush()
	if err := rw.flushLocked(); err != nil {
		return nil, fmt.Errorf("write report header: %w", err)
	}
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

// Write adds one row.
func (w *Writer) Write(r Row) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts[r.Outcome]++
	_ = w.w.Write(r.record()) // into memory: can't fail
	w.w.Flush()
	if w.buf.Len() >= 64<<10 {
		w.setErr(w.flushLocked())
	}
}

func (w *Writer) setErr(err error) {
	if w.err == nil {
		w.err = err
	}
}

// flushLocked writes the buffered records in one write call.
func (w *Writer) flushLocked() error {
	if w.buf.Len() == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf.Bytes())
	w.buf.Reset()
	return err
}

// Flush pushes buffered rows to the file now.
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.setErr(w.flushLocked())
}

// Counts returns rows written per outcome.
func (w *Writer) Counts() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.counts))
	for k, v := range w.counts {
		out[k] = v
	}
	return out
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
		if cerr := w.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
