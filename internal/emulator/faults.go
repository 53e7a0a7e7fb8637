package emulator

import (
	"fmt"
	"strconv"
	"strings"
)

// A fault is a share of calls answered badly on purpose.
type fault struct {
	kind  string // an HTTP status ("500"), "reset", "commit500" or "slow"
	share float64
}

// ParseFaults reads a spec like "500:0.05,503:0.05,429:0.02,reset:0.01,
// commit500:0.02,slow:0.01": the share of calls answered with that status, a
// dropped connection, a write applied and then answered 500, an answer slower
// than the client's timeout, or (garbage) a 200 whose body is not JSON. The
// shares add up to at most 1.
func ParseFaults(spec string) ([]fault, error) {
	var out []fault
	total := 0.0
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kind, share, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("fault %q: want KIND:SHARE, e.g. 500:0.05", part)
		}
		p, err := strconv.ParseFloat(share, 64)
		if err != nil || p < 0 || p > 1 {
			return nil, fmt.Errorf("fault %q: share must be a number from 0 to 1", part)
		}
		switch kind {
		case "reset", "commit500", "slow", "garbage":
		default:
			st, err := strconv.Atoi(kind)
			if err != nil || st < 400 || st > 599 {
				return nil, fmt.Errorf("fault %q: kind must be an HTTP status 400-599, reset, commit500, slow or garbage", part)
			}
		}
		total += p
		out = append(out, fault{kind: kind, share: p})
	}
	if total > 1+1e-9 {
		return nil, fmt.Errorf("faults %q: shares add up to %.3f, more than 1", spec, total)
	}
	return out, nil
}

// pickFault draws the fault of the next call ("" for none). One draw per
// call from the seeded generator, so the same seed replays the same sequence.
func (e *Emulator) pickFault(faults []fault) string {
	if len(faults) == 0 {
		return ""
	}
	e.mu.Lock()
	x := e.rng.Float64()
	e.mu.Unlock()
	for _, f := range faults {
		if x < f.share {
			return f.kind
		}
		x -= f.share
	}
	return ""
}
