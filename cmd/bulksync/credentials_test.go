package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
)

const (
	lwaClientID     = "amzn1.application-oa2-client.e2e-client-id-0001"
	lwaClientSecret = "e2e-client-secret-VALUE-9f8e7d6c5b4a"
	lwaRefreshToken = "Atzr|e2e-refresh-token-VALUE-0123456789"
)

func lwaEnv(a *api) []string {
	return []string{
		"BULKSYNC_LWA_CLIENT_ID=" + lwaClientID,
		"BULKSYNC_LWA_CLIENT_SECRET=" + lwaClientSecret,
		"BULKSYNC_LWA_REFRESH_TOKEN=" + lwaRefreshToken,
		"BULKSYNC_TOKEN_URL=" + a.url + "/auth/o2/token",
	}
}

func lwaAPI(t *testing.T, o emulator.Options) *api {
	o.ClientID, o.ClientSecret, o.RefreshToken = lwaClientID, lwaClientSecret, lwaRefreshToken
	o.StaticToken = "-unused-static-token-" // the runs below must get theirs from the grant
	return startAPI(t, o)
}

// runLWA runs a command with LWA credentials and no static token.
func (a *api) runLWA(t *testing.T, extraEnv []string, command string, args ...string) result {
	t.Helper()
	full := append([]string{command, "--endpoint", a.url, "--service-provider-id", sp, "--max-backoff", "20ms",
		"--log-format", "json"}, args...)
	return runCLI(t, append(lwaEnv(a), extraEnv...), full...)
}

// A token that expires mid-run, and tokens revoked mid-run, are replaced
// without a failed row; LWA's rotated refresh token is the one used next.
func TestTokenExpiryAndRevocationMidRun(t *testing.T) {
	h := newHotel(150)
	hook, reached := writesReached(30)
	// Tokens live 11 s: oauth2 renews 10 s before expiry, so each is used
	// for about a second before it is refreshed.
	a := lwaAPI(t, emulator.Options{TokenTTL: 11 * time.Second, RotateRefreshTokens: true, OnAnswer: hook})
	a.seed(t, h.existing)
	go func() {
		<-reached
		a.RevokeTokens() // the next calls get 401 with a token that looks valid
	}()
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", h.csv)
	rep := filepath.Join(dir, "report.csv")
	res := a.runLWA(t, nil, "sync", "--rps", "60", "--max-deletes", "-1", "--report", rep, in)
	if res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	for _, r := range readReport(t, rep) {
		if r["outcome"] == "failed" || r["outcome"] == "skipped" {
			t.Errorf("row %v", r)
		}
	}
	sameState(t, a.Associations(sp), h.desired)
	st := a.Stats()
	if n := st.Count("token", "200"); n < 3 {
		t.Errorf("token grants: got %d, want at least 3 (start, expiry, revocation)", n)
	}
	if n := st.Count("token", "400"); n != 0 {
		t.Errorf("%d refused grants: the rotated refresh token was not used", n)
	}
	if st.Count("association.query", "401")+st.Count("association.create", "401")+st.Count("association.update", "401") == 0 {
		t.Errorf("no 401 seen: the revocation did not happen mid-run")
	}
}

func TestRefusedGrant(t *testing.T) {
	a := lwaAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	res := a.runLWA(t, []string{"BULKSYNC_LWA_REFRESH_TOKEN=Atzr|revoked-SECRET-refresh"}, "sync", "--report", filepath.Join(dir, "r.csv"), in)
	if res.code != 3 || !strings.Contains(res.stderr, "invalid_grant") {
		t.Errorf("got exit %d, want 3 naming invalid_grant:\n%s", res.code, res.stderr)
	}
	if strings.Contains(res.stderr, "revoked-SECRET-refresh") || strings.Contains(res.stderr, lwaClientSecret) {
		t.Errorf("a secret was printed:\n%s", res.stderr)
	}
	if n := writes(a.Stats()); n != 0 {
		t.Errorf("%d writes without a token", n)
	}
}

func TestCredentialFiles(t *testing.T) {
	a := lwaAPI(t, emulator.Options{})
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n")
	env := []string{
		"BULKSYNC_LWA_CLIENT_ID_FILE=" + writeFile(t, dir, "id", lwaClientID+"\n"),
		"BULKSYNC_LWA_CLIENT_SECRET_FILE=" + writeFile(t, dir, "secret", lwaClientSecret+"\n"),
		"BULKSYNC_LWA_REFRESH_TOKEN_FILE=" + writeFile(t, dir, "refresh", lwaRefreshToken),
		"BULKSYNC_TOKEN_URL=" + a.url + "/auth/o2/token",
	}
	res := runCLI(t, env, "sync", "--endpoint", a.url, "--service-provider-id", sp, "--report", filepath.Join(dir, "r.csv"), in)
	if res.code != 0 || a.Associations(sp)["7201"] != "amzn1.a" {
		t.Fatalf("with _FILE credentials: exit %d:\n%s", res.code, res.stderr)
	}
	missing := []string{"BULKSYNC_LWA_CLIENT_ID=x", "BULKSYNC_LWA_CLIENT_SECRET_FILE=" + filepath.Join(dir, "nope")}
	res = runCLI(t, missing, "sync", "--endpoint", a.url, "--service-provider-id", sp, in)
	if res.code != 2 || !strings.Contains(res.stderr, "BULKSYNC_LWA_CLIENT_SECRET_FILE: can't read") {
		t.Errorf("unreadable secret file: exit %d:\n%s", res.code, res.stderr)
	}
	res = runCLI(t, []string{"BULKSYNC_LWA_CLIENT_ID=x"}, "sync", "--endpoint", a.url, "--service-provider-id", sp, in)
	if res.code != 2 || !strings.Contains(res.stderr, "BULKSYNC_LWA_CLIENT_SECRET, BULKSYNC_LWA_REFRESH_TOKEN not set") {
		t.Errorf("incomplete credentials: exit %d:\n%s", res.code, res.stderr)
	}
}

// Run end to end at debug level with known secrets, through a refresh, a
// 401 and a refused grant, and search every byte written for them.
func TestSecretsNeverPrinted(t *testing.T) {
	secrets := []string{lwaClientSecret, lwaRefreshToken, "Atza|emu.", "Atzr|emu.", testToken}
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", newHotel(40).csv)
	var outputs []string
	check := func(name string, res result, files ...string) {
		outputs = append(outputs, name+" stdout: "+res.stdout, name+" stderr: "+res.stderr)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			outputs = append(outputs, name+" "+filepath.Base(f)+": "+string(b))
		}
	}

	hook, reached := writesReached(10)
	a := lwaAPI(t, emulator.Options{TokenTTL: 11 * time.Second, RotateRefreshTokens: true, OnAnswer: hook, Faults: "500:0.05", Seed: 9})
	go func() { <-reached; a.RevokeTokens() }()
	rep, sum := filepath.Join(dir, "report.csv"), filepath.Join(dir, "summary.json")
	res := a.runLWA(t, nil, "sync", "--log-level", "debug", "--rps", "100", "--max-deletes", "-1", "--report", rep, "--summary", sum, in)
	if res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, `"level":"debug"`) {
		t.Fatalf("no debug lines: the search below would prove little")
	}
	check("sync", res, rep, sum)

	res = a.runLWA(t, []string{"BULKSYNC_LWA_CLIENT_SECRET=" + lwaClientSecret + "-wrong"}, "plan", "--log-level", "debug", "--report", rep, in)
	if res.code != 3 {
		t.Errorf("refused client: exit %d, want 3", res.code)
	}
	check("refused", res, rep)

	b := startAPI(t, emulator.Options{})
	res = runCLI(t, []string{"BULKSYNC_ACCESS_TOKEN=" + testToken + "-stale"}, "sync", "--endpoint", b.url, "--service-provider-id", sp,
		"--log-level", "debug", "--report", rep, in)
	if res.code != 3 {
		t.Errorf("stale static token: exit %d, want 3", res.code)
	}
	check("401", res, rep)

	res = runCLI(t, nil, "sync", "--help")
	check("help", res)

	for _, out := range outputs {
		for _, s := range secrets {
			if i := strings.Index(out, s); i >= 0 {
				name, _, _ := strings.Cut(out, ":")
				t.Errorf("%s contains the secret %q", name, s)
			}
		}
	}
}
