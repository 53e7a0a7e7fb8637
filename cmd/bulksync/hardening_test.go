package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
)

// A server that redirects creates elsewhere: the rows fail with the
// redirect said, the credentials never reach the other host, and nothing
// passes for created.
func TestRedirectedWritesFail(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	var stolen atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			stolen.Add(1)
		}
		w.WriteHeader(200) // a GET answered 200 would have passed for a create
	}))
	defer thief.Close()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/externalUsers") {
			http.Redirect(w, r, thief.URL+r.URL.Path, http.StatusFound)
			return
		}
		a.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n")
	rep := filepath.Join(dir, "report.csv")
	res := runCLI(t, []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, "sync", "--endpoint", proxy.URL, "--service-provider-id", sp,
		"--log-format", "json", "--report", rep, in)
	if res.code != 7 { // a redirect is refused: no rerun fixes it
		t.Fatalf("exit %d, want 7:\n%s", res.code, res.stderr)
	}
	for _, r := range readReport(t, rep) {
		if r["outcome"] != "failed" || r["http_status"] != "302" || r["error_type"] != "REDIRECT" || !strings.Contains(r["error_message"], thief.URL) {
			t.Errorf("row %v: want failed with the redirect named", r)
		}
	}
	if stolen.Load() != 0 || len(a.Associations(sp)) != 0 {
		t.Errorf("%d requests carried the token to the redirect's target; %d associations exist", stolen.Load(), len(a.Associations(sp)))
	}
}

// The percentage guard holds under both readings of a filtered query's
// totalCount: deleting 1 room of 400 is well within 10%.
func TestGuardUnderBothTotalCountReadings(t *testing.T) {
	for _, reading := range []string{"provider", "matches"} {
		a := startAPI(t, emulator.Options{TotalCount: reading})
		existing := map[string]string{}
		for i := 0; i < 400; i++ {
			existing[fmt.Sprint(10000+i)] = "amzn1.x"
		}
		a.seed(t, existing)
		dir := t.TempDir()
		in := writeFile(t, dir, "rooms.csv", "externalUserId,action\n10007,delete\n")
		if res := a.sync(t, nil, "--report", filepath.Join(dir, "r.csv"), in); res.code != 0 {
			t.Errorf("reading %s: exit %d, want 0:\n%s", reading, res.code, res.stderr)
		}
		seeded := map[string]string{}
		for i := 0; i < 20; i++ {
			seeded[fmt.Sprint(9000+i)] = "amzn1.x"
		}
		b := startAPI(t, emulator.Options{TotalCount: reading})
		b.seed(t, seeded)
		in = writeFile(t, dir, "three.csv", "externalUserId,action\n9000,delete\n9001,delete\n9002,delete\n")
		if res := b.sync(t, nil, "--report", filepath.Join(dir, "r.csv"), in); res.code != 3 ||
			!strings.Contains(res.stderr, "deletes 3 of the 20 associations") {
			t.Errorf("reading %s: 3 of 20: exit %d, want 3:\n%s", reading, res.code, res.stderr)
		}
	}
}

// A token endpoint that is down or throttling for a while is retried like
// any call: the run ends as if it had answered at once.
func TestTokenEndpointFailuresAreRetried(t *testing.T) {
	h := newHotel(40)
	a := lwaAPI(t, emulator.Options{})
	a.seed(t, h.existing)
	var grants atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/auth/") {
			switch grants.Add(1) {
			case 1:
				w.WriteHeader(503)
				return
			case 2:
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(429)
				return
			}
		}
		a.ServeHTTP(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", h.csv)
	env := append(lwaEnv(a), "BULKSYNC_TOKEN_URL="+srv.URL+"/auth/o2/token")
	res := runCLI(t, env, "sync", "--endpoint", srv.URL, "--service-provider-id", sp, "--rps", "1000", "--max-backoff", "20ms", "--max-deletes", "-1",
		"--log-format", "json", "--report", filepath.Join(dir, "r.csv"), in)
	if res.code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", res.code, res.stderr)
	}
	sameState(t, a.Associations(sp), h.desired)
	if n := grants.Load(); n != 3 {
		t.Errorf("token requests: got %d, want 3 (503, 429, then the grant)", n)
	}
}

// A hanging token endpoint does not hold the run past its end: once told
// to stop, no call waits for it and no new token request is made.
func TestHangingTokenEndpointDoesNotHoldTheRun(t *testing.T) {
	a := lwaAPI(t, emulator.Options{})
	arrived := make(chan struct{}, 100)
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/auth/") {
			_, _ = io.Copy(io.Discard, r.Body) // so that a client hanging up ends r.Context()
			arrived <- struct{}{}
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		a.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(hang) // before Close, which waits for handlers
	dir := t.TempDir()
	in := writeFile(t, dir, "rooms.csv", newHotel(20).csv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		env := append(lwaEnv(a), "BULKSYNC_TOKEN_URL="+srv.URL+"/auth/o2/token")
		done <- runCtx(ctx, env, "sync", "--endpoint", srv.URL, "--service-provider-id", sp, "--request-timeout", "1h",
			"--log-format", "json", "--report", filepath.Join(dir, "r.csv"), in)
	}()
	<-arrived
	cancel()
	select {
	case res := <-done:
		if res.code != 4 {
			t.Errorf("exit %d, want 4:\n%s", res.code, res.stderr)
		}
	case <-time.After(time.Minute):
		t.Fatal("the run is still waiting for the token endpoint a minute after it was told to stop")
	}
	if n := len(arrived); n != 0 {
		t.Errorf("%d token requests after the run was told to stop", n)
	}
}

func runCtx(ctx context.Context, env []string, args ...string) result {
	var out, errb strings.Builder
	code := run(ctx, args, env, &out, &errb)
	return result{code, out.String(), errb.String()}
}
