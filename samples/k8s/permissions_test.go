package k8s

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Without runAsUser or runAsGroup the image's user runs: distroless
// nonroot, 65532:65532.
const imageUser, imageGroup = 65532, 65532

// defaultFileMode is what the API server puts in a Secret or projected
// volume's defaultMode when a manifest leaves it out.
const defaultFileMode = 0o644

// needRoot skips a test that must chown files and change user, unless CI
// requires it to run.
func needRoot(t *testing.T) string {
	t.Helper()
	setpriv, err := exec.LookPath("setpriv")
	switch {
	case os.Geteuid() != 0:
		err = fmt.Errorf("not root")
	case err != nil:
		err = fmt.Errorf("setpriv not found (util-linux): %w", err)
	}
	if err != nil {
		if os.Getenv("BULKSYNC_CI") == "1" {
			t.Fatalf("the permission test needs root and setpriv: %v", err)
		}
		t.Skipf("the permission test needs root and setpriv: %v", err)
	}
	return setpriv
}

// volumeFile is one file the kubelet would write into a volume.
type volumeFile struct {
	mode  os.FileMode
	token bool // a projected service account token: not simulated
}

// volumeFiles lists the files of a Secret or projected volume, by path in
// the volume, with their modes as the manifest sets them; wanted are the
// paths the container reads, for a volume that mounts every key.
func volumeFiles(v corev1.Volume, wanted []string) map[string]volumeFile {
	files := map[string]volumeFile{}
	secret := func(items []corev1.KeyToPath, defaultMode *int32) {
		mode := os.FileMode(defaultFileMode)
		if defaultMode != nil {
			mode = os.FileMode(*defaultMode)
		}
		if len(items) == 0 { // every key of the Secret: those read are enough
			for _, p := range wanted {
				files[p] = volumeFile{mode: mode}
			}
			return
		}
		for _, it := range items {
			m := mode
			if it.Mode != nil {
				m = os.FileMode(*it.Mode)
			}
			files[it.Path] = volumeFile{mode: m}
		}
	}
	switch {
	case v.Secret != nil:
		secret(v.Secret.Items, v.Secret.DefaultMode)
	case v.Projected != nil:
		for _, s := range v.Projected.Sources {
			switch {
			case s.Secret != nil:
				secret(s.Secret.Items, v.Projected.DefaultMode)
			case s.ServiceAccountToken != nil:
				files[s.ServiceAccountToken.Path] = volumeFile{token: true}
			}
		}
	}
	return files
}

// unreadable lays out, as the kubelet does, the Secret files that the pod's
// container names in its environment (root's files of the volume's modes;
// with fsGroup, of that group and with 0440 added, as the kubelet's volume
// ownership code does), reads each as the pod's user with setpriv, and
// returns what could not be read.
func unreadable(t *testing.T, setpriv string, pod corev1.PodSpec) []string {
	t.Helper()
	uid, gid := int64(imageUser), int64(imageGroup)
	var groups []int64
	if sc := pod.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = *sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = *sc.RunAsGroup
		}
		if sc.FSGroup != nil {
			groups = append(groups, *sc.FSGroup)
		}
		groups = append(groups, sc.SupplementalGroups...)
	}
	var fsGroup *int64
	if pod.SecurityContext != nil {
		fsGroup = pod.SecurityContext.FSGroup
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	c := pod.Containers[0]
	// The files the container reads: every environment value that is a
	// path in a Secret or projected volume.
	type read struct{ env, mount, rel string }
	var reads []read
	wanted := map[string][]string{}
	for _, e := range c.Env {
		for _, m := range c.VolumeMounts {
			v := volumes[m.Name]
			rel, ok := strings.CutPrefix(e.Value, m.MountPath+"/")
			if !ok || v.Secret == nil && v.Projected == nil {
				continue
			}
			reads = append(reads, read{e.Name, m.Name, rel})
			wanted[m.Name] = append(wanted[m.Name], rel)
		}
	}
	if len(reads) == 0 {
		return []string{"no environment variable names a file of a Secret volume"}
	}
	root, err := os.MkdirTemp("", "kubelet-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil { // the pod's user walks down to the volumes
		t.Fatal(err)
	}
	var problems []string
	laid := map[string]map[string]volumeFile{}
	for _, r := range reads {
		files, ok := laid[r.mount]
		if !ok {
			files = volumeFiles(volumes[r.mount], wanted[r.mount])
			laid[r.mount] = files
			if err := layOut(filepath.Join(root, r.mount), files, fsGroup); err != nil {
				t.Fatal(err)
			}
		}
		f, ok := files[r.rel]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: %s is not in volume %s", r.env, r.rel, r.mount))
			continue
		case f.token:
			continue // the kubelet's own rules for tokens; not simulated
		}
		args := []string{"--reuid=" + strconv.FormatInt(uid, 10), "--regid=" + strconv.FormatInt(gid, 10)}
		if len(groups) == 0 {
			args = append(args, "--clear-groups")
		} else {
			var gs []string
			for _, g := range groups {
				gs = append(gs, strconv.FormatInt(g, 10))
			}
			args = append(args, "--groups="+strings.Join(gs, ","))
		}
		path := filepath.Join(root, r.mount, r.rel)
		var stderr bytes.Buffer
		cmd := exec.Command(setpriv, append(args, "--", "cat", path)...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || string(out) != r.rel {
			problems = append(problems, fmt.Sprintf("%s: uid %d gid %d groups %v cannot read %s (%s): %v %s",
				r.env, uid, gid, groups, r.rel, describe(path), err, strings.TrimSpace(stderr.String())))
		}
	}
	sort.Strings(problems)
	return problems
}

// layOut writes a volume's files as root's, each holding its own path,
// and gives them to fsGroup as the kubelet does.
func layOut(dir string, files map[string]volumeFile, fsGroup *int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for rel, f := range files {
		if f.token {
			continue
		}
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(rel), 0o600); err != nil {
			return err
		}
		mode := f.mode.Perm()
		if fsGroup != nil {
			if err := os.Chown(path, 0, int(*fsGroup)); err != nil {
				return err
			}
			mode |= 0o440 // the kubelet's read-only mask for a volume it gives to fsGroup
		}
		if err := os.Chmod(path, mode); err != nil { // after WriteFile: no umask
			return err
		}
	}
	if fsGroup != nil {
		return os.Chown(dir, 0, int(*fsGroup))
	}
	return nil
}

func describe(path string) string {
	out, err := exec.Command("stat", "-c", "%A %U:%G", path).Output()
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(out))
}

func TestCredentialsReadableByThePodsUser(t *testing.T) {
	setpriv := needRoot(t)
	for _, s := range samples {
		for name, spec := range jobsOf(s.file, decodeFile(t, s.file)) {
			t.Run(name, func(t *testing.T) {
				for _, p := range unreadable(t, setpriv, spec.Template.Spec) {
					t.Error(p)
				}
			})
		}
	}
}

// TestPermissionCheckCatchesRootOnlyFiles: the v0.1 sample (mode 0400, no
// fsGroup) fails, and so do variants of today's sample that break one
// thing; variants the kubelet makes readable pass.
func TestPermissionCheckCatchesRootOnlyFiles(t *testing.T) {
	setpriv := needRoot(t)
	old := jobsOf("v0.1", decodeFile(t, "testdata/v0.1-cronjob.yaml"))
	if len(old) != 1 {
		t.Fatalf("%d jobs in the v0.1 sample, want 1", len(old))
	}
	for _, spec := range old {
		problems := unreadable(t, setpriv, spec.Template.Spec)
		if len(problems) != 3 {
			t.Errorf("v0.1 sample: %d files unreadable, want its 3 credential files:\n%s", len(problems), strings.Join(problems, "\n"))
		}
		for _, p := range problems {
			t.Logf("v0.1 sample, as expected: %s", p)
		}
	}
	mode := func(m int32) *int32 { return &m }
	tests := []struct {
		name     string
		change   func(*corev1.PodSpec)
		readable bool
	}{
		{"no fsGroup", func(p *corev1.PodSpec) { p.SecurityContext.FSGroup = nil }, false},
		{"an item the environment names is not mounted", func(p *corev1.PodSpec) {
			p.Volumes[0].Secret.Items = p.Volumes[0].Secret.Items[:2]
		}, false},
		// What the kubelet does, not what the manifest says: fsGroup adds
		// group read to any mode, and a world-readable file needs no group.
		{"0400 with fsGroup", func(p *corev1.PodSpec) { p.Volumes[0].Secret.DefaultMode = mode(0o400) }, true},
		{"0444 without fsGroup", func(p *corev1.PodSpec) {
			p.SecurityContext.FSGroup = nil
			p.Volumes[0].Secret.DefaultMode = mode(0o444)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := jobsOf("cronjob.yaml", decodeFile(t, "cronjob.yaml"))["cronjob.yaml: bulksync-grand-hotel"]
			pod := spec.Template.Spec
			if pod.Volumes[0].Name != "credentials" {
				t.Fatalf("volume 0 is %s, want credentials", pod.Volumes[0].Name)
			}
			tt.change(&pod)
			problems := unreadable(t, setpriv, pod)
			if got := len(problems) == 0; got != tt.readable {
				t.Errorf("readable = %v, want %v; problems:\n%s", got, tt.readable, strings.Join(problems, "\n"))
			}
		})
	}
}
