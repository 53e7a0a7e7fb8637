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
