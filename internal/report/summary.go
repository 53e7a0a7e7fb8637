package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Summary is what a run did, in numbers.
type Summary struct {
	Command     string         `json:"command"`
	Rows        int            `json:"rows"`
	BlankRows   int            `json:"blank_rows,omitempty"` // skipped, every field empty: not in Rows
	Outcomes    map[string]int `json:"outcomes"`
	Calls       map[string]int `json:"calls"`
	Retries     int            `json:"retries"`
	Throttled   int            `json:"throttled"`
	DurationMS  int64          `json:"duration_ms"`
	CallsPerSec float64        `json:"calls_per_second"`
	ExitCode    int            `json:"exit_code"`
	Message     string         `json:"message,omitempty"`
	Report      string         `json:"report,omitempty"`
}

// NewSummary totals the outcomes and computes the achieved rate.
func NewSummary(command string, outcomes Counts, calls map[string]int, retries, throttled int, d time.Duration) Summary {
	s := Summary{Command: command, Outcomes: outcomes.Map(), Calls: calls, Retries: retries, Throttled: throttled,
		DurationMS: d.Milliseconds(), Rows: outcomes.Total()}
	total := 0
	for _, n := range calls {
		total += n
	}
	if d > 0 {
		s.CallsPerSec = float64(total) / d.Seconds()
	}
	return s
}

// WriteJSON writes the summary as indented JSON.
func (s Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteText writes the summary for a person; the caller tells Message,
// with what to do about it.
func (s Summary) WriteText(w io.Writer) {
	var parts []string
	for _, o := range Outcomes {
		if n := s.Outcomes[o.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	if len(parts) == 0 {
		parts = []string{"no rows"}
	}
	blank := ""
	if s.BlankRows > 0 {
		blank = fmt.Sprintf("; %d blank rows skipped", s.BlankRows)
	}
	fmt.Fprintf(w, "\n%s: %d rows: %s%s\n", s.Command, s.Rows, strings.Join(parts, ", "), blank)
	kinds := make([]string, 0, len(s.Calls))
	total := 0
	for k, n := range s.Calls {
		kinds = append(kinds, k)
		total += n
	}
	sort.Strings(kinds)
	var calls []string
	for _, k := range kinds {
		calls = append(calls, fmt.Sprintf("%d %s", s.Calls[k], k))
	}
	if total > 0 {
		fmt.Fprintf(w, "API calls: %d (%s), %d retries, %d throttled\n", total, strings.Join(calls, ", "), s.Retries, s.Throttled)
	} else {
		fmt.Fprintf(w, "API calls: none\n")
	}
	fmt.Fprintf(w, "took %s (%.1f calls/s)", time.Duration(s.DurationMS)*time.Millisecond, s.CallsPerSec)
	if s.Report != "" {
		fmt.Fprintf(w, "; report: %s", s.Report)
	}
	fmt.Fprintln(w)
}
