package reconcile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limit is the --max-deletes guard: a count, a share of the provider's
// existing associations, or no limit at all.
type Limit struct {
	Count   int     // used when Percent is 0
	Percent float64 // share in percent, when given as "P%"
	None    bool    // -1: no limit
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
	switch {
	case l.None:
		return math.MaxInt
	case l.Percent > 0:
		return int(math.Floor(float64(existing) * l.Percent / 100))
	}
	return l.Count
}

func (l Limit) String() string {
	switch {
	case l.None:
		return "-1"
	case l.Percent > 0:
		return strconv.FormatFloat(l.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(l.Count)
}
