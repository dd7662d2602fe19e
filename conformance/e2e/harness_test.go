//go:build e2e

// Package e2e runs Tollgate against a real kube-apiserver and etcd (built
// from Go modules by scripts/controlplane.sh): the API server itself calls
// the webhooks over TLS, with the webhook configurations Tollgate ships.
// Run it with `go test -tags e2e ./conformance/e2e/`.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/controlplane"
	"github.com/tollgate-dev/tollgate/internal/webhookconfig"
)

// env is the shared control plane and Tollgate process of the suite.
var env struct {
	cp        *controlplane.ControlPlane
	bin       string
	cs        *kubernetes.Clientset
	tollgate  *tollgate
	auditLog  string
	configDir string

	mu      sync.Mutex
	started []*tollgate // every Tollgate process, for the log check
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return 1, err
	}
	if _, err := controlplane.Ensure(os.Stderr); err != nil {
		return 1, err
	}
	work, err := os.MkdirTemp("", "tollgate-e2e-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(work)
	env.configDir = work
	env.auditLog = filepath.Join(work, "audit.log")
	policy := filepath.Join(work, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  resources: [{group: \"\", resources: [pods]}]\n"), 0o644); err != nil {
		return 1, err
	}
	crds, _ := filepath.Glob(filepath.Join(root, "conformance", "crds", "*.yaml"))
	start := time.Now()
	cp, err := controlplane.Start(controlplane.Options{
		CRDPaths: crds,
		ExtraAPIServerFlags: map[string]string{
			"audit-policy-file": policy,
			"audit-log-path":    env.auditLog,
			"audit-log-mode":    "blocking",
			"audit-log-format":  "json",
		},
	})
	if err != nil {
		return 1, err
	}
	defer func() {
		if err := cp.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: stopping the control plane: %v\n", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "e2e: control plane up in %s\n", time.Since(start).Round(time.Millisecond))
	env.cp = cp
	quiet := rest.CopyConfig(cp.Config)
	quiet.WarningHandler = rest.NoWarnings{}
	if env.cs, err = kubernetes.NewForConfig(quiet); err != nil {
		return 1, err
	}
	env.bin = filepath.Join(work, "tollgate")
	build := exec.Command("go", "build", "-o", env.bin, "./cmd/tollgate")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 1, fmt.Errorf("building tollgate: %w", err)
	}
	if env.tollgate, err = startTollgate(); err != nil {
		return 1, err
	}
	defer func() { env.tollgate.stop() }()
	if err := installWebhooks(admissionregistrationv1.Fail); err != nil {
		return 1, err
	}
	code := m.Run()
	if err := logsHoldNoSecrets(); err != nil {
		return 1, err
	}
	return code, nil
}

// logsHoldNoSecrets checks what every Tollgate process of the suite wrote
// at default verbosity: no private key, AWS secret, bearer token or IAM
// policy document may appear in it.
func logsHoldNoSecrets() error {
	secrets := map[string]string{
		"PRIVATE KEY":          "a PEM private key",
		"tollgate-test-secret": "the AWS secret access key",
		`"Statement"`:          "an IAM policy document",
		"Statement%22":         "an IAM policy document (URL-encoded)",
	}
	if key, err := os.ReadFile(filepath.Join(env.cp.WebhookCertDir, "tls.key")); err == nil {
		// A line of the serving key's base64 body.
		if lines := strings.Split(string(key), "\n"); len(lines) > 2 {
			secrets[lines[1]] = "the webhook serving key"
		}
	}
	if env.cp.Config.BearerToken != "" {
		secrets[env.cp.Config.BearerToken] = "the API server bearer token"
	}
	env.mu.Lock()
	defer env.mu.Unlock()
	var found []string
	for i, t := range env.started {
		out := t.out.String()
		for s, what := range secrets {
			if strings.Contains(out, s) {
				found = append(found, fmt.Sprintf("Tollgate process %d (%s) logged %s", i, strings.Join(t.cmd.Args[1:], " "), what))
			}
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("secrets in logs:\n%s", strings.Join(found, "\n"))
	}
	fmt.Fprintf(os.Stderr, "e2e: the logs of %d Tollgate processes hold no secret\n", len(env.started))
	return nil
}

// tollgate is a running `tollgate serve` process.
type tollgate struct {
	cmd     *exec.Cmd
	out     *syncBuffer
	probe   string
	metrics string
	done    chan struct{}
}

// baseConfig is the configuration the suite's Tollgate runs with: a Pod
// Identity association for the credentials cases, and AWS region settings.
const baseConfig = `releaseNamespace: tollgate-system
mutators:
  credentials:
    region: us-west-2
    associations:
      e2e-pod-identity/assoc-sa: arn:aws:iam::123456789012:role/pod-identity-role
`

// hermeticEnv is the environment of a Tollgate process: nothing of the
// test runner's AWS setup leaks in, and instance metadata is off. Extra
// "KEY=value" entries are added.
func hermeticEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	return append(env, extra...)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startTollgate runs the built binary as production does, serving the key
// pair envtest generated, and waits until it is ready.
func startTollgate() (*tollgate, error) {
	return startTollgateWith("--cert-dir", env.cp.WebhookCertDir, "--port", fmt.Sprint(env.cp.WebhookPort))
}

// startTollgateWith runs `tollgate serve` with extra flags, as the admin.
func startTollgateWith(extra ...string) (*tollgate, error) {
	return startTollgateAs(env.cp.Kubeconfig, extra...)
}

// startTollgateAs runs `tollgate serve` with a kubeconfig (an identity).
func startTollgateAs(kubeconfig string, extra ...string) (*tollgate, error) {
	return startTollgateEnv(kubeconfig, hermeticEnv(), extra...)
}

// startTollgateEnv runs `tollgate serve` with a kubeconfig and environment.
func startTollgateEnv(kubeconfig string, environ []string, extra ...string) (*tollgate, error) {
	probe := freeAddr()
	cfg := filepath.Join(env.configDir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(baseConfig), 0o644); err != nil {
		return nil, err
	}
	t := &tollgate{out: &syncBuffer{}, probe: probe, metrics: freeAddr(), done: make(chan struct{})}
	args := append([]string{"serve",
		"--kubeconfig", kubeconfig,
		"--config", cfg,
		"--host", "127.0.0.1",
		"--metrics-bind-address", t.metrics, "--metrics-secure=false",
		"--health-probe-bind-address", probe,
		"--release-namespace", "tollgate-system",
	}, extra...)
	t.cmd = exec.Command(env.bin, args...)
	env.mu.Lock()
	env.started = append(env.started, t)
	env.mu.Unlock()
	t.cmd.Env = environ
	t.cmd.Stdout, t.cmd.Stderr = t.out, t.out
	if err := t.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = t.cmd.Wait(); close(t.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-t.done:
			return nil, fmt.Errorf("tollgate serve exited:\n%s", t.out.String())
		default:
		}
		resp, err := http.Get("http://" + probe + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return t, nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.stop()
	return nil, fmt.Errorf("tollgate serve not ready within 60s:\n%s", t.out.String())
}

func (t *tollgate) stop() {
	if t == nil || t.cmd.Process == nil {
		return
	}
	_ = t.cmd.Process.Signal(os.Interrupt)
	select {
	case <-t.done:
	case <-time.After(15 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.done
	}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// installWebhooks creates (or replaces) the webhook configurations exactly
// as Tollgate ships them, pointed at the local webhook server.
func installWebhooks(fp admissionregistrationv1.FailurePolicyType) error {
	return installWebhooksAt(env.cp.WebhookPort, env.cp.WebhookCA, fp)
}

// restoreWebhooksAfter puts the suite's own webhook configurations back
// (the shared Tollgate, failurePolicy Fail) once a test that pointed them
// elsewhere ends.
func restoreWebhooksAfter(t *testing.T) {
	t.Cleanup(func() {
		if err := installWebhooks(admissionregistrationv1.Fail); err != nil {
			t.Error(err)
		}
	})
}

func installWebhooksAt(port int, ca []byte, fp admissionregistrationv1.FailurePolicyType) error {
	o := webhookconfig.Defaults()
	o.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
	o.CABundle = ca
	o.ValidatingFailurePolicy = fp
	ctx := context.Background()
	ar := env.cs.AdmissionregistrationV1()
	v := webhookconfig.Validating(o)
	_ = ar.ValidatingWebhookConfigurations().Delete(ctx, v.Name, metav1.DeleteOptions{})
	if _, err := ar.ValidatingWebhookConfigurations().Create(ctx, v, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the validating webhook configuration: %w", err)
	}
	mw := webhookconfig.Mutating(o)
	_ = ar.MutatingWebhookConfigurations().Delete(ctx, mw.Name, metav1.DeleteOptions{})
	if _, err := ar.MutatingWebhookConfigurations().Create(ctx, mw, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the mutating webhook configuration: %w", err)
	}
	// The API server watches webhook configurations; wait until a probe
	// pod in a fresh namespace is refused, which proves the new
	// configuration is in effect.
	return waitFor(30*time.Second, func() error {
		if fp == admissionregistrationv1.Ignore {
			time.Sleep(2 * time.Second)
			return nil
		}
		ns := namespace(nil)
		_, err := env.cs.CoreV1().Pods(ns).Create(ctx, privilegedPod("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			return fmt.Errorf("webhook not active yet")
		}
		return nil
	})
}

func waitFor(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return err
}

var nsCounter struct {
	sync.Mutex
	n int
}

// namespace creates a fresh namespace with the given labels.
func namespace(labels map[string]string) string {
	nsCounter.Lock()
	nsCounter.n++
	name := fmt.Sprintf("e2e-%d-%d", time.Now().UnixNano()%100000, nsCounter.n)
	nsCounter.Unlock()
	return namedNamespace(name, labels, nil)
}

// namedNamespace creates (or reuses) a namespace with labels and
// annotations, and its "default" ServiceAccount. This control plane runs
// no controller-manager, so it is created here as the ServiceAccount
// controller would; without it every pod would cost Tollgate a live
// ServiceAccount read, which a cluster's ServiceAccount admission plugin
// never lets happen (it refuses pods whose ServiceAccount is missing).
func namedNamespace(name string, labels, annotations map[string]string) string {
	_, err := env.cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		panic(err)
	}
	_, err = env.cs.CoreV1().ServiceAccounts(name).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		panic(err)
	}
	return name
}

// warnings collects the warnings the API server returns to a client.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}

// clientWithWarnings returns a clientset whose warnings are recorded.
func clientWithWarnings(t *testing.T) (*kubernetes.Clientset, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(env.cp.Config)
	cfg.WarningHandler = w
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, w
}

// decode reads a manifest into obj.
func decode(t *testing.T, manifest string, obj any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(manifest), obj); err != nil {
		t.Fatalf("test manifest: %v", err)
	}
}

// podLoad creates pods (server-side dry run) from four clients without
// pause until stopped: every other pod is privileged and must be refused
// with pss.baseline.privileged, the rest admitted. Anything else counts as
// a failure.
type podLoad struct {
	requests, failures atomic.Int64
	mu                 sync.Mutex
	first              []string
	took               []time.Duration
	stop               chan struct{}
	wg                 sync.WaitGroup
}

func startPodLoad(ns string) *podLoad {
	l := &podLoad{stop: make(chan struct{})}
	// Without client-side throttling (client-go's default is 5 QPS), so
	// that the load is what the API server and Tollgate can take.
	cfg := rest.CopyConfig(env.cp.Config)
	cfg.QPS, cfg.Burst = 1000, 2000
	cfg.WarningHandler = rest.NoWarnings{}
	cs := kubernetes.NewForConfigOrDie(cfg)
	for w := range 4 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				pod, wantDenied := restrictedPod(fmt.Sprintf("load-%d-%d", w, i)), i%2 == 1
				if wantDenied {
					pod = privilegedPod(pod.Name)
				}
				start := time.Now()
				_, err := cs.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				took := time.Since(start)
				l.requests.Add(1)
				l.mu.Lock()
				l.took = append(l.took, took)
				l.mu.Unlock()
				ok := err == nil
				if wantDenied {
					ok = err != nil && strings.Contains(err.Error(), "pss.baseline.privileged")
				}
				if !ok {
					l.failures.Add(1)
					l.mu.Lock()
					if len(l.first) < 5 {
						l.first = append(l.first, fmt.Sprintf("%v (want denied=%v)", err, wantDenied))
					}
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

// end stops the clients and waits for them.
func (l *podLoad) end() {
	close(l.stop)
	l.wg.Wait()
}

// latency reports the median and 99th percentile of the requests so far.
func (l *podLoad) latency() string {
	l.mu.Lock()
	took := slices.Clone(l.took)
	l.mu.Unlock()
	if len(took) == 0 {
		return "no requests"
	}
	slices.Sort(took)
	return fmt.Sprintf("p50 %v, p99 %v", took[len(took)/2].Round(time.Millisecond/10), took[len(took)*99/100].Round(time.Millisecond/10))
}

// firstFailures describes up to five failed requests.
func (l *podLoad) firstFailures() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.first, "\n")
}
