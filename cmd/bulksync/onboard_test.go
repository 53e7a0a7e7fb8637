package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

func TestOnboardCommands(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	cli := func(args ...string) result {
		t.Helper()
		full := append(args[:2:2], append([]string{"--endpoint", a.url, "--log-format", "json", "--max-backoff", "10ms"}, args[2:]...)...)
		return runCLI(t, []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, full...)
	}
	res := cli("provider", "create", "--logical-id", "grand-hotel", "--display-name", "Grand Hotel")
	if res.code != 0 {
		t.Fatalf("provider create: exit %d:\n%s", res.code, res.stderr)
	}
	var p struct {
		ID          string `json:"serviceProviderId"`
		LogicalID   string `json:"serviceProviderLogicalId"`
		DisplayName []struct{ Locale, Value string }
	}
	if err := json.Unmarshal([]byte(res.stdout), &p); err != nil || !strings.HasPrefix(p.ID, "amzn1.comms.csp.id.") || p.LogicalID != "grand-hotel" ||
		len(p.DisplayName) != 1 || p.DisplayName[0].Value != "Grand Hotel" || p.DisplayName[0].Locale != "en-US" {
		t.Fatalf("provider create printed %q (%v), want the provider as JSON and nothing else", res.stdout, err)
	}
	unknown := "amzn1.comms.csp.id.nobody"
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"provider", "create", "--logical-id", "grand-hotel"}, 1, "", "409 Conflict: CONFLICT"},
		{[]string{"provider", "get", p.ID}, 0, `"serviceProviderLogicalId": "grand-hotel"`, ""},
		{[]string{"provider", "get", unknown}, 1, "", "404 Not Found: NOT_FOUND"},
		{[]string{"provider", "update", p.ID, "--display-name", "Grand Hotel & Spa"}, 0, `"value": "Grand Hotel & Spa"`, ""},
		{[]string{"provider", "update", unknown, "--display-name", "x"}, 1, "", "404"},
		{[]string{"provider", "get", "hotel-1"}, 2, "", "is not an ACI"},
		{[]string{"provider", "get", "amzn1.comms.csp.id.a/../b"}, 2, "", "can't go into a URL path"},
		{[]string{"network", "get", p.ID}, 1, "", "404 Not Found: NOT_FOUND"},
		{[]string{"network", "create", p.ID, "--skill-id", "amzn1.ask.skill.1234"}, 0, `"status": "ACTIVE"`, ""},
		{[]string{"network", "create", p.ID, "--skill-id", "amzn1.ask.skill.1234"}, 1, "", "400 Bad Request: BAD_REQUEST"},
		{[]string{"network", "create", unknown, "--skill-id", "amzn1.ask.skill.1234"}, 1, "", "404"},
		{[]string{"network", "update", p.ID, "--skill-id", "amzn1.ask.skill.5678"}, 0, `"serviceProviderId": "` + p.ID + `"`, ""},
		{[]string{"network", "get", p.ID}, 0, `"skillId": "amzn1.ask.skill.5678"`, ""},
		{[]string{"network", "create", p.ID, "--skill-id", "skill-5678"}, 2, "", "is not a skill id"},
		{[]string{"network", "create", p.ID, "--skill-id", "amzn1." + strings.Repeat("x", 260)}, 2, "", "1 to 255 characters"},
		{[]string{"network", "delete", p.ID}, 0, "", ""},
		{[]string{"network", "delete", p.ID}, 1, "", "404"},
		{[]string{"provider", "delete", p.ID}, 0, "", ""},
		{[]string{"provider", "get", p.ID}, 1, "", "404"},
	}
	for _, tt := range tests {
		res := cli(tt.args...)
		name := strings.Join(tt.args, " ")
		if res.code != tt.code {
			t.Errorf("%s: exit %d, want %d:\n%s", name, res.code, tt.code, res.stderr)
			continue
		}
		if !strings.Contains(res.stdout, tt.stdout) || !strings.Contains(res.stderr, tt.stderr) {
			t.Errorf("%s:\nstdout %q want %q\nstderr %q want %q", name, res.stdout, tt.stdout, res.stderr, tt.stderr)
		}
		if tt.code != 0 && res.stdout != "" {
			t.Errorf("%s: a failure printed %q on stdout", name, res.stdout)
		}
		if tt.code == 0 && res.stdout != "" && !json.Valid([]byte(res.stdout)) {
			t.Errorf("%s: stdout is not JSON: %q", name, res.stdout)
		}
	}
	res = runCLI(t, []string{"BULKSYNC_ACCESS_TOKEN=wrong"}, "provider", "get", "--endpoint", a.url, sp)
	if res.code != 3 {
		t.Errorf("refused token: exit %d, want 3:\n%s", res.code, res.stderr)
	}
}

// The README's "Onboard a property" walkthrough, command by command, on
// one emulator state file.
func TestReadmeWalkthrough(t *testing.T) {
	state := filepath.Join(t.TempDir(), "emulator.json")
	dir := t.TempDir()
	em := func(args ...string) result {
		t.Helper()
		args = append(args, "--emulate-state", state, "--log-format", "console") // as at a terminal
		return runCLI(t, nil, args...)
	}
	res := em("provider", "create", "--emulate", "--logical-id", "grand-hotel", "--display-name", "Grand Hotel")
	var p struct {
		ID string `json:"serviceProviderId"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &p) != nil || p.ID == "" {
		t.Fatalf("provider create: exit %d %q\n%s", res.code, res.stdout, res.stderr)
	}
	if res := em("network", "create", "--emulate", p.ID, "--skill-id", "amzn1.ask.skill.1234"); res.code != 0 || !strings.Contains(res.stdout, "ACTIVE") {
		t.Fatalf("network create: exit %d %q\n%s", res.code, res.stdout, res.stderr)
	}
	rooms := filepath.Join("..", "..", "samples", "rooms.csv")
	res = em("sync", "--emulate", "--service-provider-id", p.ID, "--rps", "1000", "--report", filepath.Join(dir, "r.csv"), rooms)
	if res.code != 0 || !strings.Contains(res.stderr, "120 rows: 120 created") {
		t.Fatalf("sync: exit %d\n%s", res.code, res.stderr)
	}
	res = em("plan", "--emulate", "--service-provider-id", p.ID, "--detailed-exitcode", "--report", filepath.Join(dir, "p.csv"), rooms)
	if res.code != 0 || !strings.Contains(res.stderr, "plan: no changes") {
		t.Errorf("check: exit %d\n%s", res.code, res.stderr)
	}
	if res := em("network", "get", "--emulate", p.ID); res.code != 0 || !strings.Contains(res.stdout, "amzn1.ask.skill.1234") {
		t.Errorf("network get: exit %d %q", res.code, res.stdout)
	}
}
