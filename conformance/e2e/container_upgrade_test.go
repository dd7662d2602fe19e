//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/certs"
	"github.com/tollgate-dev/tollgate/internal/controlplane"
)

// postRenderURL, set in helm's environment, makes this test binary act as
// helm's --post-renderer: it rewrites the webhooks' Service references to
// a URL (there is no Service network here) and passes everything else
// through as rendered. Helm then applies, and upgrades, what it would.
const postRenderURL = "TOLLGATE_E2E_POST_RENDER_URL"

func init() {
	base := os.Getenv(postRenderURL)
	if base == "" {
		return
	}
	if err := postRender(os.Stdin, os.Stdout, base); err != nil {
		fmt.Fprintln(os.Stderr, "post-render:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func postRender(in io.Reader, out io.Writer, base string) error {
	b, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	var docs []string
	for _, d := range strings.Split(string(b), "\n---") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(d), &obj); err != nil {
			return err
		}
		kind, _ := obj["kind"].(string)
		if kind != "ValidatingWebhookConfiguration" && kind != "MutatingWebhookConfiguration" {
			docs = append(docs, d)
			continue
		}
		hooks, _ := obj["webhooks"].([]any)
		for _, h := range hooks {
			cc, _ := h.(map[string]any)["clientConfig"].(map[string]any)
			svc, ok := cc["service"].(map[string]any)
			if !ok {
				continue
			}
			path, _ := svc["path"].(string)
			delete(cc, "service")
			cc["url"] = base + path
		}
		y, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		docs = append(docs, "\n"+string(y))
	}
	_, err = io.WriteString(out, strings.Join(docs, "\n---"))
	return err
}

func (p *readyProxy) add(b backend) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backends = append(p.backends, b)
}

// previousChart is the chart as of the commit before its last change
// (TOLLGATE_PREVIOUS_CHART_REF names another), extracted into a directory.
func previousChart(t *testing.T, root string) (dir, ref string) {
	t.Helper()
	ref = os.Getenv("TOLLGATE_PREVIOUS_CHART_REF")
	if ref == "" {
		out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%H", "--", "charts/tollgate").Output()
		if err != nil {
			t.Fatalf("git log charts/tollgate: %v", err)
		}
		ref = strings.TrimSpace(string(out)) + "^"
	}
	dir = t.TempDir()
	archive := exec.Command("git", "-C", root, "archive", ref, "charts/tollgate")
	extract := exec.Command("tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	extract.Stdin = pipe
	if err := extract.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s charts/tollgate: %v", ref, err)
	}
	if err := extract.Wait(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "charts", "tollgate"), ref
}

// TestChartUpgradeUnderLoad installs the previous chart, runs its pod as a
// container behind a readiness-following proxy (the Service), then, while
// clients create pods without pause, runs `helm upgrade` to this chart with
// the built image's digest, starts the new pod from the upgraded
// Deployment, and stops the old one, as a rolling update does. No
// admission may fail: every privileged pod refused, every compliant one
// admitted.
func TestChartUpgradeUnderLoad(t *testing.T) {
	img := theImage(t)
	ctx := context.Background()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	old, ref := previousChart(t, root)
	installCertManagerCRDs(t)
	deleteWebhooks(t)
	restoreWebhooksAfter(t)
	proxy := newReadyProxy(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helm := func(args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(toolsDir(root), "helm"), append(args, "--kubeconfig", env.cp.Kubeconfig, "--post-renderer", self)...)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=https://127.0.0.1:%d", postRenderURL, proxy.port()))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	values := filepath.Join(root, "conformance", "chart", "testdata", "values-default.yaml")
	helm("install", "tollgate", old, "--namespace", "tollgate-system", "--create-namespace", "-f", values)
	// The previous chart's replica runs this build's image (there is no
	// other here) under the previous chart's ClusterRole, which may not
	// grant what this build reads (Nodes, PolicyExceptions): Tollgate then
	// reads them as none and becomes ready anyway (state.Informers.Denied).
	defer func() {
		cmd := exec.Command(filepath.Join(toolsDir(root), "helm"), "uninstall", "tollgate", "--namespace", "tollgate-system", "--kubeconfig", env.cp.Kubeconfig)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("helm uninstall: %v\n%s", err, out)
		}
	}()

	// What cert-manager and its cainjector would write.
	ca, err := certs.NewCA("corp-ca", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := certs.NewServing(ca, []string{"tollgate.tollgate-system.svc"}, []net.IP{net.ParseIP("127.0.0.1")}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "tollgate-webhook-tls", Namespace: "tollgate-system"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": leaf.CertPEM, "tls.key": leaf.KeyPEM, "ca.crt": ca.CertPEM},
	}
	// Replace a Secret an earlier test left, which another CA signed.
	if err := env.cs.CoreV1().Secrets("tollgate-system").Delete(ctx, secret.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if _, err := env.cs.CoreV1().Secrets("tollgate-system").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = env.cs.CoreV1().Secrets("tollgate-system").Delete(ctx, secret.Name, metav1.DeleteOptions{})
	}()
	setCABundle(t, ca.CertPEM)

	// A replica of the Deployment as it stands, as a container.
	replica := func() container {
		t.Helper()
		dep, err := env.cs.AppsV1().Deployments("tollgate-system").Get(ctx, "tollgate", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod := dep.Spec.Template.Spec
		c := pod.Containers[0]
		spec := podmanSpec(t, pod, c, "tollgate-system")
		spec.mounts[serviceAccountVolume(t, pod.ServiceAccountName)] = "/var/run/secrets/kubernetes.io/serviceaccount"
		host, apiPort, _ := strings.Cut(strings.TrimPrefix(env.cp.Config.Host, "https://"), ":")
		spec.env = append(spec.env, "KUBERNETES_SERVICE_HOST="+host, "KUBERNETES_SERVICE_PORT="+apiPort)
		port := freePort()
		for _, a := range c.Args {
			switch {
			case strings.HasPrefix(a, "--port="):
				a = "--port=" + strconv.Itoa(port)
			case strings.HasPrefix(a, "--metrics-bind-address="), strings.HasPrefix(a, "--health-probe-bind-address="):
				continue
			}
			spec.args = append(spec.args, a)
		}
		spec.args = append(spec.args, "--host=127.0.0.1")
		r := startContainer(t, img, spec)
		proxy.add(backend{addr: fmt.Sprintf("127.0.0.1:%d", port), probe: r.probe})
		return r
	}
	a := replica()
	ns := namespace(nil)
	if err := waitFor(60*time.Second, func() error {
		_, err := env.cs.CoreV1().Pods(ns).Create(ctx, privilegedPod("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil || !strings.Contains(err.Error(), "pss.baseline.privileged") {
			return fmt.Errorf("the previous chart's replica does not refuse yet: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, a.out.String())
	}

	load := startPodLoad(ns)
	time.Sleep(time.Second)
	helm("upgrade", "tollgate", filepath.Join(root, "charts", "tollgate"), "--namespace", "tollgate-system", "-f", values,
		"--set", "image.digest="+img.indexDigest)
	upgraded := load.requests.Load()
	b := replica()
	time.Sleep(time.Second) // the proxy sees B ready, as endpoints would
	a.stop()
	stopped := load.requests.Load()
	time.Sleep(2 * time.Second)
	load.end()
	total := load.requests.Load()
	t.Logf("upgrade from the chart at %s: %d requests (%d until helm upgrade returned, %d while both ran, %d on the new replica alone; %s), %d failed",
		ref, total, upgraded, stopped-upgraded, total-stopped, load.latency(), load.failures.Load())
	if load.failures.Load() > 0 {
		t.Errorf("%d admissions failed during the upgrade; first: %v\nnew replica:\n%s", load.failures.Load(), load.firstFailures(), b.out.String())
	}
	if total-stopped < 10 {
		t.Errorf("the new replica served only %d requests on its own", total-stopped)
	}
	dep, err := env.cs.AppsV1().Deployments("tollgate-system").Get(ctx, "tollgate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dep.Spec.Template.Spec.Containers[0].Image, "ghcr.io/tollgate-dev/tollgate@"+img.indexDigest; got != want {
		t.Errorf("after the upgrade the Deployment runs %s, want %s", got, want)
	}
}
