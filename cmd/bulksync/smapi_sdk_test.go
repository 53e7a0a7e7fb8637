package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
)

// sdkDir holds the vendor's SMAPI SDK (ask-smapi-sdk, ask-smapi-model),
// installed from its package-lock.json by .ci/run (npm ci).
var sdkDir = filepath.Join("..", "..", "test", "smapi-sdk")

// judge runs test/smapi-sdk/judge.js: the SDK against the emulator, every
// answer checked against the SDK's model. It skips when the SDK is not
// installed, except in CI (BULKSYNC_CI=1), where that is a failure.
func judge(t *testing.T, url string, args ...string) []byte {
	t.Helper()
	node, err := exec.LookPath("node")
	_, serr := os.Stat(filepath.Join(sdkDir, "node_modules", "ask-smapi-sdk"))
	switch {
	case (err != nil || serr != nil) && os.Getenv("BULKSYNC_CI") == "1":
		t.Fatalf("the SMAPI SDK is not installed (node: %v; %v): .ci/run installs it with npm ci in %s", err, serr, sdkDir)
	case err != nil || serr != nil:
		t.Skipf("the SMAPI SDK is not installed: run (cd %s && npm ci)", sdkDir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"judge.js", args[0], url}, args[1:]...)...)
	cmd.Dir = sdkDir
	cmd.Env = append(os.Environ(), "LWA_CLIENT_ID="+emulator.DefaultClientID, "LWA_CLIENT_SECRET="+emulator.DefaultClientSecret,
		"LWA_REFRESH_TOKEN="+emulator.DefaultRefreshToken)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("node judge.js %s: %v\n%s", args[0], err, errb.String())
	}
	return out.Bytes()
}

// The vendor's SDK judges the emulator's in-skill product routes, then
// bulksync's products sync runs against the same emulator and the SDK reads
// the result.
func TestSMAPISDK(t *testing.T) {
	// Small pages, so that the SDK follows nextToken; tokens only from the
	// token endpoint the SDK calls (/auth/O2/token).
	a := startAPI(t, emulator.Options{ISPPageSize: 2, StaticToken: "-unused-" + testToken})
	var driven struct {
		Products []string `json:"products"`
		Skills   []string `json:"skills"`
	}
	if err := json.Unmarshal(judge(t, a.url, "drive"), &driven); err != nil || len(driven.Products) != 2 || len(driven.Skills) != 2 {
		t.Fatalf("drive: %+v, %v", driven, err)
	}
	if n := a.Stats().Count("token", "200"); n < 1 {
		t.Errorf("the SDK fetched no token from /auth/O2/token")
	}
	gold, silver := driven.Products[0], driven.Products[1]
	// Now: skill 0 has gold and silver, skill 1 only gold. The files want
	// skill 0 with gold only, skill 1 with both, and a third skill with
	// silver.
	skill3 := "amzn1.ask.skill.5d000003-0000-4000-8000-000000000003"
	var b strings.Builder
	b.WriteString("skillId,productId,action\n")
	fmt.Fprintf(&b, "%s,%s,\n%s,%s,disassociate\n", driven.Skills[0], gold, driven.Skills[0], silver)
	fmt.Fprintf(&b, "%s,%s,\n%s,%s,\n", driven.Skills[1], gold, driven.Skills[1], silver)
	fmt.Fprintf(&b, "%s,%s,\n", skill3, silver)
	in := writeFile(t, t.TempDir(), "products.csv", b.String())
	env := []string{"BULKSYNC_LWA_CLIENT_ID=" + emulator.DefaultClientID, "BULKSYNC_LWA_CLIENT_SECRET=" + emulator.DefaultClientSecret,
		"BULKSYNC_LWA_REFRESH_TOKEN=" + emulator.DefaultRefreshToken}
	res := runCLI(t, env, "products", "sync", "--endpoint", a.url, "--token-url", a.url+"/auth/o2/token", "--max-deletes", "-1",
		"--log-format", "json", "--report", filepath.Join(t.TempDir(), "r.csv"), in)
	if res.code != 0 || !strings.Contains(res.stderr, `"rows":5,"outcomes":{"created":2,"deleted":1,"unchanged":2}`) {
		t.Fatalf("products sync: exit %d\n%s", res.code, res.stderr)
	}
	var seen map[string][]string
	if err := json.Unmarshal(judge(t, a.url, "check", driven.Skills[0], driven.Skills[1], skill3), &seen); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		driven.Skills[0]: {gold},
		driven.Skills[1]: sorted(gold, silver),
		skill3:           {silver},
	}
	for s, w := range want {
		if !slices.Equal(seen[s], w) {
			t.Errorf("the SDK reads %s with %v, want %v", s, seen[s], w)
		}
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }
