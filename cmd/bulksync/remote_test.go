package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/storage"
	"github.com/bulksync/bulksync/internal/storage/storagetest"
)

// The export's whereabouts, end to end: the export put on a real server
// (storagetest), the command run against the emulator, what the emulator
// saw and what the run wrote read back.

// export is a property's export of rooms: 7201 gets amazonId id.
func export(id string) []byte {
	return []byte("externalUserId,amazonId\n7201," + id + "\n7202,amzn1.b\n")
}

// environ flattens variables into a run's environment (KEY=VALUE); a
// later map overrides an earlier one (the run takes a name's last value),
// and "" stands for unset.
func environ(vars ...map[string]string) []string {
	var out []string
	for _, v := range vars {
		for _, k := range slices.Sorted(maps.Keys(v)) {
			out = append(out, k+"="+v[k])
		}
	}
	return out
}

// remoteRun is one run of the command over a remote export, and the
// outputs it wrote.
type remoteRun struct {
	result
	report, summary string // paths (may not exist)
}

// remoteBound ends a run that a store holds too long: it shows as an
// interrupted run (exit 4), not as a test that hangs until go test's own
// timeout.
const remoteBound = 30 * time.Second

// remote runs command against the emulator with a local report and
// summary, so that both can be searched for secrets.
func (a *api) remote(t *testing.T, command string, env []string, args ...string) remoteRun {
	t.Helper()
	dir := t.TempDir()
	r := remoteRun{report: filepath.Join(dir, "report.csv"), summary: filepath.Join(dir, "summary.json")}
	full := append([]string{command, "--endpoint", a.url, "--service-provider-id", sp, "--rps", "2000",
		"--max-backoff", "20ms", "--max-retry-after", "20ms", "--log-format", "json",
		"--report", r.report, "--summary", r.summary}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), remoteBound)
	defer cancel()
	r.result = runCtx(ctx, append([]string{"BULKSYNC_ACCESS_TOKEN=" + testToken}, env...), full...)
	return r
}

// noSecret fails if any secret shows in the run's output: stdout, stderr,
// report, summary.
func (r remoteRun) noSecret(t *testing.T, secrets ...string) {
	t.Helper()
	outputs := map[string]string{"stdout": r.stdout, "stderr": r.stderr}
	for _, p := range []string{r.report, r.summary} {
		if b, err := os.ReadFile(p); err == nil {
			outputs[filepath.Base(p)] = string(b)
		}
	}
	for name, out := range outputs {
		for _, s := range append(secrets, testToken) {
			if strings.Contains(out, s) {
				t.Errorf("%s shows the secret %q:\n%s", name, s, out)
			}
		}
	}
}

// wrote reports whether the run created its report.
func (r remoteRun) wrote() bool {
	_, err := os.Stat(r.report)
	return err == nil
}

// files is the report's file column, sorted and deduplicated.
func (r remoteRun) files(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, row := range readReport(t, r.report) {
		out = append(out, row["file"])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// event is the first JSON log event of stderr with this message, or nil.
func event(t *testing.T, stderr, message string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("stderr line is not JSON: %q", l)
		}
		if m["message"] == message {
			return m
		}
	}
	return nil
}

// synced checks a clean run that read one export, named as file in the
// report, and left 7201 with amazonId id.
func (a *api) synced(t *testing.T, r remoteRun, file, id string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", r.code, r.stderr)
	}
	if got, want := fmt.Sprint(a.Associations(sp)), "map[7201:"+id+" 7202:amzn1.b]"; got != want {
		t.Errorf("associations: got %s, want %s", got, want)
	}
	if got := r.files(t); len(got) != 1 || got[0] != file {
		t.Errorf("report names the files %q, want only %q", got, file)
	}
}

// refused checks a run ended with code before any call to the API and
// before any output, saying each of says.
func (a *api) refused(t *testing.T, r remoteRun, code int, says ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d:\n%s", r.code, code, r.stderr)
	}
	for _, s := range says {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr does not say %q:\n%s", s, r.stderr)
		}
	}
	if n := a.Stats().Total; n != 0 {
		t.Errorf("the emulator saw %d calls, want none", n)
	}
	if r.wrote() {
		t.Error("a refused run wrote its report")
	}
}

// datedExports puts three daily exports, a day apart, the newest modified
// an hour ago, and one newer file the pattern does not match; put and age
// are the server's. They are put out of order, so that neither the
// listing's first nor its last match is the newest on any server (a
// folder lists in name, creation or hash order). It returns the pattern
// and the newest's name.
func datedExports(t *testing.T, put func(name string, data []byte), age func(name string, mod time.Time)) (pattern, newest string) {
	t.Helper()
	now := time.Now()
	for _, day := range []int{1, 2, 0} {
		name := "rooms-2026" + []string{"1130", "1201", "1202"}[day] + ".csv"
		put(name, export("amzn1.day"+name[6:14]))
		age(name, now.Add(-time.Hour-time.Duration(2-day)*24*time.Hour))
	}
	put("units-20261203.csv", export("amzn1.units"))
	age("units-20261203.csv", now.Add(-time.Minute))
	return "rooms-*.csv", "rooms-20261202.csv"
}

// newestLogged checks the run logged pattern's newest match as file.
func newestLogged(t *testing.T, r remoteRun, pattern, file string) {
	t.Helper()
	ev := event(t, r.stderr, "newest match")
	if ev == nil || ev["pattern"] != pattern || ev["file"] != file {
		t.Errorf("newest match logged as %v, want pattern %s, file %s", ev, pattern, file)
	}
	// The summary names the file read, too.
	b, err := os.ReadFile(r.summary)
	var sum struct{ Inputs []string }
	if err != nil || json.Unmarshal(b, &sum) != nil || len(sum.Inputs) != 1 || sum.Inputs[0] != file {
		t.Errorf("summary's inputs: %v (%v), want [%s]", sum.Inputs, err, file)
	}
}

func TestExportFromS3(t *testing.T) {
	srv := storagetest.StartS3(t)
	a := startAPI(t, emulator.Options{})
	env := environ(srv.Env)

	t.Run("read from the bucket and synced", func(t *testing.T) {
		srv.Put(t, "exports/rooms.csv", export("amzn1.s3"))
		url := srv.URL("exports/rooms.csv")
		r := a.remote(t, "sync", env, "--max-age", "26h", url)
		a.synced(t, r, url, "amzn1.s3")
		r.noSecret(t, storagetest.S3Secret)
		if r := runCLI(t, env, "validate", "--service-provider-id", sp, "--log-format", "json", url); r.code != 0 {
			t.Errorf("validate: exit %d:\n%s", r.code, r.stderr)
		}
	})

	t.Run("three days old, refused under --max-age 26h before any call", func(t *testing.T) {
		a.ResetStats()
		srv.Put(t, "exports/old.csv", export("amzn1.stale"))
		srv.SetModTime(t, "exports/old.csv", time.Now().Add(-72*time.Hour))
		url := srv.URL("exports/old.csv")
		r := a.remote(t, "sync", env, "--max-age", "26h", url)
		a.refused(t, r, 3, url+" was last modified 72h0m0s ago", "more than --max-age 26h0m0s")
		r.noSecret(t, storagetest.S3Secret)
	})

	t.Run("--newest reads the newest of three dated exports", func(t *testing.T) {
		pattern, newest := datedExports(t,
			func(name string, data []byte) { srv.Put(t, "dated/"+name, data) },
			func(name string, mod time.Time) { srv.SetModTime(t, "dated/"+name, mod) })
		url := srv.URL("dated/" + newest)
		r := a.remote(t, "sync", env, "--newest", "--max-age", "26h", srv.URL("dated/"+pattern))
		a.synced(t, r, url, "amzn1.day20261202")
		newestLogged(t, r, srv.URL("dated/"+pattern), url)
		r.noSecret(t, storagetest.S3Secret)
	})

	t.Run("credentials the store refuses", func(t *testing.T) {
		a.ResetStats()
		const wrong = "wrong-Secret-Key-9876543210"
		t.Setenv("AWS_SECRET_ACCESS_KEY", wrong) // the SDK reads the process's
		url := srv.URL("exports/rooms.csv")
		r := a.remote(t, "sync", append(env, "AWS_SECRET_ACCESS_KEY="+wrong), url)
		a.refused(t, r, 2, "read "+url)
		r.noSecret(t, storagetest.S3Secret, wrong)
	})
}

func TestExportFromSFTP(t *testing.T) {
	srv := storagetest.StartSFTP(t)
	a := startAPI(t, emulator.Options{})
	env := environ(srv.Env)
	dir := t.TempDir() // the server's files: the test reaches them directly
	put := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	age := func(name string, mod time.Time) {
		if err := os.Chtimes(filepath.Join(dir, name), mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	put("rooms.csv", export("amzn1.sftp"))
	url := srv.URL(dir + "/rooms.csv")
	// A password in the URL: the server takes the key, and the password
	// must show nowhere.
	const password = "Hunter2-sftp-Secret"
	withPassword := strings.Replace(url, "@", ":"+password+"@", 1)

	t.Run("read with the right host key", func(t *testing.T) {
		r := a.remote(t, "sync", env, "--max-age", "26h", withPassword)
		a.synced(t, r, storage.Redact(withPassword), "amzn1.sftp")
		r.noSecret(t, password)
		// validate and products read the same way, and name it the same.
		r = remoteRun{result: runCLI(t, env, "validate", "--service-provider-id", sp, "--log-format", "json", withPassword)}
		if r.code != 0 || event(t, r.stderr, "validated") == nil {
			t.Errorf("validate: exit %d:\n%s", r.code, r.stderr)
		}
		r.noSecret(t, password)
		ids := a.seedProducts(1)
		put("products.csv", []byte("skill,productId\n"+skillN(1)+","+ids[0]+"\n"))
		products := strings.Replace(srv.URL(dir+"/products.csv"), "@", ":"+password+"@", 1)
		r = remoteRun{report: filepath.Join(t.TempDir(), "products.csv")}
		r.result = runCLI(t, append(env, "BULKSYNC_ACCESS_TOKEN="+testToken), "products", "plan", "--endpoint", a.url,
			"--log-format", "json", "--report", r.report, products)
		if r.code != 0 || event(t, r.stderr, "input read") == nil {
			t.Errorf("products plan: exit %d:\n%s", r.code, r.stderr)
		}
		r.noSecret(t, password)
	})

	for _, tc := range []struct {
		name, known, says string
	}{
		{"refused with a wrong host key", srv.WrongKnownHosts, "does not match"},
		{"refused without BULKSYNC_SFTP_KNOWN_HOSTS", "", "BULKSYNC_SFTP_KNOWN_HOSTS is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.ResetStats()
			env := environ(srv.Env, map[string]string{"BULKSYNC_SFTP_KNOWN_HOSTS": tc.known})
			r := a.remote(t, "sync", env, withPassword)
			a.refused(t, r, 2, "host key refused", tc.says, storage.Redact(withPassword))
			r.noSecret(t, password)
		})
	}

	t.Run("a key the server does not know", func(t *testing.T) {
		a.ResetStats()
		stranger := filepath.Join(t.TempDir(), "id_ed25519")
		storagetest.GenerateKey(t, stranger)
		env := environ(srv.Env, map[string]string{"BULKSYNC_SFTP_KEY_FILE": stranger})
		r := a.remote(t, "sync", env, url)
		a.refused(t, r, 2, "credentials refused", url)
	})

	t.Run("three days old, refused under --max-age 26h", func(t *testing.T) {
		a.ResetStats()
		put("old.csv", export("amzn1.stale"))
		age("old.csv", time.Now().Add(-72*time.Hour))
		r := a.remote(t, "sync", env, "--max-age", "26h", srv.URL(dir+"/old.csv"))
		a.refused(t, r, 3, "was last modified 72h0m0s ago")
	})

	t.Run("--newest reads the newest of three dated exports", func(t *testing.T) {
		pattern, newest := datedExports(t, put, age)
		r := a.remote(t, "sync", env, "--newest", "--max-age", "26h", srv.URL(dir+"/"+pattern))
		a.synced(t, r, srv.URL(dir+"/"+newest), "amzn1.day20261202")
		newestLogged(t, r, srv.URL(dir+"/"+pattern), srv.URL(dir+"/"+newest))
	})
}

func TestExportFromGCS(t *testing.T) {
	srv := storagetest.StartGCS(t)
	a := startAPI(t, emulator.Options{})
	srv.Put(t, "exports/rooms.csv", export("amzn1.gcs"))
	url := srv.URL("exports/rooms.csv")
	a.synced(t, a.remote(t, "sync", nil, "--max-age", "26h", url), url, "amzn1.gcs")
}

func TestExportFromAzureBlob(t *testing.T) {
	srv := storagetest.StartAzurite(t)
	a := startAPI(t, emulator.Options{})
	srv.Put(t, "exports/rooms.csv", export("amzn1.azure"))
	url := srv.URL("exports/rooms.csv")
	r := a.remote(t, "sync", environ(srv.Env), "--max-age", "26h", url)
	a.synced(t, r, url, "amzn1.azure")
	r.noSecret(t, storagetest.AzuriteKey)
}

func TestLocalExportNewestAndMaxAge(t *testing.T) {
	a := startAPI(t, emulator.Options{})
	dir := t.TempDir()
	put := func(name string, data []byte) { writeFile(t, dir, name, string(data)) }
	age := func(name string, mod time.Time) {
		if err := os.Chtimes(filepath.Join(dir, name), mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	pattern, newest := datedExports(t, put, age)
	r := a.remote(t, "sync", nil, "--newest", "--max-age", "26h", filepath.Join(dir, pattern))
	a.synced(t, r, filepath.Join(dir, newest), "amzn1.day20261202")
	newestLogged(t, r, filepath.Join(dir, pattern), filepath.Join(dir, newest))

	a.ResetStats()
	old := filepath.Join(dir, "rooms-20261130.csv")
	r = a.remote(t, "sync", nil, "--max-age", "26h", old)
	a.refused(t, r, 3, old+" was last modified 49h0m0s ago")
}

// A store that never answers ends the run within its attempts, naming the
// URL without its secrets, before any call.
func TestStoreThatTimesOut(t *testing.T) {
	addr, _ := storagetest.Silent(t)
	const secret = "s3cret-Never-Shown-0123456789"
	aws := map[string]string{"AWS_ACCESS_KEY_ID": storagetest.S3Access, "AWS_SECRET_ACCESS_KEY": secret,
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "", "AWS_SESSION_TOKEN": ""}
	for k, v := range aws {
		t.Setenv(k, v) // the SDK reads the process's
	}
	a := startAPI(t, emulator.Options{})
	for _, url := range []string{
		"s3://pms/rooms.csv?endpoint=http://" + addr + "&region=us-east-1&use_path_style=true",
		"sftp://pms:" + secret + "@" + addr + "/exports/rooms.csv",
	} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			a.ResetStats()
			env := environ(aws, map[string]string{"BULKSYNC_SFTP_KNOWN_HOSTS": storagetest.WriteKnownHosts(t, addr)})
			r := a.remote(t, "sync", env, "--request-timeout", "200ms", "--max-attempts", "2", url)
			a.refused(t, r, 2, "read "+storage.Redact(url), "no answer within 200ms")
			r.noSecret(t, secret)
		})
	}
}

// The report and the summary are written beside the export, on the same
// store, and read back from it: whole, named by the run.
func TestReportWrittenToTheStore(t *testing.T) {
	s3 := storagetest.StartS3(t)
	sftp, root := storagetest.StartSFTP(t), t.TempDir() // the server serves this machine's files
	for _, tt := range []struct {
		name string
		put  func(t testing.TB, key string, data []byte)
		url  func(key string) string
		env  map[string]string
	}{
		{"s3", s3.Put, s3.URL, s3.Env},
		{"sftp", func(t testing.TB, key string, data []byte) {
			if err := os.WriteFile(filepath.Join(root, key), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, func(key string) string { return sftp.URL(filepath.Join(root, key)) }, sftp.Env},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := startAPI(t, emulator.Options{})
			tt.put(t, "rooms.csv", export("amzn1.store"))
			rep, sum := tt.url("reports/night.csv"), tt.url("reports/night.json")
			r := a.remote(t, "sync", environ(tt.env), "--report", rep, "--summary", sum, tt.url("rooms.csv"))
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s", r.code, r.stderr)
			}
			store := storage.New(storage.Options{Env: func(k string) string { return tt.env[k] }})
			defer store.Close()
			read := func(url string) string {
				obj, err := store.Open(context.Background(), url)
				if err != nil {
					t.Fatalf("read back %s: %v", storage.Redact(url), err)
				}
				defer obj.Close()
				b := make([]byte, obj.Size())
				if _, err := obj.ReadAt(b, 0); err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			if got := read(rep); strings.Count(got, ",created,") != 2 || !strings.HasPrefix(got, "file,line,") {
				t.Errorf("report read back:\n%s", got)
			}
			if got := read(sum); !strings.Contains(got, `"created": 2`) || !strings.Contains(got, `"report": "`+storage.Redact(rep)+`"`) {
				t.Errorf("summary read back:\n%s", got)
			}
		})
	}
}
