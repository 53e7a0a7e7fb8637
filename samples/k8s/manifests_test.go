// Package k8s checks the sample Kubernetes manifests by decoding them
// strictly into the Kubernetes API types: a misspelt field fails the test.
// It is its own module so the main go.mod stays free of the Kubernetes API.
package k8s

import (
	"os"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func documents(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, doc := range strings.Split(string(data), "\n---\n") {
		out = append(out, []byte(doc))
	}
	return out
}

func strict(t *testing.T, doc []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		t.Fatalf("strict decode: %v", err)
	}
}

// checkPod holds what every bulksync pod must have.
func checkPod(t *testing.T, name string, spec batchv1.JobSpec) {
	t.Helper()
	pod := spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy %q, want Never (podFailurePolicy needs it)", name, pod.RestartPolicy)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: not runAsNonRoot", name)
	}
	rules := map[batchv1.PodFailurePolicyAction][]int32{}
	if spec.PodFailurePolicy == nil {
		t.Fatalf("%s: no podFailurePolicy", name)
	}
	for _, r := range spec.PodFailurePolicy.Rules {
		if r.OnExitCodes != nil {
			rules[r.Action] = append(rules[r.Action], r.OnExitCodes.Values...)
		}
	}
	if !slices.Equal(rules[batchv1.PodFailurePolicyActionFailJob], []int32{2, 3}) {
		t.Errorf("%s: FailJob on %v, want exit codes 2 and 3", name, rules[batchv1.PodFailurePolicyActionFailJob])
	}
	if !slices.Equal(rules[batchv1.PodFailurePolicyActionCount], []int32{1, 4}) {
		t.Errorf("%s: retries (Count) on %v, want exit codes 1 and 4", name, rules[batchv1.PodFailurePolicyActionCount])
	}
	c := pod.Containers[0]
	if c.Name != "bulksync" || c.Args[0] != "sync" {
		t.Errorf("%s: container %q args %v", name, c.Name, c.Args)
	}
	files := 0
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "BULKSYNC_LWA_") {
			if !strings.HasSuffix(e.Name, "_FILE") {
				t.Errorf("%s: credential %s given as a value, not a file", name, e.Name)
			}
			files++
		}
	}
	if files != 3 {
		t.Errorf("%s: %d LWA credential files, want 3", name, files)
	}
}

func TestCronJob(t *testing.T) {
	docs := documents(t, "cronjob.yaml")
	var cj batchv1.CronJob
	strict(t, docs[0], &cj)
	if cj.Kind != "CronJob" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("kind %q concurrencyPolicy %q, want a CronJob with Forbid", cj.Kind, cj.Spec.ConcurrencyPolicy)
	}
	checkPod(t, "cronjob", cj.Spec.JobTemplate.Spec)
	if !slices.Contains(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, "--report=/reports/report.csv") {
		t.Errorf("the report is not written to the reports volume")
	}
	var s corev1.Secret
	strict(t, docs[1], &s)
	if s.Kind != "Secret" || len(s.StringData) != 3 {
		t.Errorf("secret: %+v", s)
	}
}

func TestIndexedMigrationJob(t *testing.T) {
	var j batchv1.Job
	strict(t, documents(t, "migration-job.yaml")[0], &j)
	if j.Spec.CompletionMode == nil || *j.Spec.CompletionMode != batchv1.IndexedCompletion || *j.Spec.Completions != 4 {
		t.Errorf("want an Indexed Job of 4 completions")
	}
	checkPod(t, "migration", j.Spec)
	count := ""
	for _, e := range j.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "BULKSYNC_SHARD_COUNT" {
			count = e.Value
		}
	}
	if count != "4" {
		t.Errorf("BULKSYNC_SHARD_COUNT %q, want 4 (the completions)", count)
	}
}

func TestStrictDecodingCatchesTypos(t *testing.T) {
	var j batchv1.Job
	if err := yaml.UnmarshalStrict([]byte("apiVersion: batch/v1\nkind: Job\nspec:\n  completionMod: Indexed\n"), &j); err == nil {
		t.Errorf("a misspelt field decoded without error: the checks above would prove little")
	}
}
