//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/certs"
	"github.com/tollgate-dev/tollgate/internal/controlplane"
)

// TestChartSelfSigned installs the chart with helm into the real API server
// in self-signed mode, runs Tollgate with the arguments and the identity
// (ServiceAccount, through impersonation, so the chart's RBAC is what it
// gets) that the chart gives it, passes the admission cases through it, and
// checks that helm uninstall leaves no webhook configuration behind.
func TestChartSelfSigned(t *testing.T) {
	chartCase(t, "self-signed", nil)
}

// TestChartCertManager does the same in cert-manager mode, with
// cert-manager's CRDs installed and the Secret and caBundle provided the way
// cert-manager and its cainjector write them.
func TestChartCertManager(t *testing.T) {
	installCertManagerCRDs(t)
	chartCase(t, "default", func(certDir string) {
		ca, err := certs.NewCA("corp-ca", time.Now(), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := certs.NewServing(ca, []string{"tollgate.tollgate-system.svc"}, []net.IP{net.ParseIP("127.0.0.1")}, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "tollgate-webhook-tls", Namespace: "tollgate-system",
				Annotations: map[string]string{"cert-manager.io/certificate-name": "tollgate-webhook"}},
			Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": leaf.CertPEM, "tls.key": leaf.KeyPEM, "ca.crt": ca.CertPEM},
		}
		if _, err := env.cs.CoreV1().Secrets("tollgate-system").Create(context.Background(), secret, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		// What the kubelet mounts from that Secret.
		for k, v := range secret.Data {
			if err := os.WriteFile(filepath.Join(certDir, k), v, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// What cainjector writes, following cert-manager.io/inject-ca-from.
		setCABundle(t, ca.CertPEM)
	})
}

func chartCase(t *testing.T, valueSet string, provideCerts func(certDir string)) {
	ctx := context.Background()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	helm := filepath.Join(toolsDir(root), "helm")
	// The chart owns the webhook configurations named "tollgate": take the
	// suite's own out of the way, and put them back afterwards.
	deleteWebhooks(t)
	restoreWebhooksAfter(t)
	run := func(args ...string) string {
		cmd := exec.Command(helm, append(args, "--kubeconfig", env.cp.Kubeconfig)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("install", "tollgate", filepath.Join(root, "charts", "tollgate"), "--namespace", "tollgate-system", "--create-namespace",
		"-f", filepath.Join(root, "conformance", "chart", "testdata", "values-"+valueSet+".yaml"))
	uninstalled := false
	defer func() {
		if !uninstalled {
			run("uninstall", "tollgate", "--namespace", "tollgate-system")
		}
	}()

	// Point the chart's webhooks at the local process: there is no Service
	// network here. Everything else stays as the chart rendered it.
	port := freePort()
	pointAt(t, port)
	certDir := t.TempDir()
	if provideCerts != nil {
		provideCerts(certDir)
	}

	// The arguments the chart gives the container, with paths and ports
	// made local.
	dep, err := env.cs.AppsV1().Deployments("tollgate-system").Get(ctx, "tollgate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := env.cs.CoreV1().ConfigMaps("tollgate-system").Get(ctx, "tollgate-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(cm.Data["config.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, a := range dep.Spec.Template.Spec.Containers[0].Args[1:] {
		switch {
		case strings.HasPrefix(a, "--config="):
			a = "--config=" + cfg
		case strings.HasPrefix(a, "--cert-dir="):
			a = "--cert-dir=" + certDir
		case strings.HasPrefix(a, "--port="):
			a = "--port=" + strconv.Itoa(port)
		case strings.HasPrefix(a, "--metrics-bind-address="), strings.HasPrefix(a, "--health-probe-bind-address="):
			continue // set by startTollgateWith
		}
		args = append(args, a)
	}
	if valueSet == "self-signed" {
		args = append(args, "--cert-ip-sans=127.0.0.1")
	}
	kubeconfig := impersonating(t, "system:serviceaccount:tollgate-system:tollgate")
	tg, err := startTollgateAs(kubeconfig, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.stop()

	// The admission cases, through the chart's configuration.
	ns := namespace(nil)
	if err := waitFor(30*time.Second, func() error {
		_, err := env.cs.CoreV1().Pods(ns).Create(ctx, restrictedPod("chart-ok"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}); err != nil {
		t.Fatalf("a compliant pod is not admitted through the chart's webhooks: %v\n%s", err, tg.out.String())
	}
	_, err = env.cs.CoreV1().Pods(ns).Create(ctx, privilegedPod("chart-root"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil || !strings.Contains(err.Error(), "pss.baseline.privileged") {
		t.Fatalf("a privileged pod was not refused through the chart's webhooks: %v", err)
	}
	if _, err := env.cs.CoreV1().Pods("tollgate-system").Create(ctx, privilegedPod("own-namespace"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("Tollgate's own namespace is not excluded: %v", err)
	}
	if strings.Contains(tg.out.String(), "forbidden") {
		t.Errorf("the chart's RBAC does not cover what Tollgate does:\n%s", tg.out.String())
	}

	tg.stop()
	run("uninstall", "tollgate", "--namespace", "tollgate-system")
	uninstalled = true
	for _, check := range []func() error{
		func() error {
			_, err := env.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "tollgate", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := env.cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "tollgate", metav1.GetOptions{})
			return err
		},
	} {
		if err := check(); !apierrors.IsNotFound(err) {
			t.Errorf("a webhook configuration outlived helm uninstall (err=%v)", err)
		}
	}
}

func toolsDir(root string) string {
	if d := os.Getenv("TOLLGATE_TOOLS_DIR"); d != "" {
		return d
	}
	return filepath.Join(root, "bin")
}

func deleteWebhooks(t *testing.T) {
	ctx := context.Background()
	ar := env.cs.AdmissionregistrationV1()
	if err := ar.ValidatingWebhookConfigurations().Delete(ctx, "tollgate", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if err := ar.MutatingWebhookConfigurations().Delete(ctx, "tollgate", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// pointAt replaces the chart's Service reference with a URL on loopback.
func pointAt(t *testing.T, port int) {
	editClientConfigs(t, func(cc *admissionregistrationv1.WebhookClientConfig) {
		cc.URL, cc.Service = ptr.To(fmt.Sprintf("https://127.0.0.1:%d%s", port, *cc.Service.Path)), nil
	})
}

func setCABundle(t *testing.T, ca []byte) {
	editClientConfigs(t, func(cc *admissionregistrationv1.WebhookClientConfig) { cc.CABundle = ca })
}

// editClientConfigs applies edit to the client config of every webhook in
// the configurations named "tollgate".
func editClientConfigs(t *testing.T, edit func(*admissionregistrationv1.WebhookClientConfig)) {
	t.Helper()
	ctx := context.Background()
	ar := env.cs.AdmissionregistrationV1()
	v, err := ar.ValidatingWebhookConfigurations().Get(ctx, "tollgate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range v.Webhooks {
		edit(&v.Webhooks[i].ClientConfig)
	}
	if _, err := ar.ValidatingWebhookConfigurations().Update(ctx, v, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := ar.MutatingWebhookConfigurations().Get(ctx, "tollgate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Webhooks {
		edit(&m.Webhooks[i].ClientConfig)
	}
	if _, err := ar.MutatingWebhookConfigurations().Update(ctx, m, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// impersonating writes a kubeconfig that acts as the given ServiceAccount.
func impersonating(t *testing.T, user string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(env.cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ns := strings.Split(user, ":")[2]
	for _, ai := range cfg.AuthInfos {
		ai.Impersonate = user
		ai.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
	}
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func installCertManagerCRDs(t *testing.T) {
	t.Helper()
	root, _ := controlplane.RepoRoot()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds", "cert-manager.io_*.yaml"))
	if len(files) == 0 {
		t.Fatal("cert-manager CRDs not found in the module")
	}
	cs, err := apiextensionsclient.NewForConfig(env.cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(b, &crd); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.ApiextensionsV1().CustomResourceDefinitions().Create(context.Background(), &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		if err := waitFor(30*time.Second, func() error {
			c, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(context.Background(), crd.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			for _, cond := range c.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
			return fmt.Errorf("%s not established", crd.Name)
		}); err != nil {
			t.Fatal(err)
		}
	}
}
