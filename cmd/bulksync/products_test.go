package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

func skillN(i int) string   { return fmt.Sprintf("amzn1.ask.skill.%08d-0000-4000-8000-000000000000", i) }
func productN(i int) string { return fmt.Sprintf("p%02d", i) }

// products runs "bulksync products COMMAND" against this emulator with fast
// retries.
func (a *api) products(t *testing.T, command string, args ...string) result {
	t.Helper()
	full := append([]string{"products", command, "--endpoint", a.url, "--rps", "5000", "--max-backoff", "5ms",
		"--max-retry-after", "5ms", "--log-format", "json"}, args...)
	return runCLI(t, []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, full...)
}

// seedProducts creates n products of the demo vendor and returns their ids.
func (a *api) seedProducts(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = a.PutProduct(emulator.DefaultVendor, productN(i), false)
	}
	return ids
}

// state is every development association: "skill product".
func (a *api) state(ids []string) []string {
	var out []string
	for _, p := range ids {
		for _, s := range a.ProductSkills("development", p) {
			out = append(out, s+" "+p)
		}
	}
	slices.Sort(out)
	return out
}

func productWrites(s emulator.Stats) int {
	return s.Count("product.associate", "") + s.Count("product.disassociate", "")
}

func TestProductsSync(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	ids := a.seedProducts(3)
	a.Associate("development", ids[1], skillN(1), skillN(2))
	dir := t.TempDir()
	in := writeFile(t, dir, "products.csv", "Skill;In-Skill Product ID;Action;notes\n"+
		skillN(1)+";"+ids[0]+";;new\n"+ // 2: associate
		skillN(1)+";"+ids[1]+";associate;there already\n"+ // 3: unchanged
		skillN(2)+";"+ids[1]+";DISASSOCIATE;\n"+ // 4: disassociate
		skillN(2)+";"+ids[2]+";disassociate;\n"+ // 5: not there: nothing to do
		skillN(1)+";"+ids[0]+";;again\n"+ // 6: duplicate of 2
		"skill-3;"+ids[0]+";;\n"+ // 7: invalid
		skillN(3)+";amzn1.adg.product.unknown;;\n") // 8: the API says 404
	rep := filepath.Join(dir, "report.csv")
	res := a.products(t, "sync", "--max-deletes", "-1", "--report", rep, in)
	if res.code != 7 {
		t.Fatalf("exit %d, want 7 (an invalid row and one refused):\n%s", res.code, res.stderr)
	}
	want := []string{skillN(1) + " " + ids[0], skillN(1) + " " + ids[1]}
	if got := a.state(ids); !slices.Equal(got, want) {
		t.Errorf("state: %v, want %v", got, want)
	}
	rows := readReport(t, rep)
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s:%s %s %s %s %s", filepath.Base(r["file"]), r["line"], r["stage"], r["action"], r["outcome"], r["http_status"]))
	}
	slices.Sort(got)
	wantRows := []string{
		"products.csv:2 development create created 204",
		"products.csv:3 development none unchanged ",
		"products.csv:4 development delete deleted 204",
		"products.csv:5 development none unchanged ",
		"products.csv:6 development none duplicate ",
		"products.csv:7 development none invalid ",
		"products.csv:8 development create failed 404",
	}
	if !slices.Equal(got, wantRows) {
		t.Errorf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRows, "\n"))
	}
	for _, r := range rows {
		if r["line"] == "8" && (r["error_type"] != "NOT_FOUND" || !strings.Contains(r["error_message"], "not found")) {
			t.Errorf("the 404's row: %v", r)
		}
	}
	a.ResetStats()
	if res := a.products(t, "sync", "--max-deletes", "-1", "--report", rep, in); res.code != 7 || productWrites(a.Stats()) != 1 {
		t.Errorf("second run: exit %d, %d writes; want only the unknown product's retry:\n%s", res.code, productWrites(a.Stats()), res.stderr)
	}
	if res := a.products(t, "sync", "--stage", "live", in); res.code != 2 || !strings.Contains(res.stderr, "development stage") {
		t.Errorf("sync of live: exit %d\n%s", res.code, res.stderr)
	}
	if res := a.products(t, "sync", "--service-provider-id", sp, in); res.code != 2 {
		t.Errorf("a provider flag on products: exit %d, want 2", res.code)
	}
}

// The chain-sized case: 10 products in 200 skills, mixed changes, --prune.
// It costs the per-skill listing --prune forces (one page per skill) and one
// call per change; the rerun writes nothing.
func TestProductsChainSized(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	ids := a.seedProducts(10)
	var b strings.Builder
	b.WriteString("skillId,productId,action\n")
	want := map[string]bool{}
	changes := 0
	for s := range 200 {
		for p := range 10 {
			key := skillN(s) + " " + ids[p]
			has := (s+p)%7 != 0         // what exists
			wanted := (s*p)%11 != 3     // what the files want
			stray := p == 9 && s%5 == 0 // exists, named by no row: pruned
			if has || stray {
				a.Associate("development", ids[p], skillN(s))
			}
			switch {
			case stray:
				changes++
				continue
			case wanted:
				fmt.Fprintf(&b, "%s,%s,\n", skillN(s), ids[p])
				want[key] = true
			case s%2 == 0:
				fmt.Fprintf(&b, "%s,%s,disassociate\n", skillN(s), ids[p])
			default:
				continue // neither named nor wanted: pruned if it exists
			}
			if has != wanted {
				changes++
			}
		}
	}
	for s := 1; s < 200; s += 2 {
		for p := range 10 {
			if (s+p)%7 != 0 && (s*p)%11 == 3 && !(p == 9 && s%5 == 0) {
				changes++ // unnamed and existing: pruned
			}
		}
	}
	in := writeFile(t, t.TempDir(), "chain.csv", b.String())
	rep := filepath.Join(t.TempDir(), "report.csv")
	a.ResetStats()
	res := a.products(t, "sync", "--prune", "--max-deletes", "-1", "--concurrency", "16", "--report", rep, in)
	if res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	var wantState []string
	for k := range want {
		wantState = append(wantState, k)
	}
	slices.Sort(wantState)
	if got := a.state(ids); !slices.Equal(got, wantState) {
		t.Errorf("state: %d associations, want %d", len(got), len(wantState))
	}
	s := a.Stats()
	if s.Count("skill.products", "") != 200 || s.Count("product.skills", "") != 0 || productWrites(s) != changes || s.Total != 200+changes {
		t.Errorf("calls: %d skill lists, %d product lists, %d writes (total %d); want 200, 0, %d (total %d)",
			s.Count("skill.products", ""), s.Count("product.skills", ""), productWrites(s), s.Total, changes, 200+changes)
	}
	a.ResetStats()
	if res := a.products(t, "sync", "--prune", "--max-deletes", "-1", "--report", rep, in); res.code != 0 || productWrites(a.Stats()) != 0 {
		t.Errorf("rerun: exit %d, %d writes", res.code, productWrites(a.Stats()))
	}
	t.Logf("10 products × 200 skills, --prune: 200 lists + %d changes", changes)
}

// Without --prune and with no row to disassociate, the product side is
// cheaper: 10 products × 2 pages of 100 skills, not 200 skill pages.
func TestProductsReadByProduct(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	ids := a.seedProducts(10)
	var b strings.Builder
	b.WriteString("skillId,productId\n")
	for s := range 200 {
		for p := range 10 {
			fmt.Fprintf(&b, "%s,%s\n", skillN(s), ids[p])
			if s%10 != p {
				a.Associate("development", ids[p], skillN(s))
			}
		}
	}
	in := writeFile(t, t.TempDir(), "chain.csv", b.String())
	rep := filepath.Join(t.TempDir(), "report.csv")
	a.ResetStats()
	if res := a.products(t, "sync", "--report", rep, in); res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	s := a.Stats()
	if s.Count("product.skills", "") != 20 || s.Count("skill.products", "") != 0 || productWrites(s) != 200 {
		t.Errorf("calls: %v; want 20 product.skills pages and 200 associates", s.Calls)
	}
}

func TestProductsPlanAndSavedPlan(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	ids := a.seedProducts(2)
	a.Associate("development", ids[1], skillN(1), skillN(2))
	dir := t.TempDir()
	in := writeFile(t, dir, "p.csv", "skillId,productId,action\n"+skillN(1)+","+ids[0]+",\n"+skillN(1)+","+ids[1]+",\n")
	plan := filepath.Join(dir, "plan.json")
	res := a.products(t, "plan", "--log-format", "console", "--prune", "--detailed-exitcode", "--out", plan, "--report", filepath.Join(dir, "r.csv"), in)
	if res.code != 5 || !strings.Contains(res.stderr, "plan for "+skillN(1)+": 1 to associate, 0 to disassociate") ||
		!strings.Contains(res.stderr, "\n  + "+ids[0]+"   "+in+":2\n") {
		t.Fatalf("plan: exit %d\n%s", res.code, res.stderr)
	}
	data, _ := os.ReadFile(plan)
	if !strings.Contains(string(data), `"resource": "product"`) || !strings.Contains(string(data), `"skillId": "`+skillN(1)) {
		t.Errorf("saved plan: %s", data)
	}
	if productWrites(a.Stats()) != 0 {
		t.Errorf("plan wrote")
	}
	if res := a.products(t, "sync", "--plan", plan, "--report", filepath.Join(dir, "r.csv")); res.code != 0 {
		t.Fatalf("sync --plan: exit %d\n%s", res.code, res.stderr)
	}
	if got := a.ProductSkills("development", ids[0]); !slices.Equal(got, []string{skillN(1)}) {
		t.Errorf("after the plan: %v", got)
	}
	// Applied again, the plan finds every write made: exit 0, and the
	// report of the run that made them is kept (the record --undo needs).
	first, _ := os.ReadFile(filepath.Join(dir, "r.csv"))
	if res := a.products(t, "sync", "--plan", plan, "--report", filepath.Join(dir, "r.csv")); res.code != 0 || !strings.Contains(res.stderr, "already holds") {
		t.Errorf("the plan again: exit %d, want 0 (already applied)\n%s", res.code, res.stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "r.csv")); string(again) != string(first) || !strings.Contains(string(first), ",created,") {
		t.Errorf("the report of the run that applied the plan was replaced:\n%s\nnow\n%s", first, again)
	}
	a.Associate("live", ids[1], skillN(1))
	if res := a.products(t, "plan", "--stage", "live", "--detailed-exitcode", "--report", filepath.Join(dir, "r.csv"), in); res.code != 5 ||
		!strings.Contains(res.stderr, `"associate":1`) {
		t.Errorf("plan against live: exit %d\n%s", res.code, res.stderr)
	}
}

// Faults on every kind of call: the run ends in the wanted state, every row
// reported once.
func TestProductsSyncUnderFaults(t *testing.T) {
	a := startAPI(t, emulator.Options{Faults: "500:0.08,503:0.05,429:0.03,reset:0.03,commit500:0.05", Seed: 7})
	ids := a.seedProducts(4)
	var b strings.Builder
	b.WriteString("skillId,productId\n")
	for s := range 30 {
		for _, p := range ids {
			fmt.Fprintf(&b, "%s,%s\n", skillN(s), p)
		}
	}
	in := writeFile(t, t.TempDir(), "p.csv", b.String())
	rep := filepath.Join(t.TempDir(), "r.csv")
	if res := a.products(t, "sync", "--max-attempts", "10", "--report", rep, in); res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	if got := len(a.state(ids)); got != 120 {
		t.Errorf("state: %d associations, want 120", got)
	}
	if rows := readReport(t, rep); len(rows) != 120 {
		t.Errorf("report: %d rows, want 120", len(rows))
	}
}

func TestProductCommands(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	manifest := filepath.Join("..", "..", "samples", "product-manifest.json")
	res := a.products(t, "create", "--vendor-id", "M1V", "--file", manifest)
	var created struct {
		ProductID string `json:"productId"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &created) != nil || !strings.HasPrefix(created.ProductID, "amzn1.adg.product.") {
		t.Fatalf("create: exit %d %q\n%s", res.code, res.stdout, res.stderr)
	}
	id := created.ProductID
	res = a.products(t, "get", id)
	var got struct {
		ETag string `json:"eTag"`
		Def  struct {
			ReferenceName string `json:"referenceName"`
		} `json:"inSkillProductDefinition"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &got) != nil || got.ETag == "" || got.Def.ReferenceName != "late-checkout" {
		t.Fatalf("get: exit %d %q", res.code, res.stdout)
	}
	a.Associate("development", id, skillN(1), skillN(2))
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"create", "--vendor-id", "M1V", "--file", manifest}, 1, "", "400 Bad Request: DUPLICATE_REFERENCE_NAME"},
		{[]string{"create", "--file", manifest}, 2, "", "--vendor-id is required"},
		{[]string{"create", "--vendor-id", "M1V", "--file", manifest, "--reference-name", "spa-access"}, 0, `"productId": "amzn1.adg.product.`, ""},
		{[]string{"get", id, "--short"}, 0, `"inSkillProductSummary"`, ""},
		{[]string{"get", id, "--stage", "live"}, 1, "", "404 Not Found: NOT_FOUND"},
		{[]string{"get", "prod-1"}, 2, "", "does not start with amzn1.adg.product."},
		{[]string{"list", "--vendor-id", "M1V"}, 0, `"referenceName": "spa-access"`, ""},
		{[]string{"list", "--skill-id", skillN(1)}, 0, `"productId": "` + id + `"`, ""},
		{[]string{"list"}, 2, "", "give --vendor-id or --skill-id"},
		{[]string{"skills", id}, 0, `"` + skillN(2) + `"`, ""},
		{[]string{"update", id, "--file", manifest, "--etag", `"stale"`}, 1, "", "retry with the new --etag"},
		{[]string{"update", id, "--file", manifest, "--etag", got.ETag}, 0, "", ""},
		{[]string{"update", id, "--file", manifest, "--etag", got.ETag}, 1, "", "412 Precondition Failed"},
		{[]string{"delete", id}, 1, "", "disassociate it first"},
	}
	for _, tt := range tests {
		res := a.products(t, tt.args[0], tt.args[1:]...)
		name := strings.Join(tt.args, " ")
		if res.code != tt.code {
			t.Errorf("%s: exit %d, want %d:\n%s", name, res.code, tt.code, res.stderr)
			continue
		}
		if !strings.Contains(res.stdout, tt.stdout) || !strings.Contains(res.stderr, tt.stderr) {
			t.Errorf("%s:\nstdout %q want %q\nstderr %q want %q", name, res.stdout, tt.stdout, res.stderr, tt.stderr)
		}
		if tt.code != 0 && res.stdout != "" || tt.code == 0 && res.stdout != "" && !json.Valid([]byte(res.stdout)) {
			t.Errorf("%s: stdout %q", name, res.stdout)
		}
	}
	a.Associate("development", id) // nothing
	for _, s := range []string{skillN(1), skillN(2)} {
		if res := a.products(t, "sync", "--max-deletes", "-1", "--report", filepath.Join(t.TempDir(), "r.csv"),
			writeFile(t, t.TempDir(), "d.csv", "skillId,productId,action\n"+s+","+id+",disassociate\n")); res.code != 0 {
			t.Fatalf("disassociate: exit %d\n%s", res.code, res.stderr)
		}
	}
	if res := a.products(t, "delete", id); res.code != 0 || res.stdout != "" {
		t.Errorf("delete: exit %d %q\n%s", res.code, res.stdout, res.stderr)
	}
}

// The README's "In-skill products" walkthrough, command by command, on one
// emulator state file.
func TestReadmeProductsWalkthrough(t *testing.T) {
	state := filepath.Join(t.TempDir(), "emulator.json")
	dir := t.TempDir()
	em := func(args ...string) result {
		t.Helper()
		args = append(args, "--emulate-state", state, "--log-format", "console") // as at a terminal
		return runCLI(t, nil, args...)
	}
	samples := filepath.Join("..", "..", "samples")
	manifest := filepath.Join(samples, "product-manifest.json")
	var ids []string
	for _, args := range [][]string{{"--file", manifest}, {"--file", manifest, "--reference-name", "spa-access"}} {
		res := em(append([]string{"products", "create", "--emulate"}, args...)...)
		var p struct {
			ProductID string `json:"productId"`
		}
		if res.code != 0 || json.Unmarshal([]byte(res.stdout), &p) != nil {
			t.Fatalf("products create: exit %d %q\n%s", res.code, res.stdout, res.stderr)
		}
		ids = append(ids, p.ProductID)
	}
	csv, err := os.ReadFile(filepath.Join(samples, "products.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if strings.Count(string(csv), id) != 3 {
			t.Errorf("samples/products.csv names %s %d times, want 3 (the product the walkthrough creates)", id, strings.Count(string(csv), id))
		}
	}
	res := em("products", "sync", "--emulate", "--report", filepath.Join(dir, "r.csv"), filepath.Join(samples, "products.csv"))
	if res.code != 0 || !strings.Contains(res.stderr, "6 rows: 6 created") {
		t.Fatalf("products sync: exit %d\n%s", res.code, res.stderr)
	}
	v2 := filepath.Join(samples, "products-v2.csv")
	res = em("products", "plan", "--emulate", "--max-deletes", "1", "--detailed-exitcode", "--report", filepath.Join(dir, "p.csv"), v2)
	if res.code != 5 || !strings.Contains(res.stderr, "2 to associate") || !strings.Contains(res.stderr, "1 to disassociate") {
		t.Fatalf("products plan: exit %d\n%s", res.code, res.stderr)
	}
	res = em("products", "sync", "--emulate", "--max-deletes", "1", "--report", filepath.Join(dir, "r.csv"), v2)
	if res.code != 0 || !strings.Contains(res.stderr, "8 rows: 2 created, 1 deleted, 5 unchanged") {
		t.Fatalf("products sync v2: exit %d\n%s", res.code, res.stderr)
	}
	res = em("products", "skills", "--emulate", ids[1])
	var skills struct {
		IDs []string `json:"associatedSkillIds"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &skills) != nil || len(skills.IDs) != 3 {
		t.Errorf("products skills: exit %d %q", res.code, res.stdout)
	}
}
