package k8s

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "../../charts/bulksync"
	chartValues = chartDir + "/ci/multi-values.yaml"
)

// helmBinary finds helm on PATH or where go install puts it
// (.ci/deploy-tools.sh installs helm.sh/helm/v4/cmd/helm there).
func helmBinary(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("helm"); err == nil {
		return path
	}
	var tried []string
	for _, v := range []string{"GOBIN", "GOPATH"} {
		out, err := exec.Command("go", "env", v).Output()
		dir := strings.TrimSpace(string(out))
		if err != nil || dir == "" {
			continue
		}
		if v == "GOPATH" {
			dir = filepath.Join(strings.Split(dir, string(os.PathListSeparator))[0], "bin")
		}
		path := filepath.Join(dir, "helm")
		if _, err := os.Stat(path); err == nil {
			return path
		}
		tried = append(tried, path)
	}
	msg := fmt.Sprintf("helm not found on PATH nor at %v (.ci/deploy-tools.sh installs it)", tried)
	if os.Getenv("BULKSYNC_CI") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// helm runs the helm binary and returns its standard output.
func helm(t *testing.T, bin string, args ...string) ([]byte, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// No repository or plugin state of the machine's user.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// property is what the test reads of the CI values file.
type property struct {
	Name              string  `json:"name"`
	ServiceProviderID string  `json:"serviceProviderId"`
	Export            string  `json:"export"`
	Schedule          string  `json:"schedule"`
	Shards            int32   `json:"shards"`
	Rps               float64 `json:"rps"`
	Newest            bool    `json:"newest"`
	SftpSecret        string  `json:"sftpSecret"`
	AwsRoleArn        string  `json:"awsRoleArn"`
}

func chartProperties(t *testing.T) []property {
	t.Helper()
	data, err := os.ReadFile(chartValues)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Properties []property `json:"properties"`
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Properties) < 2 {
		t.Fatalf("%s lists %d properties, want several", chartValues, len(v.Properties))
	}
	return v.Properties
}

func TestChartLint(t *testing.T) {
	bin := helmBinary(t)
	for _, args := range [][]string{
		{"lint", "--strict", chartDir},
		{"lint", "--strict", chartDir, "-f", chartValues},
	} {
		if out, err := helm(t, bin, args...); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
}

// renderChart renders the chart with the CI values, as release "bulksync".
func renderChart(t *testing.T) objects {
	t.Helper()
	out, err := helm(t, helmBinary(t), "template", "bulksync", chartDir, "-f", chartValues)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, "helm template", out)
}

func TestChartRendersOneCronJobPerProperty(t *testing.T) {
	o := renderChart(t)
	props := chartProperties(t)
	if len(o.Secrets) != 0 || len(o.ServiceAccounts) != 0 || len(o.Jobs) != 0 {
		t.Errorf("the chart creates %d Secrets, %d ServiceAccounts, %d Jobs: it must only reference them", len(o.Secrets), len(o.ServiceAccounts), len(o.Jobs))
	}
	if len(o.CronJobs) != len(props) {
		t.Fatalf("%d CronJobs for %d properties", len(o.CronJobs), len(props))
	}
	byName := map[string]batchv1.CronJob{}
	for _, cj := range o.CronJobs {
		byName[cj.Name] = cj
	}
	for _, p := range props {
		t.Run(p.Name, func(t *testing.T) {
			cj, ok := byName["bulksync-"+p.Name]
			if !ok {
				t.Fatalf("no CronJob bulksync-%s", p.Name)
			}
			if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || cj.Spec.Schedule != p.Schedule {
				t.Errorf("concurrencyPolicy %q schedule %q, want Forbid and %q", cj.Spec.ConcurrencyPolicy, cj.Spec.Schedule, p.Schedule)
			}
			spec := cj.Spec.JobTemplate.Spec
			checkJob(t, cj.Name, spec)
			c := spec.Template.Spec.Containers[0]
			if v, _ := flagValue(c.Args, "--metrics-instance"); v != p.Name {
				t.Errorf("--metrics-instance %q, want the property's name %q", v, p.Name)
			}
			if in := c.Args[len(c.Args)-1]; in != p.Export {
				t.Errorf("input %q, want %q", in, p.Export)
			}
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			if env["BULKSYNC_SERVICE_PROVIDER_ID"] != p.ServiceProviderID {
				t.Errorf("provider %q, want %q", env["BULKSYNC_SERVICE_PROVIDER_ID"], p.ServiceProviderID)
			}
			indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
			if want := p.Shards > 1; indexed != want {
				t.Errorf("Indexed %v, want %v (shards %d)", indexed, want, p.Shards)
			}
			if indexed && (*spec.Completions != p.Shards || *spec.Parallelism != p.Shards) {
				t.Errorf("completions %d parallelism %d, want %d", *spec.Completions, *spec.Parallelism, p.Shards)
			}
			if p.Shards > 1 {
				rps, err := strconv.ParseFloat(env["BULKSYNC_RPS"], 64)
				total := p.Rps
				if total == 0 {
					total = 10
				}
				if err != nil || rps*float64(p.Shards) != total {
					t.Errorf("BULKSYNC_RPS %q for each of %d shards, want %v in all", env["BULKSYNC_RPS"], p.Shards, total)
				}
			}
			if (p.SftpSecret != "") != (env["BULKSYNC_SFTP_KNOWN_HOSTS"] != "") {
				t.Errorf("sftpSecret %q, BULKSYNC_SFTP_KNOWN_HOSTS %q", p.SftpSecret, env["BULKSYNC_SFTP_KNOWN_HOSTS"])
			}
			if env["AWS_ROLE_ARN"] != p.AwsRoleArn {
				t.Errorf("AWS_ROLE_ARN %q, want %q", env["AWS_ROLE_ARN"], p.AwsRoleArn)
			}
		})
	}
}

func TestChartCredentialsReadableByThePodsUser(t *testing.T) {
	setpriv := needRoot(t)
	for _, cj := range renderChart(t).CronJobs {
		t.Run(cj.Name, func(t *testing.T) {
			for _, p := range unreadable(t, setpriv, cj.Spec.JobTemplate.Spec.Template.Spec) {
				t.Error(p)
			}
		})
	}
}

// TestChartRefusesBadValues: values that would make a CronJob that cannot
// work stop helm instead.
func TestChartRefusesBadValues(t *testing.T) {
	bin := helmBinary(t)
	good := `{name: grand-hotel, serviceProviderId: amzn1.comms.csp.id.grandhotel, export: /export/rooms.csv, schedule: "30 3 * * *"}`
	tests := []struct {
		name, release, values, wantErr string
	}{
		{"as in the README", "bulksync", "properties: [" + good + "]", ""},
		{"no provider", "bulksync", `properties: [{name: a, export: /export/a.csv, schedule: "30 3 * * *"}]`, "serviceProviderId"},
		{"a relative export", "bulksync", `properties: [{name: a, serviceProviderId: amzn1.comms.csp.id.a, export: rooms.csv, schedule: "30 3 * * *"}]`, "export"},
		{"a misspelt setting", "bulksync", `properties: [{name: a, serviceProviderId: amzn1.comms.csp.id.a, export: /export/a.csv, schedule: "30 3 * * *", shard: 4}]`, "shard"},
		{"a name twice", "bulksync", "properties: [" + good + ", " + good + "]", "twice"},
		{"a name too long for a CronJob", "chain-of-grand-hotels-europe", `properties: [{name: grand-hotel-and-spa-on-the-lake, serviceProviderId: amzn1.comms.csp.id.a, export: /export/a.csv, schedule: "30 3 * * *"}]`, "52"},
		{"no report", "bulksync", "reportsClaim: \"\"\nproperties: [" + good + "]", "reportsClaim"},
		{"a bad limit", "bulksync", `properties: [{name: a, serviceProviderId: amzn1.comms.csp.id.a, export: /export/a.csv, schedule: "30 3 * * *", maxDeletes: ten}]`, "maxDeletes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(values, []byte(tt.values+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := helm(t, bin, "template", tt.release, chartDir, "-f", values)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.wantErr == "":
				if o := decode(t, "helm template", out); len(o.CronJobs) != 1 {
					t.Errorf("%d CronJobs, want 1", len(o.CronJobs))
				}
			case err == nil:
				t.Errorf("rendered, want an error saying %q", tt.wantErr)
			case !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("got %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
}
