package reconcile

// The engine's vocabulary: what a row calls for (Action) and what became of
// it (Outcome), counted per run (Counts). The report, the summary, progress
// and metrics speak it.

// Outcome is what became of a row.
type Outcome uint8

// The outcomes; the zero Outcome is none of them, so an outcome never set
// shows as "unknown" instead of passing for one.
const (
	Created Outcome = iota + 1
	Updated
	Deleted
	Unchanged
	Planned
	Duplicate
	Invalid
	Failed
	Skipped
	numOutcomes
)

var outcomeNames = [...]string{"unknown", "created", "updated", "deleted", "unchanged", "planned", "duplicate", "invalid", "failed", "skipped"}

func (o Outcome) String() string {
	if o >= numOutcomes {
		return "unknown"
	}
	return outcomeNames[o]
}

// Outcomes lists every outcome in the order a summary shows them.
var Outcomes = []Outcome{Created, Updated, Deleted, Unchanged, Planned, Duplicate, Invalid, Failed, Skipped}

// Counts is rows per outcome.
type Counts [numOutcomes]int

// Add counts one row.
func (c *Counts) Add(o Outcome) { c[o]++ }

// Total is every row counted.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Map is the non-zero counts by outcome name.
func (c Counts) Map() map[string]int {
	m := map[string]int{}
	for _, o := range Outcomes {
		if c[o] > 0 {
			m[o.String()] = c[o]
		}
	}
	return m
}

// Action is the write a row calls for.
type Action uint8

// The actions; the zero Action is none.
const (
	ActNone Action = iota
	ActCreate
	ActUpdate
	ActDelete
)

func (a Action) String() string {
	switch a {
	case ActCreate:
		return "create"
	case ActUpdate:
		return "update"
	case ActDelete:
		return "delete"
	}
	return "none"
}
