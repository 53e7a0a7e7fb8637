package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

// --max-deletes at sync --plan may only tighten the limit the plan was
// reviewed under: a looser one (here -1) leaves the reviewed share in
// force. Reviewed at 50% of 5 associations (2 deletes allowed); by the time
// it is applied, others removed 2 associations the plan does not touch, and
// 50% of the 3 left is 1.
func TestSavedPlanKeepsItsReviewedLimit(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	a.seed(t, map[string]string{"5001": "amzn1.old", "5002": "amzn1.same", "5003": "amzn1.gone", "5004": "amzn1.gone2", "5006": "amzn1.same2"})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n5001,amzn1.new\n5002,amzn1.same\n5005,amzn1.fresh\n5006,amzn1.same2\n")
	planFile, rep := filepath.Join(dir, "plan.json"), filepath.Join(dir, "report.csv")
	if res := a.cmd(t, "plan", nil, "--prune", "--max-deletes", "50%", "--out", planFile, "--report", rep, in); res.code != 0 {
		t.Fatalf("plan: exit %d:\n%s", res.code, res.stderr)
	}
	a.Remove(sp, "5002", "5006")
	before := fmt.Sprint(a.Associations(sp))
	a.ResetStats()
	res := a.cmd(t, "sync", nil, "--plan", planFile, "--max-deletes", "-1", "--report", rep)
	if res.code != 3 || !strings.Contains(res.stderr, "max-deletes 50%: the plan deletes 2 of the 3") {
		t.Errorf("sync --plan with a looser --max-deletes: exit %d, want 3 and the reviewed 50%%:\n%s", res.code, res.stderr)
	}
	if n := writes(a.Stats()); n != 0 || fmt.Sprint(a.Associations(sp)) != before {
		t.Errorf("a plan over its reviewed limit made %d writes", n)
	}
}
