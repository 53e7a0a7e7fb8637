package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/rs/zerolog"
)

// Summary is what a run did, in numbers, and which run it was.
type Summary struct {
	Command string `json:"command"`
	// RunID is the run's id, as on its log lines; Version and CommandLine
	// (no secret in it) say what ran.
	RunID       string    `json:"run_id,omitempty"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	Version     string    `json:"version,omitempty"`
	CommandLine string    `json:"command_line,omitempty"`

	Rows      int            `json:"rows"`
	BlankRows int            `json:"blank_rows,omitempty"` // skipped, every field empty: not in Rows
	Outcomes  map[string]int `json:"outcomes"`
	Calls     map[string]int `json:"calls"`
	// Statuses is calls by kind, then by answer: 2xx, the HTTP error
	// status, or none (timeout, broken connection).
	Statuses    map[string]map[string]int `json:"statuses,omitempty"`
	Retries     int                       `json:"retries"`
	Throttled   int                       `json:"throttled"`
	DurationMS  int64                     `json:"duration_ms"`
	CallsPerSec float64                   `json:"calls_per_second"`
	ExitCode    int                       `json:"exit_code"`
	Message     string                    `json:"message,omitempty"` // why the run ended early, if it did
	Hint        string                    `json:"hint,omitempty"`    // what to do about it
	Inputs      []string                  `json:"inputs,omitempty"`  // the files read (a --newest pattern's match), URLs without their secrets
	Report      string                    `json:"report,omitempty"`  // its path; - is standard output
	Rejects     []string                  `json:"rejects,omitempty"` // the rejects files written
}

// NewSummary totals the outcomes and computes the achieved rate; statuses
// are calls by "kind status", as the pool counts them.
func NewSummary(command string, outcomes reconcile.Counts, calls, statuses map[string]int, retries, throttled int, d time.Duration) Summary {
	s := Summary{Command: command, Outcomes: outcomes.Map(), Calls: calls, Retries: retries, Throttled: throttled,
		DurationMS: d.Milliseconds(), Rows: outcomes.Total()}
	for k, n := range statuses {
		kind, status, _ := strings.Cut(k, " ")
		if s.Statuses[kind] == nil {
			if s.Statuses == nil {
				s.Statuses = map[string]map[string]int{}
			}
			s.Statuses[kind] = map[string]int{}
		}
		s.Statuses[kind][status] += n
	}
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
	enc.SetEscapeHTML(false) // a URL's & as it is, not \u0026
	return enc.Encode(s)
}

// WriteText writes the summary for a person; the caller tells Message,
// with what to do about it.
func (s Summary) WriteText(w io.Writer) {
	var parts []string
	for _, o := range reconcile.Outcomes {
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
	switch s.Report {
	case "":
	case "-":
		fmt.Fprintf(w, "; report: standard output")
	default:
		fmt.Fprintf(w, "; report: %s", s.Report)
	}
	if len(s.Rejects) > 0 {
		fmt.Fprintf(w, "; rejects: %s", strings.Join(s.Rejects, ", "))
	}
	fmt.Fprintln(w)
}

// Log writes the summary as the run's one closing event ("run finished"),
// for log pipelines: what WriteText and the error tell people, as fields.
// The command is not among them: the run's logger carries it on every line.
func (s Summary) Log(log zerolog.Logger, level zerolog.Level) {
	// Empty, not null: a pipeline's parser may expect an object.
	outcomes, calls, statuses := s.Outcomes, s.Calls, s.Statuses
	if outcomes == nil {
		outcomes = map[string]int{}
	}
	if calls == nil {
		calls = map[string]int{}
	}
	if statuses == nil {
		statuses = map[string]map[string]int{}
	}
	ev := log.WithLevel(level).Int("rows", s.Rows)
	if s.BlankRows > 0 {
		ev = ev.Int("blank_rows", s.BlankRows)
	}
	ev = ev.Interface("outcomes", outcomes).
		Interface("calls", calls).Interface("statuses", statuses).Int("retries", s.Retries).Int("throttled", s.Throttled).
		Int64("duration_ms", s.DurationMS).Float64("calls_per_second", s.CallsPerSec).Int("exit_code", s.ExitCode)
	if s.Report != "" {
		ev = ev.Str("report", s.Report)
	}
	if len(s.Rejects) > 0 {
		ev = ev.Strs("rejects", s.Rejects)
	}
	if s.Message != "" {
		ev = ev.Str("error", s.Message)
	}
	if s.Hint != "" {
		ev = ev.Str("hint", s.Hint)
	}
	ev.Msg("run finished")
}
