package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
)

// The emulator command serves on the address given, says where on its first
// line, and saves its state when told to stop.
func TestEmulatorCommand(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- run(ctx, []string{"emulator", "--addr", "127.0.0.1:0", "--token", "dev-token", "--state", state, "--log-format", "json",
			"--rps", "0.001", "--burst", "1", "--no-retry-after"},
			nil, outW, &stderr)
		outW.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %v (stderr %s)", err, stderr.String())
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q, want listening on http://127.0.0.1:PORT", line)
	}
	req, _ := http.NewRequest("POST", url+"/v1/communications/serviceProviders/"+sp+"/externalUsers",
		strings.NewReader(`{"externalUserId":"7201","amazonId":"amzn1.a","amazonIdType":"communication-profile"}`))
	req.Header.Set("Authorization", "Bearer dev-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d, want 201", resp.StatusCode)
	}
	// A strict server limit (one call, then one per 1000 s) that sends no Retry-After.
	req, _ = http.NewRequest("POST", url+"/v1/communications/serviceProviders/"+sp+"/externalUsers/query", strings.NewReader(`{"filters":{}}`))
	req.Header.Set("Authorization", "Bearer dev-token")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "" {
		t.Errorf("second call: got %d Retry-After %q, want 429 with none", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	cancel() // as SIGTERM does
	if code := <-done; code != 0 {
		t.Fatalf("exit %d, want 0: %s", code, stderr.String())
	}
	b, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(b), `"externalUserId": "7201"`) {
		t.Errorf("state file after stop: %v\n%s", err, b)
	}
	if res := runCLI(t, nil, "emulator", "--faults", "teapot:1"); res.code != 2 || !strings.Contains(res.stderr, "teapot") {
		t.Errorf("bad --faults: exit %d: %s", res.code, res.stderr)
	}
	if res := runCLI(t, nil, "emulator", "--rps", "30", "--rps-schedule", "6s"); res.code != 2 || !strings.Contains(res.stderr, `"6s"`) {
		t.Errorf("bad --rps-schedule: exit %d: %s", res.code, res.stderr)
	}
}

// The hostile readings a person can play: each flag reaches the emulator.
func TestEmulatorPlaysHostileReadings(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"emulator", "--addr", "127.0.0.1:0", "--token", "dev-token", "--echo-secrets", "--query-amazon-id-type", "omit",
			"--isp-blank-id", "empty", "--endless-pages", "same", "--seed-products", "1"}, nil, outW, io.Discard)
		outW.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := strings.TrimPrefix(strings.TrimSpace(line), "listening on ")
	call := func(method, path, body string) string {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer dev-token")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	users := "/v1/communications/serviceProviders/" + sp + "/externalUsers"
	call("POST", users, `{"externalUserId":"7201","amazonId":"amzn1.a","amazonIdType":"communication-profile"}`)
	for what, tc := range map[string]struct{ got, want string }{
		"--echo-secrets":         {call("GET", "/v1/communications/serviceProviders/amzn1.comms.csp.id.nobody", ""), "Bearer dev-token"},
		"--query-amazon-id-type": {call("POST", users+"/query", `{"filters":{}}`), `"externalUserId":"7201","amazonId":"amzn1.a"}`},
		"--endless-pages":        {call("POST", users+"/query", `{"filters":{}}`), `"nextPageToken"`},
		"--isp-blank-id":         {call("GET", "/v1/inSkillProducts?vendorId="+emulator.DefaultVendor, ""), `"productId":""`},
	} {
		if !strings.Contains(tc.got, tc.want) {
			t.Errorf("%s: answer %s, want %s in it", what, tc.got, tc.want)
		}
	}
	cancel()
	<-done
	// Told to stop before it starts: an emulator that took the bad value
	// would serve nothing and exit 0, not 2.
	stopped, stop := context.WithCancel(context.Background())
	stop()
	for _, bad := range [][]string{{"--isp-blank-id", "blank"}, {"--endless-pages", "forever"}} {
		if code := run(stopped, append([]string{"emulator", "--addr", "127.0.0.1:0"}, bad...), nil, io.Discard, io.Discard); code != 2 {
			t.Errorf("emulator %v: exit %d, want 2", bad, code)
		}
	}
}
