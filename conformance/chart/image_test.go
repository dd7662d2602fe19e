//go:build e2e

package chart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// testDigest stands for a release's image index digest.
const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func deployment(t *testing.T, valueSet string, set ...string) *appsv1.Deployment {
	t.Helper()
	var extra []string
	for _, s := range set {
		extra = append(extra, "--set", s)
	}
	out, err := render(t, valueSet, extra...)
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", set, err, out)
	}
	var dep appsv1.Deployment
	decode(t, docs(t, out)["Deployment"][0], &dep)
	return &dep
}

func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// builtDigest is the index digest scripts/image.sh last wrote, if any.
func builtDigest(t *testing.T) string {
	dir := os.Getenv("TOLLGATE_IMAGE_DIR")
	if dir == "" {
		dir = "../../out/image"
	}
	b, err := os.ReadFile(filepath.Join(dir, "digest"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// TestImageByDigest: with image.digest set the pods pull repository@digest
// (the tag is only for people); without it, repository:tag or appVersion.
// The digest scripts/image.sh built, when there is one, renders the same way.
func TestImageByDigest(t *testing.T) {
	digests := []string{testDigest}
	if d := builtDigest(t); d != "" {
		digests = append(digests, d)
	} else if os.Getenv("CI") != "" {
		t.Error("CI runs scripts/image.sh before this suite, but out/image/digest is missing")
	}
	for _, d := range digests {
		c := deployment(t, "default", "image.digest="+d, "image.tag=0.1.0").Spec.Template.Spec.Containers[0]
		if want := "ghcr.io/tollgate-dev/tollgate@" + d; c.Image != want {
			t.Errorf("image %q, want %q", c.Image, want)
		}
	}
	if c := deployment(t, "default", "image.tag=0.1.0").Spec.Template.Spec.Containers[0]; c.Image != "ghcr.io/tollgate-dev/tollgate:0.1.0" {
		t.Errorf("by tag: image %q", c.Image)
	}
	for _, bad := range []string{"sha256:abc", "latest", "sha512:" + strings.Repeat("a", 128)} {
		out, err := render(t, "default", "--set", "image.digest="+bad)
		if err == nil || !strings.Contains(out, "/image/digest") {
			t.Errorf("image.digest=%s: rendered (err %v), want a schema error at /image/digest:\n%s", bad, err, out)
		}
	}
}

// TestGOMEMLIMIT: the Go runtime's soft memory limit is goMemLimitPercent
// of the container's memory limit, in MiB; without a limit it is an error
// naming the field, and 0 sets none.
func TestGOMEMLIMIT(t *testing.T) {
	for _, tc := range []struct {
		set  []string
		want string
	}{
		{nil, "460MiB"}, // 90% of the default 512Mi
		{[]string{"resources.limits.memory=1Gi"}, "921MiB"},
		{[]string{"resources.limits.memory=1G", "goMemLimitPercent=80"}, "762MiB"},
		{[]string{"goMemLimitPercent=0"}, ""},
	} {
		c := deployment(t, "default", tc.set...).Spec.Template.Spec.Containers[0]
		got, ok := envValue(c, "GOMEMLIMIT")
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%v: GOMEMLIMIT %q (set %v), want %q", tc.set, got, ok, tc.want)
		}
	}
	for _, tc := range []struct{ set, want string }{
		{"resources.limits.memory=lots", "/resources/limits/memory"},
		{"resources.limits=null", "resources.limits.memory is required"},
	} {
		out, err := render(t, "default", "--set", tc.set)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: rendered (err %v), want an error with %q:\n%s", tc.set, err, tc.want, out)
		}
	}
}

// TestOwnSecurityContext: Tollgate's pod runs as the image's nonroot user
// with a read-only root, no capabilities, RuntimeDefault seccomp, and a
// memory-backed /tmp; in every value set.
func TestOwnSecurityContext(t *testing.T) {
	for _, vs := range valueSets {
		spec := deployment(t, vs).Spec.Template.Spec
		psc, c := spec.SecurityContext, spec.Containers[0]
		sc := c.SecurityContext
		switch {
		case psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532:
			t.Errorf("%s: pod securityContext %+v, want runAsNonRoot and uid 65532", vs, psc)
		case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Errorf("%s: seccomp %+v, want RuntimeDefault", vs, psc.SeccompProfile)
		case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s: container securityContext %+v, want readOnlyRootFilesystem", vs, sc)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL":
			t.Errorf("%s: container securityContext %+v, want no privilege escalation and capabilities dropped", vs, sc)
		case c.Resources.Limits.Memory().IsZero():
			t.Errorf("%s: no memory limit", vs)
		}
		tmp := false
		for _, m := range c.VolumeMounts {
			tmp = tmp || m.MountPath == "/tmp"
		}
		if !tmp {
			t.Errorf("%s: no /tmp mount on a read-only root", vs)
		}
	}
}
