package job

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/reconcile"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/storage"
)

const (
	s1 = "amzn1.ask.skill.1"
	s2 = "amzn1.ask.skill.2"
	p1 = "amzn1.adg.product.1"
	p2 = "amzn1.adg.product.2"
)

func TestReadProducts(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	b := filepath.Join(dir, "b.csv")
	os.WriteFile(a, []byte("skill;inSkillProductId;action\n"+
		s1+";"+p1+";\n"+ // 2: valid
		s1+";"+p1+";Associate\n"+ // 3: duplicate of 2
		s1+";"+p2+";disassociate\n"+ // 4: conflicts with b:3
		s2+";"+p1+";remove\n"+ // 5: bad action
		"skill-2;"+p1+";\n"+ // 6: bad skill id
		s2+";"+s1+";\n"+ // 7: columns swapped
		s2+";amzn1.adg.product.a/b;\n"), 0o644) // 8: not one path segment
	os.WriteFile(b, []byte("skillId,productId\n"+s2+","+p2+"\n"+s1+","+p2+"\n"), 0o644)
	rows, _, _, err := readProducts(context.Background(), storage.New(storage.Options{}), Input{Files: []string{a, b}}, IO{Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		verdict := r.Verdict.String()
		if r.Verdict == reconcile.Valid {
			verdict = "valid"
		}
		got = append(got, fmt.Sprintf("%s:%d %s del=%v %s", filepath.Base(r.Src.File), r.Src.Line, verdict, r.Delete, r.Reason))
	}
	conflict := "skill " + s1 + " and product " + p2 + " are given conflicting actions at " + a + ":4 and " + b + ":3"
	want := []string{
		"a.csv:2 valid del=false ",
		"a.csv:3 duplicate del=false same as " + a + ":2",
		"a.csv:4 invalid del=true " + conflict,
		`a.csv:5 invalid del=false action "remove" is not associate or disassociate`,
		`a.csv:6 invalid del=false skillId "skill-2" does not start with amzn1.ask.skill.`,
		`a.csv:7 invalid del=false productId "amzn1.ask.skill.1" does not start with amzn1.adg.product.`,
		`a.csv:8 invalid del=false productId "amzn1.adg.product.a/b" contains '/', which can't go into a URL path`,
		"b.csv:2 valid del=false ",
		"b.csv:3 invalid del=false " + conflict,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, _, _, err := readProducts(context.Background(), storage.New(storage.Options{}), Input{Files: []string{filepath.Join(dir, "none.csv")}}, IO{Log: testLog()}); VerdictOf(err) != Usage {
		t.Errorf("a missing file: %v, want a usage error", err)
	}
}

func TestProductRecord(t *testing.T) {
	sp := products(&Session{}, Options{Stage: "development", IO: IO{Log: testLog()}})
	if h := report.Header[productReport](); strings.Join(h, ",") != "file,line,skill_id,product_id,stage,action,outcome,http_status,error_type,error_message,attempts,duration_ms" {
		t.Errorf("header: %v", h)
	}
	row := reconcile.Row[reconcile.Associated]{Src: reconcile.Source{File: "p.csv", Line: 4}, Key: reconcile.Key{Group: s1, ID: p1}}
	got := cells(t, sp.row(reconcile.Fate[reconcile.Associated]{Row: row, Action: reconcile.ActCreate, Outcome: reconcile.Created, Status: 204, Attempts: 1}))
	if got != "p.csv|4|"+s1+"|"+p1+"|development|create|created|204|||1|0" {
		t.Errorf("record: %v", got)
	}
	for _, tt := range []struct {
		w    reconcile.Write[reconcile.Associated]
		want string
	}{
		{reconcile.Write[reconcile.Associated]{Key: reconcile.Key{Group: s1, ID: p1}, Action: reconcile.ActCreate}, ""},
		{reconcile.Write[reconcile.Associated]{Key: reconcile.Key{Group: s1, ID: p1}, Action: reconcile.ActUpdate}, "nothing to update"},
		{reconcile.Write[reconcile.Associated]{Key: reconcile.Key{Group: "x", ID: p1}, Action: reconcile.ActDelete}, "does not start with"},
	} {
		if got := sp.check(tt.w); tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("check %+v: %q, want %q", tt.w, got, tt.want)
		}
	}
}

func TestRunProductsStage(t *testing.T) {
	for _, tt := range []struct {
		stage  string
		dryRun bool
		want   string
	}{
		{"live", false, "written to the development stage"},
		{"beta", true, `stage "beta"`},
	} {
		res, err := Run(context.Background(), &Session{}, Options{Products: true, DryRun: tt.dryRun, Stage: tt.stage})
		if res.Verdict != Usage || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("stage %s dry %v: %v %v, want a usage error saying %q", tt.stage, tt.dryRun, res.Verdict, err, tt.want)
		}
	}
}
