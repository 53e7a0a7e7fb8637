package main

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/secret"
)

// A server that repeats what it was sent (the token form in an OAuth
// error, the Authorization header in an API error, a Pushgateway's Basic
// header) gets no secret bulksync holds into stderr, stdout, the report or
// the summary, in either log format.
func TestEchoedSecretsStayOut(t *testing.T) {
	const pushPassword = "pushgateway-password-0042"
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "refused: Authorization: "+r.Header.Get("Authorization"), http.StatusBadRequest)
	}))
	defer gateway.Close()
	pushURL := strings.Replace(gateway.URL, "://", "://bulksync:"+pushPassword+"@", 1)
	secrets := []string{lwaClientSecret, lwaRefreshToken, testToken, pushPassword, "Atza|emu.", "Atzr|emu."}
	for _, s := range secrets[:4] {
		secrets = append(secrets, url.QueryEscape(s))
	}
	secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte("bulksync:"+pushPassword))) // as Basic sends it
	dir := t.TempDir()
	rooms := writeFile(t, dir, "rooms.csv", "externalUserId,amazonId\n7201,amzn1.a\n7202,amzn1.b\n")
	pasted := writeFile(t, dir, "pasted.csv", "externalUserId,amazonId\n7201,amzn1.a\n"+testToken+",amzn1.b\n")
	const nobody = "amzn1.comms.csp.id.nobody" // the API answers 404, echoing the Authorization header
	for _, format := range []string{"json", "console"} {
		for _, tc := range []struct {
			name string
			lwa  bool
			env  []string
			args []string
			in   string
			code int
		}{
			{"a refused client secret", true, []string{"BULKSYNC_LWA_CLIENT_SECRET=" + lwaClientSecret + "-wrong"}, nil, rooms, 3},
			{"an issued token", true, nil, []string{"--service-provider-id", nobody}, rooms, 7},
			{"a static token", false, nil, []string{"--service-provider-id", nobody}, rooms, 7},
			{"a static token pasted into the input", false, nil, nil, pasted, 0},
			{"the Pushgateway's password", false, nil, []string{"--pushgateway", pushURL}, rooms, 0},
		} {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				a, env := startAPI(t, emulator.Options{EchoSecrets: true}), []string{"BULKSYNC_ACCESS_TOKEN=" + testToken}
				if tc.lwa {
					a = lwaAPI(t, emulator.Options{EchoSecrets: true})
					env = append(lwaEnv(a), tc.env...)
				}
				rep, sum := filepath.Join(dir, "report.csv"), filepath.Join(dir, "summary.json")
				res := runCLI(t, env, append([]string{"sync", "--endpoint", a.url, "--service-provider-id", sp, "--max-backoff", "20ms",
					"--max-attempts", "2", "--log-format", format, "--log-level", "debug", "--report", rep, "--summary", sum, tc.in}, tc.args...)...)
				if res.code != tc.code {
					t.Fatalf("exit %d, want %d:\n%s", res.code, tc.code, res.stderr)
				}
				outs := map[string]string{"stdout": res.stdout, "stderr": res.stderr}
				for _, f := range []string{rep, sum} {
					b, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					outs[filepath.Base(f)] = string(b)
				}
				if tc.code != 0 && !strings.Contains(outs["report.csv"]+outs["summary.json"], secret.Redacted) {
					t.Errorf("nothing was redacted: the server echoed nothing, and the test proves little:\n%s", res.stderr)
				}
				for name, out := range outs {
					for _, s := range secrets {
						if strings.Contains(out, s) {
							t.Errorf("%s holds the secret %q:\n%s", name, s, out)
						}
					}
				}
			})
		}
	}
}
