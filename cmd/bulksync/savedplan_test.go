package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

// A saved plan is trusted no more than a CSV: its rows are checked as input
// rows are, its actions against the states they were planned from, and its
// own maxDeletes may only tighten the guard of the command that applies it.
func TestSavedPlanIsCheckedAsInput(t *testing.T) {
	const head = `{"version": 2, "resource": "association", "createdAt": "2026-12-02T03:15:00Z", "maxDeletes": %s, "writes": [%s]}`
	before := `"before": {"amazonId": "amzn1.old", "amazonIdType": "communication-profile"}`
	create := func(id string) string {
		return `{"serviceProviderId": "` + sp + `", "externalUserId": "` + id + `", "action": "create", "amazonId": "amzn1.new", "amazonIdType": "communication-profile", "before": null}`
	}
	del := func(id string) string {
		return `{"serviceProviderId": "` + sp + `", "externalUserId": "` + id + `", "action": "delete", ` + before + `}`
	}
	existing := map[string]string{"5001": "amzn1.old", "5002": "amzn1.old", "5003": "amzn1.old", "5004": "amzn1.old"}
	for _, tc := range []struct {
		name       string
		limit      string
		writes     []string
		args       []string
		code       int
		says       string
		wantWrites int
	}{
		{"a trailing space in an id", `"10%"`, []string{create("7001 ")}, nil, 2, `has spaces at its ends`, 0},
		{"a control character in an id", `"10%"`, []string{create(`70\u001b01`)}, nil, 2, "externalUserId contains a control character", 0},
		{"an amazonIdType of another spelling", `"10%"`, []string{strings.Replace(create("7001"), `"amazonIdType": "communication-profile"`, `"amazonIdType": "COMMUNICATION_PROFILE"`, 1)},
			nil, 2, `is not communication-profile`, 0},
		{"a delete of what was absent", `"10%"`, []string{strings.Replace(del("5001"), before, `"before": null`, 1)}, nil, 2,
			"a delete planned from a state where it is absent", 0},
		{"a create of what existed", `"10%"`, []string{strings.Replace(create("5001"), `"before": null`, before, 1)}, nil, 2,
			"a create planned from a state where it exists", 0},
		// A plan whose maxDeletes was edited after review: the default
		// still applies, unless the command line gives the looser limit.
		{"an edited maxDeletes", `"-1"`, []string{del("5001"), del("5002"), del("5003")}, nil, 3, "max-deletes 10%: the plan deletes 3", 0},
		{"an edited maxDeletes, flag given", `"-1"`, []string{del("5001"), del("5002"), del("5003")}, []string{"--max-deletes", "3"}, 0, "", 3},
		{"a flag only tightens", `"1"`, []string{del("5001"), del("5002")}, []string{"--max-deletes", "-1"}, 3, "max-deletes 1: the plan deletes 2", 0},
		{"as reviewed", `"10%"`, []string{create("7001")}, nil, 0, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startAPI(t, emulator.Options{})
			a.seed(t, existing)
			dir := t.TempDir()
			plan := writeFile(t, dir, "plan.json", strings.Replace(strings.Replace(head, "%s", tc.limit, 1), "%s", strings.Join(tc.writes, ","), 1))
			res := a.cmd(t, "sync", nil, append([]string{"--plan", plan, "--report", filepath.Join(dir, "r.csv")}, tc.args...)...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.says) {
				t.Errorf("exit %d, want %d saying %q:\n%s", res.code, tc.code, tc.says, res.stderr)
			}
			if got := writes(a.Stats()); got != tc.wantWrites {
				t.Errorf("%d writes, want %d", got, tc.wantWrites)
			}
			if _, ok := a.Associations(sp)["7001 "]; ok {
				t.Errorf("the plan created %q", "7001 ")
			}
			_ = os.Remove(plan)
		})
	}
}
