package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

// runStdin is runCLI with standard input, a stream that can be read once
// (as a pipe).
func runStdin(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := runWith(context.Background(), args, &globals{env: parseEnv(env), stdin: io.MultiReader(strings.NewReader(stdin)), stdout: &out, stderr: &errb})
	return result{code, out.String(), errb.String()}
}

// The sample of a messy PMS export (BOM, ;, CRLF, both Room and Extension,
// a Latin-1 notes column, trailing blank rows) reads clean once the column
// is chosen, and is refused with the way out named when it is not.
func TestMessyExportSample(t *testing.T) {
	const sample = "../../samples/messy-export.csv"
	res := runCLI(t, nil, "validate", "--log-format", "console", "--service-provider-id", sp, "--column", "externalUserId=Extension", sample)
	if res.code != 0 || res.stdout != "" || !strings.Contains(res.stderr, "8 rows: 8 valid, 0 duplicate, 0 invalid; 3 blank rows skipped") {
		t.Errorf("with --column: exit %d\nstdout %q\nstderr %s", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, nil, "validate", "--log-format", "console", "--service-provider-id", sp, sample)
	if res.code != 2 || !strings.Contains(res.stderr, `messy-export.csv:1: columns "Room" and "Extension" both mean externalUserId`) ||
		!strings.Contains(res.stderr, "--column FIELD=HEADER") {
		t.Errorf("without --column: exit %d\n%s", res.code, res.stderr)
	}
	res = runCLI(t, []string{"BULKSYNC_COLUMN=externalUserId=Room"}, "validate", "--service-provider-id", sp, sample)
	if res.code != 0 {
		t.Errorf("--column from the environment: exit %d\n%s", res.code, res.stderr)
	}
	res = runCLI(t, nil, "validate", "--log-format", "console", "--column", "room=Room", sample)
	if res.code != 2 || !strings.Contains(res.stderr, "room is not a field of this input") || !strings.Contains(res.stderr, "--column takes FIELD=HEADER") {
		t.Errorf("an unknown field: exit %d\n%s", res.code, res.stderr)
	}
	for _, cmd := range []string{"validate", "sync", "plan"} {
		if h := runCLI(t, nil, cmd, "--help"); !strings.Contains(h.stdout, "--column=FIELD=HEADER") {
			t.Errorf("%s --help lacks --column:\n%s", cmd, h.stdout)
		}
	}
}

// Blank rows left by a spreadsheet are skipped, not invalid: the nightly
// run exits 0.
func TestBlankRowsExitClean(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n,\n , \n,\n")
	rep := filepath.Join(dir, "report.csv")
	res := a.sync(t, nil, "--report", rep, in)
	if res.code != 0 || !strings.Contains(res.stderr, `"rows":1,"blank_rows":3,"outcomes":{"created":1}`) {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if rows := readReport(t, rep); len(rows) != 1 {
		t.Errorf("report: %d rows, want 1: %v", len(rows), rows)
	}
}

// "-" reads the export from standard input, reported as stdin:LINE; sync
// reads it twice through a temporary copy.
func TestStdin(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	a.seed(t, map[string]string{"7202": "amzn1.old"})
	dir := t.TempDir()
	rep := filepath.Join(dir, "report.csv")
	in := "externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n7203,\n7201,amzn1.a\n"
	args := []string{"sync", "--endpoint", a.url, "--service-provider-id", sp, "--rps", "2000", "--log-format", "json", "--report", rep, "-"}
	env := []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}
	res := runStdin(t, in, env, args...)
	if res.code != 7 {
		t.Fatalf("exit %d, want 7 (an invalid row): %s", res.code, res.stderr)
	}
	if got := a.Associations(sp); fmt.Sprint(got) != "map[7201:amzn1.a 7202:amzn1.b]" {
		t.Errorf("state: %v", got)
	}
	var got []string
	for _, r := range readReport(t, rep) {
		got = append(got, r["file"]+":"+r["line"]+" "+r["outcome"])
	}
	if want := "[stdin:2 created stdin:3 updated stdin:4 invalid stdin:5 duplicate]"; fmt.Sprint(slices.Sorted(slices.Values(got))) != want {
		t.Errorf("report: got %v, want %s", got, want)
	}
	res = runStdin(t, in, nil, "validate", "--service-provider-id", sp, "-")
	if res.code != 7 || res.stdout != "stdin:4: amazonId is required for action upsert\nstdin:5: duplicate, same as stdin:2 (not sent twice)\n" {
		t.Errorf("validate -: exit %d, stdout %q", res.code, res.stdout)
	}
	res = runStdin(t, in, nil, "validate", "--service-provider-id", sp, "-", "-")
	if res.code != 2 || !strings.Contains(res.stderr, "standard input (-) is named twice") {
		t.Errorf("- twice: exit %d: %s", res.code, res.stderr)
	}
}

// A previous report matched by *.csv is refused, saying what it is, not
// read as 200 invalid rows.
func TestReportIsNotInput(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	rep := filepath.Join(dir, "bulksync-report.csv")
	if res := a.sync(t, nil, "--report", rep, in); res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	a.ResetStats()
	res := a.sync(t, nil, "--report", filepath.Join(dir, "second.csv"), in, rep)
	if res.code != 2 || !strings.Contains(res.stderr, rep+":1: this is a bulksync report, not an export") {
		t.Errorf("exit %d: %s", res.code, res.stderr)
	}
	if n := a.Stats().Total; n != 0 {
		t.Errorf("a refused input made %d calls", n)
	}
}
