//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/tollgate-dev/tollgate/certs"
	"github.com/tollgate-dev/tollgate/internal/controlplane"
)

// TestChartContainer installs the chart with the built image's digest and
// runs that image with podman as the kubelet would run the rendered pod:
// the Deployment's args, env, volume mounts and security context, and the
// in-cluster identity of the chart's ServiceAccount (a token from the
// TokenRequest API, so the chart's RBAC is what Tollgate gets). The
// local control plane has no kubelet: this is how the chart's pod spec is
// exercised. Self-signed mode, so Tollgate also writes its Secret and the
// caBundle through that identity.
func TestChartContainer(t *testing.T) {
	img := theImage(t)
	ctx := context.Background()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	helm := filepath.Join(toolsDir(root), "helm")
	deleteWebhooks(t)
	restoreWebhooksAfter(t)
	run := func(args ...string) {
		out, err := exec.Command(helm, append(args, "--kubeconfig", env.cp.Kubeconfig)...).CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// A release switched from cert-manager to self-signed finds
	// cert-manager's kubernetes.io/tls Secret (helm uninstall keeps it),
	// whose type the API server does not let change: self-signed mode
	// takes it over in place. Start from such a Secret, signed by another
	// CA, whatever an earlier test left.
	if err := env.cs.CoreV1().Secrets("tollgate-system").Delete(ctx, "tollgate-webhook-tls", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	namedNamespace("tollgate-system", nil, nil)
	other, err := certs.NewCA("cert-manager", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.cs.CoreV1().Secrets("tollgate-system").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "tollgate-webhook-tls", Namespace: "tollgate-system"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": other.CertPEM, "tls.key": other.KeyPEM, "ca.crt": other.CertPEM},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	run("install", "tollgate", filepath.Join(root, "charts", "tollgate"), "--namespace", "tollgate-system", "--create-namespace",
		"-f", filepath.Join(root, "conformance", "chart", "testdata", "values-self-signed.yaml"),
		"--set", "image.digest="+img.indexDigest)
	defer run("uninstall", "tollgate", "--namespace", "tollgate-system")

	dep, err := env.cs.AppsV1().Deployments("tollgate-system").Get(ctx, "tollgate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	if want := "ghcr.io/tollgate-dev/tollgate@" + img.indexDigest; c.Image != want {
		t.Fatalf("the chart runs %s, want the built image %s", c.Image, want)
	}
	port := freePort()
	pointAt(t, port)
	spec := podmanSpec(t, pod, c, "tollgate-system")
	spec.mounts[serviceAccountVolume(t, pod.ServiceAccountName)] = "/var/run/secrets/kubernetes.io/serviceaccount"
	host, apiPort, _ := strings.Cut(strings.TrimPrefix(env.cp.Config.Host, "https://"), ":")
	spec.env = append(spec.env, "KUBERNETES_SERVICE_HOST="+host, "KUBERNETES_SERVICE_PORT="+apiPort)
	// The arguments as rendered, but for the ports (host networking: the
	// probe and metrics addresses are added by startContainer) and the
	// serving certificate's address (loopback instead of the Service).
	for _, a := range c.Args {
		switch {
		case strings.HasPrefix(a, "--port="):
			a = "--port=" + strconv.Itoa(port)
		case strings.HasPrefix(a, "--metrics-bind-address="), strings.HasPrefix(a, "--health-probe-bind-address="):
			continue
		}
		spec.args = append(spec.args, a)
	}
	spec.args = append(spec.args, "--host=127.0.0.1", "--cert-ip-sans=127.0.0.1")
	tg := startContainer(t, img, spec)

	uid, _, inside := processIdentity(t, tg.name)
	if uid != "65532 65532" || inside.Process.RootReadOnly == nil || !*inside.Process.RootReadOnly {
		t.Errorf("the chart's pod runs as uid %q, inside %+v; want 65532 on a read-only root", uid, inside.Process)
	}

	ns := namespace(nil)
	var last error
	if err := waitFor(60*time.Second, func() error {
		_, last = env.cs.CoreV1().Pods(ns).Create(ctx, restrictedPod("chart-ok"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return last
	}); err != nil {
		t.Fatalf("a compliant pod is not admitted through the chart's container: %v\n%s", last, tg.out.String())
	}
	if _, err := env.cs.CoreV1().Pods(ns).Create(ctx, privilegedPod("chart-root"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil || !strings.Contains(err.Error(), "pss.baseline.privileged") {
		t.Errorf("a privileged pod was not refused through the chart's container: %v", err)
	}
	p, err := env.cs.CoreV1().Pods(ns).Create(ctx, gpuPod("chart-gpu"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if n := tolerationCount(p, "nvidia.com/gpu"); n != 1 {
		t.Errorf("a GPU pod came back with %d GPU tolerations through the chart's container", n)
	}
	if strings.Contains(tg.out.String(), "forbidden") {
		t.Errorf("the chart's RBAC does not cover what Tollgate does:\n%s", tg.out.String())
	}
}

// podmanSpec turns a pod's spec for container c into podman settings, as
// the kubelet would run it, and fails on anything it cannot honour: the
// test must not pass by running a laxer container than the chart asks for.
func podmanSpec(t *testing.T, pod corev1.PodSpec, c corev1.Container, namespace string) containerSpec {
	t.Helper()
	spec := containerSpec{mounts: map[string]string{}}
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("the chart's pod has no security context")
	}
	uid, gid := psc.RunAsUser, psc.RunAsGroup
	if sc.RunAsUser != nil {
		uid = sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		gid = sc.RunAsGroup
	}
	if uid == nil || gid == nil {
		t.Fatal("the chart's pod leaves the uid or gid to the image")
	}
	spec.user = fmt.Sprintf("%d:%d", *uid, *gid)
	// startContainer always runs read-only, without capabilities and with
	// no-new-privileges: the chart must ask for no less.
	switch {
	case !ptr.Deref(sc.ReadOnlyRootFilesystem, false):
		t.Fatal("the chart's container has a writable root")
	case ptr.Deref(sc.AllowPrivilegeEscalation, true):
		t.Fatal("the chart's container allows privilege escalation")
	case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0:
		t.Fatalf("the chart's container capabilities %+v, want drop ALL and nothing added", sc.Capabilities)
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		// podman's default seccomp profile is the runtime default.
		t.Fatalf("the chart's seccomp profile %+v, want RuntimeDefault", psc.SeccompProfile)
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			spec.env = append(spec.env, e.Name+"="+e.Value)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			spec.env = append(spec.env, e.Name+"="+namespace)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			spec.env = append(spec.env, e.Name+"=tollgate-0")
		default:
			t.Fatalf("env %s: a source this test cannot provide: %+v", e.Name, e.ValueFrom)
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	ctx := context.Background()
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		switch {
		case !ok:
			t.Fatalf("volume mount %s: no such volume", m.Name)
		case v.EmptyDir != nil:
			spec.tmpfs = append(spec.tmpfs, m.MountPath)
		case v.ConfigMap != nil:
			cm, err := env.cs.CoreV1().ConfigMaps(namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			files := map[string][]byte{}
			for k, s := range cm.Data {
				files[k] = []byte(s)
			}
			spec.mounts[forUser(t, files)] = m.MountPath
		case v.Secret != nil:
			s, err := env.cs.CoreV1().Secrets(namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			spec.mounts[forUser(t, s.Data)] = m.MountPath
		default:
			t.Fatalf("volume %s: a kind this test cannot provide", m.Name)
		}
		if !m.ReadOnly && v.EmptyDir == nil {
			t.Fatalf("volume mount %s of a ConfigMap or Secret is writable", m.Name)
		}
	}
	return spec
}

// serviceAccountVolume is what the kubelet projects for a pod's
// ServiceAccount: a bound token, the API server's CA and the namespace.
func serviceAccountVolume(t *testing.T, name string) string {
	t.Helper()
	tr, err := env.cs.CoreV1().ServiceAccounts("tollgate-system").CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a token for ServiceAccount %s: %v", name, err)
	}
	return forUser(t, map[string][]byte{
		"token":     []byte(tr.Status.Token),
		"ca.crt":    env.cp.Config.CAData,
		"namespace": []byte("tollgate-system"),
	})
}
