// Package k8s checks the sample Kubernetes manifests and the Helm chart by
// decoding them strictly into the Kubernetes API types (a misspelt field
// fails the test) and then checking what every bulksync pod must have.
// It is its own module so the main go.mod stays free of the Kubernetes API.
package k8s

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// objects is every object of a manifest, decoded strictly by its kind.
type objects struct {
	CronJobs        []batchv1.CronJob
	Jobs            []batchv1.Job
	Secrets         []corev1.Secret
	ServiceAccounts []corev1.ServiceAccount
}

// decode splits a stream of YAML documents (as kubectl and helm write
// them) and decodes each strictly into the type its kind names; a kind
// the samples have no business creating fails.
func decode(t *testing.T, name string, data []byte) objects {
	t.Helper()
	var out objects
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", name, i, err)
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s: document %d: %v", name, i, err)
		}
		if meta.Kind == "" && len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue // only comments, as helm leaves for an empty template
		}
		var into any
		switch meta.APIVersion + " " + meta.Kind {
		case "batch/v1 CronJob":
			out.CronJobs = append(out.CronJobs, batchv1.CronJob{})
			into = &out.CronJobs[len(out.CronJobs)-1]
		case "batch/v1 Job":
			out.Jobs = append(out.Jobs, batchv1.Job{})
			into = &out.Jobs[len(out.Jobs)-1]
		case "v1 Secret":
			out.Secrets = append(out.Secrets, corev1.Secret{})
			into = &out.Secrets[len(out.Secrets)-1]
		case "v1 ServiceAccount":
			out.ServiceAccounts = append(out.ServiceAccounts, corev1.ServiceAccount{})
			into = &out.ServiceAccounts[len(out.ServiceAccounts)-1]
		default:
			t.Fatalf("%s: document %d: unexpected %s %s", name, i, meta.APIVersion, meta.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			t.Fatalf("%s: document %d (%s): strict decode: %v", name, i, meta.Kind, err)
		}
	}
	return out
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

func decodeFile(t *testing.T, path string) objects {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, path, data)
}

// flagValue is the value of a flag given as --name=value or --name value.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// exitCodes gathers the podFailurePolicy's exit codes by action, and says
// whether the DisruptionTarget rule comes first.
func exitCodes(p *batchv1.PodFailurePolicy) (map[batchv1.PodFailurePolicyAction][]int32, bool) {
	codes := map[batchv1.PodFailurePolicyAction][]int32{}
	disruptionFirst := false
	for i, r := range p.Rules {
		if r.OnExitCodes != nil {
			codes[r.Action] = append(codes[r.Action], r.OnExitCodes.Values...)
		}
		for _, c := range r.OnPodConditions {
			if i == 0 && c.Type == corev1.DisruptionTarget && r.Action == batchv1.PodFailurePolicyActionIgnore {
				disruptionFirst = true
			}
		}
	}
	return codes, disruptionFirst
}

// checkJob holds what every bulksync Job (alone or a CronJob's) must have.
func checkJob(t *testing.T, name string, spec batchv1.JobSpec) {
	t.Helper()
	pod := spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy %q, want Never (podFailurePolicy needs it)", name, pod.RestartPolicy)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken not false: bulksync never calls the Kubernetes API", name)
	}
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("%s: not runAsNonRoot with a runAsUser", name)
	}
	if sc == nil || sc.FSGroup == nil {
		t.Errorf("%s: no fsGroup: the Secret's files stay root's and the pod's user can't read them", name)
	}
	if spec.ActiveDeadlineSeconds == nil || *spec.ActiveDeadlineSeconds <= 0 {
		t.Errorf("%s: no activeDeadlineSeconds: a hung run would hold the next night back", name)
	}
	if spec.PodFailurePolicy == nil {
		t.Fatalf("%s: no podFailurePolicy", name)
	}
	codes, disruptionFirst := exitCodes(spec.PodFailurePolicy)
	if !disruptionFirst {
		t.Errorf("%s: the first rule is not Ignore on DisruptionTarget: an evicted pod (exit 4) would count as a failure", name)
	}
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	wantFail, wantIndex := []int32{2, 3, 7}, []int32(nil)
	if indexed {
		// One shard's refused rows must not stop the others mid-run.
		wantFail, wantIndex = []int32{2, 3}, []int32{7}
		if spec.BackoffLimitPerIndex == nil {
			t.Errorf("%s: an Indexed Job without backoffLimitPerIndex", name)
		}
	}
	for _, c := range []struct {
		action batchv1.PodFailurePolicyAction
		want   []int32
	}{
		{batchv1.PodFailurePolicyActionFailJob, wantFail},
		{batchv1.PodFailurePolicyActionFailIndex, wantIndex},
		{batchv1.PodFailurePolicyActionCount, []int32{1, 4, 6}},
	} {
		if got := codes[c.action]; !slices.Equal(got, c.want) {
			t.Errorf("%s: %s on exit codes %v, want %v", name, c.action, got, c.want)
		}
	}
	if len(pod.Containers) != 1 || pod.Containers[0].Name != "bulksync" {
		t.Fatalf("%s: want one container named bulksync (the podFailurePolicy names it)", name)
	}
	c := pod.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "sync" {
		t.Errorf("%s: args %v, want a sync", name, c.Args)
	}
	if v, _ := flagValue(c.Args, "--pushgateway"); !strings.HasPrefix(v, "http") {
		t.Errorf("%s: --pushgateway %q, want the Pushgateway's URL", name, v)
	}
	if v, _ := flagValue(c.Args, "--metrics-instance"); v == "" {
		t.Errorf("%s: no --metrics-instance: the alerts would name the property by its provider id", name)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	for _, f := range []string{"--report", "--summary"} {
		v, _ := flagValue(c.Args, f)
		if !strings.Contains(v, "{time}") || !strings.Contains(v, "{run_id}") {
			t.Errorf("%s: %s %q, want a path per run ({time}, {run_id}): a retry must not replace the report before it", name, f, v)
		}
		if strings.HasPrefix(v, "/") {
			m, ok := mounts[filepath.Dir(v)]
			if !ok || m.ReadOnly {
				t.Errorf("%s: %s %q is not on a writable volume", name, f, v)
			}
		}
	}
	lwa := 0
	for _, e := range c.Env {
		switch {
		case strings.HasPrefix(e.Name, "BULKSYNC_LWA_"):
			if !strings.HasSuffix(e.Name, "_FILE") {
				t.Errorf("%s: credential %s given as a value, not a file", name, e.Name)
			}
			lwa++
		case slices.Contains([]string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_STORAGE_KEY", "BULKSYNC_SFTP_PASSWORD"}, e.Name):
			t.Errorf("%s: %s: a key in the pod, where a workload identity or a mounted file belongs", name, e.Name)
		}
	}
	if lwa != 3 {
		t.Errorf("%s: %d LWA credential files, want 3", name, lwa)
	}
	if indexed {
		count := ""
		for _, e := range c.Env {
			if e.Name == "BULKSYNC_SHARD_COUNT" {
				count = e.Value
			}
		}
		if spec.Completions == nil || count != strconv.Itoa(int(*spec.Completions)) {
			t.Errorf("%s: BULKSYNC_SHARD_COUNT %q, want the completions", name, count)
		}
	}
}

// samples is every manifest of this folder and what it must hold.
var samples = []struct {
	file     string
	cronJobs int
	jobs     int
	accounts int
	input    string // the prefix of the export's path or URL
	newest   bool
}{
	{file: "cronjob.yaml", cronJobs: 1, input: "/export/"},
	{file: "cronjob-s3.yaml", cronJobs: 1, accounts: 1, input: "s3://", newest: true},
	{file: "cronjob-sftp.yaml", cronJobs: 1, input: "sftp://", newest: true},
	{file: "migration-job.yaml", jobs: 1, input: "/export/"},
}

// jobsOf is every Job spec of a manifest, named for messages.
func jobsOf(file string, o objects) map[string]batchv1.JobSpec {
	out := map[string]batchv1.JobSpec{}
	for _, cj := range o.CronJobs {
		out[file+": "+cj.Name] = cj.Spec.JobTemplate.Spec
	}
	for _, j := range o.Jobs {
		out[file+": "+j.Name] = j.Spec
	}
	return out
}

func TestSamples(t *testing.T) {
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			o := decodeFile(t, s.file)
			if len(o.CronJobs) != s.cronJobs || len(o.Jobs) != s.jobs || len(o.ServiceAccounts) != s.accounts {
				t.Errorf("%d CronJobs, %d Jobs, %d ServiceAccounts, want %d, %d, %d", len(o.CronJobs), len(o.Jobs), len(o.ServiceAccounts), s.cronJobs, s.jobs, s.accounts)
			}
			if len(o.Secrets) != 0 {
				t.Errorf("a Secret in %s: applying it would overwrite the real credentials (keep it in secret.example.yaml)", s.file)
			}
			for _, cj := range o.CronJobs {
				if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
					t.Errorf("%s: concurrencyPolicy %q, want Forbid", cj.Name, cj.Spec.ConcurrencyPolicy)
				}
			}
			for name, spec := range jobsOf(s.file, o) {
				checkJob(t, name, spec)
				args := spec.Template.Spec.Containers[0].Args
				if in := args[len(args)-1]; !strings.HasPrefix(in, s.input) {
					t.Errorf("%s: input %q, want %s…", name, in, s.input)
				}
				if got := slices.Contains(args, "--newest"); got != s.newest {
					t.Errorf("%s: --newest %v, want %v", name, got, s.newest)
				}
				if s.newest {
					if v, _ := flagValue(args, "--max-age"); v != "26h" {
						t.Errorf("%s: --max-age %q, want 26h: a PMS that stopped exporting must not go unnoticed", name, v)
					}
				}
			}
		})
	}
}

func TestEveryManifestIsChecked(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		known := f == "secret.example.yaml"
		for _, s := range samples {
			known = known || s.file == f
		}
		if !known {
			t.Errorf("%s is in no test's list", f)
		}
	}
}

// TestWorkloadIdentity holds the bucket sample to "no keys in the pod".
func TestWorkloadIdentity(t *testing.T) {
	o := decodeFile(t, "cronjob-s3.yaml")
	pod := o.CronJobs[0].Spec.JobTemplate.Spec.Template.Spec
	if pod.ServiceAccountName != o.ServiceAccounts[0].Name {
		t.Errorf("serviceAccountName %q, want the sample's ServiceAccount %q", pod.ServiceAccountName, o.ServiceAccounts[0].Name)
	}
	env := map[string]string{}
	for _, e := range pod.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["AWS_ROLE_ARN"] == "" || env["AWS_WEB_IDENTITY_TOKEN_FILE"] == "" {
		t.Errorf("no web identity: AWS_ROLE_ARN %q, AWS_WEB_IDENTITY_TOKEN_FILE %q", env["AWS_ROLE_ARN"], env["AWS_WEB_IDENTITY_TOKEN_FILE"])
	}
	found := false
	for _, v := range pod.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil && s.ServiceAccountToken.Audience == "sts.amazonaws.com" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no projected token for sts.amazonaws.com")
	}
}

// TestSecretExampleHasEveryKeyMounted: the example shows every key a
// sample mounts, so that a Secret made from it starts the pod.
func TestSecretExampleHasEveryKeyMounted(t *testing.T) {
	examples := map[string]corev1.Secret{}
	for _, s := range decodeFile(t, "secret.example.yaml").Secrets {
		examples[s.Name] = s
		for k, v := range s.StringData {
			if !strings.Contains(v, "EXAMPLE") {
				t.Errorf("secret %s key %s does not say it is an example", s.Name, k)
			}
		}
	}
	for _, s := range samples {
		for name, spec := range jobsOf(s.file, decodeFile(t, s.file)) {
			for _, v := range spec.Template.Spec.Volumes {
				if v.Secret == nil {
					continue
				}
				ex, ok := examples[v.Secret.SecretName]
				if !ok {
					t.Errorf("%s mounts Secret %s, which secret.example.yaml does not show", name, v.Secret.SecretName)
				}
				for _, it := range v.Secret.Items {
					if _, ok := ex.StringData[it.Key]; !ok {
						t.Errorf("%s mounts key %s of %s, which secret.example.yaml does not show", name, it.Key, v.Secret.SecretName)
					}
				}
			}
		}
	}
}

func TestStrictDecodingCatchesTypos(t *testing.T) {
	var j batchv1.Job
	if err := yaml.UnmarshalStrict([]byte("apiVersion: batch/v1\nkind: Job\nspec:\n  completionMod: Indexed\n"), &j); err == nil {
		t.Errorf("a misspelt field decoded without error: the checks above would prove little")
	}
}
