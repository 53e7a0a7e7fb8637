package reconcile

import (
	"fmt"
	"testing"
)

func TestOutcomesAndActions(t *testing.T) {
	var c Counts
	c.Add(Created)
	c.Add(Created)
	c.Add(Skipped)
	if c.Total() != 3 || fmt.Sprint(c.Map()) != "map[created:2 skipped:1]" {
		t.Errorf("counts: total %d, map %v", c.Total(), c.Map())
	}
	var zero Outcome
	if zero.String() != "unknown" || Outcome(200).String() != "unknown" {
		t.Errorf("an outcome never set must not pass for one: %q, %q", zero, Outcome(200))
	}
	for a, want := range map[Action]string{ActNone: "none", ActCreate: "create", ActUpdate: "update", ActDelete: "delete", Action(9): "none"} {
		if a.String() != want {
			t.Errorf("Action(%d): got %q, want %q", a, a, want)
		}
	}
}
