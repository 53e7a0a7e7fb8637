package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// emulatorClock is the emulator's clock, moved by the test: tokens expire
// when the test says, not when the wall clock does.
type emulatorClock struct{ offset atomic.Int64 }

func (c *emulatorClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// jump moves the clock past every token issued so far.
func (c *emulatorClock) jump() { c.offset.Add(int64(2 * time.Hour)) }

// atWrites returns an emulator hook that runs each event when the write
// of its number has been answered.
func atWrites(events map[int64]func()) func(op, status string) {
	var n atomic.Int64
	return func(op, status string) {
		if op == "association.create" || op == "association.update" || op == "association.delete" {
			if f := events[n.Add(1)]; f != nil {
				f()
			}
		}
	}
}

func (a *api) unauthorized() int {
	st := a.Stats()
	return st.Count("association.query", "401") + st.Count("association.create", "401") +
		st.Count("association.update", "401") + st.Count("association.delete", "401")
}

// syncHotelLWA syncs a hotel of 150 rooms with LWA credentials, calls in
// flight at once, and checks that every row reached its desired state.
func syncHotelLWA(t *testing.T, a *api, inFlight string) {
	t.Helper()
	h := newHotel(150)
	a.seed(t, h.existing)
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", h.csv)
	rep := filepath.Join(dir, "report.csv")
	res := a.runLWA(t, nil, "sync", "--rps", "2000", "--concurrency", inFlight, "--max-deletes", "-1", "--report", rep, in)
	if res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	for _, r := range readReport(t, rep) {
		if r["outcome"] == "failed" || r["outcome"] == "skipped" {
			t.Errorf("row %v", r)
		}
	}
	sameState(t, a.Associations(sp), h.desired)
}

// Tokens that expire mid-run, with eight calls in flight: every call that
// gets a 401 for the stale token retries with one fresh token, fetched
// once, and no row fails.
func TestTokenExpiryMidRun(t *testing.T) {
	var clock emulatorClock
	a := lwaAPI(t, emulator.Options{TokenTTL: time.Hour, Now: clock.now, OnAnswer: atWrites(map[int64]func(){30: clock.jump})})
	syncHotelLWA(t, a, "8")
	if n := a.Stats().Count("token", "200"); n != 2 {
		t.Errorf("token grants: got %d, want 2 (at the start, and one for every call the expiry refused)", n)
	}
	if a.unauthorized() == 0 {
		t.Errorf("no 401 seen: the expiry did not happen mid-run")
	}
}

// A token that expires and, later, tokens revoked: each is replaced, with
// the refresh token Login with Amazon rotated each time. One call at a time,
// so the two events never overlap: a revocation that lands on a call still
// retrying the expiry is a second 401, which stops a run by design.
func TestTokenExpiryAndRevocationMidRun(t *testing.T) {
	var clock emulatorClock
	var a *api
	a = lwaAPI(t, emulator.Options{TokenTTL: time.Hour, Now: clock.now, RotateRefreshTokens: true,
		OnAnswer: atWrites(map[int64]func(){30: clock.jump, 60: func() { a.RevokeTokens() }})})
	syncHotelLWA(t, a, "1")
	st := a.Stats()
	if n := st.Count("token", "200"); n != 3 {
		t.Errorf("token grants: got %d, want 3 (start, expiry, revocation)", n)
	}
	if n := st.Count("token", "400"); n != 0 {
		t.Errorf("%d refused grants: the rotated refresh token was not used", n)
	}
	if n := a.unauthorized(); n != 2 {
		t.Errorf("401s: got %d, want 2 (one for the expiry, one for the revocation)", n)
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

	var clock emulatorClock
	var a *api
	a = lwaAPI(t, emulator.Options{TokenTTL: time.Hour, Now: clock.now, RotateRefreshTokens: true,
		OnAnswer: atWrites(map[int64]func(){10: clock.jump, 30: func() { a.RevokeTokens() }}), Faults: "500:0.05", Seed: 9})
	rep, sum := filepath.Join(dir, "report.csv"), filepath.Join(dir, "summary.json")
	res := a.runLWA(t, nil, "sync", "--log-level", "debug", "--rps", "1000", "--concurrency", "1", "--max-deletes", "-1", "--report", rep, "--summary", sum, in)
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
