package reconcile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limit is the --max-deletes guard: a count, a share of the provider's
// existing associations, or no limit at all; or the stricter of two.
type Limit struct {
	Count   int     // used when Percent is 0
	Percent float64 // share in percent, when given as "P%"
	None    bool    // -1: no limit
	and     *Limit  // also this one (Stricter)
}

// Stricter is the limit that allows, for any size, the fewer deletes of l
// and o.
func (l Limit) Stricter(o Limit) Limit {
	switch {
	case l.None:
		return o
	case o.None:
		return l
	}
	l.and = &o
	return l
}

// needsSize reports whether the limit depends on how many associations a
// group has.
func (l Limit) needsSize() bool {
	return !l.None && (l.Percent > 0 || l.and != nil && l.and.needsSize())
}

// ParseLimit reads "25", "10%" or "-1".
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "-1" {
		return Limit{None: true}, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 || v > 100 {
			return Limit{}, fmt.Errorf("max-deletes %q: want a count, a share like 10%%, or -1", s)
		}
		return Limit{Percent: v}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return Limit{}, fmt.Errorf("max-deletes %q: want a count, a share like 10%%, or -1", s)
	}
	return Limit{Count: n}, nil
}

// MarshalText writes a limit as ParseLimit reads it; the stricter of two
// can't be read back and is refused.
func (l Limit) MarshalText() ([]byte, error) {
	if l.and != nil {
		return nil, fmt.Errorf("max-deletes %s: one limit only", l)
	}
	return []byte(l.String()), nil
}

// UnmarshalText reads a limit as ParseLimit does, so a flag can be one.
func (l *Limit) UnmarshalText(b []byte) error {
	v, err := ParseLimit(string(b))
	if err == nil {
		*l = v
	}
	return err
}

// Max is the most deletes allowed against a provider with existing associations.
func (l Limit) Max(existing int) int {
	if l.and != nil {
		return min(l.one(existing), l.and.Max(existing))
	}
	return l.one(existing)
}

func (l Limit) one(existing int) int {
	switch {
	case l.None:
		return math.MaxInt
	case l.Percent > 0:
		return int(math.Floor(float64(existing) * l.Percent / 100))
	}
	return l.Count
}

func (l Limit) String() string {
	if l.and != nil {
		return Limit{Count: l.Count, Percent: l.Percent}.String() + " and " + l.and.String()
	}
	switch {
	case l.None:
		return "-1"
	case l.Percent > 0:
		return strconv.FormatFloat(l.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(l.Count)
}
