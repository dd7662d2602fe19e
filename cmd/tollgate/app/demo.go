package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tollgate-dev/tollgate/internal/controlplane"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/webhookconfig"
)

// NewDemoCommand runs Tollgate's main job on its embedded default: a real
// local control plane, the webhooks registered with a self-signed
// certificate, and the examples applied through them.
func NewDemoCommand(s IOStreams) *cobra.Command {
	d := &demo{s: s, out: s.Out}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a local control plane with Tollgate's webhooks and apply examples/ through them",
		Long: `Start a real kube-apiserver and etcd on this machine (built from Go modules
on first use, about 5 minutes; cached in bin/k8s after that), run Tollgate's
webhook server with a self-signed certificate, apply the cluster state of
examples/ that no Tollgate webhook receives (namespaces, quotas, service
accounts), register the webhooks, apply the rest, and print what the API
server answered for each object: its refusal, its warnings, and what
Tollgate's webhooks changed in the pod it stored (against the pod the API
server stores without them, from a dry run before the webhooks were
registered). Then an audit of what is running. --keep leaves everything
running for kubectl.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return d.run(ctx)
		},
	}
	d.policy.add(cmd.Flags())
	cmd.Flags().StringArrayVarP(&d.files, "filename", "f", []string{"examples"}, "manifests to apply (files or directories)")
	cmd.Flags().BoolVar(&d.keep, "keep", false, "leave the control plane and Tollgate running and print a KUBECONFIG path")
	return cmd
}

// demo is one run of `tollgate demo`, step by step.
type demo struct {
	s      IOStreams
	out    io.Writer
	policy policyFlags
	files  []string
	keep   bool

	// logs collects the control plane's and Tollgate's logs, shown only
	// when a step fails.
	logs lockedBuffer
	cp   *controlplane.ControlPlane
	// stopServe stops the in-process webhook server and waits for it.
	stopServe func() error
}

func (d *demo) step(n int, format string, args ...any) {
	fmt.Fprintf(d.out, "[%d/7] %s\n", n, fmt.Sprintf(format, args...))
}

func (d *demo) run(ctx context.Context) (err error) {
	// Before anything logs through controller-runtime (the control plane
	// does, and a first build takes minutes): otherwise controller-runtime
	// prints its "log.SetLogger(...) was never called" trace.
	ctrl.SetLogger(zap.New(zap.WriteTo(&d.logs)))
	docs, err := d.manifests()
	if err != nil {
		return err
	}
	cfg, e, err := d.policy.load(ctx)
	if err != nil {
		return err
	}
	// On an early return; after a clean run everything is stopped already.
	defer func() { err = errors.Join(err, d.stop()) }()
	if err := d.startControlPlane(); err != nil {
		return err
	}
	if err := d.startTollgate(ctx, e); err != nil {
		return d.withLogs(err)
	}
	a, err := newApplier(d.cp.Config)
	if err != nil {
		return err
	}
	hooks := d.webhooks()
	before, after := splitByWebhooks(docs, a, hooks)
	d.step(4, "cluster state the policies read, applied before the webhooks (no Tollgate webhook receives these kinds)")
	counts := a.applyAll(ctx, d.out, before)
	// What the API server stores for each pod without Tollgate: the base
	// of the MUTATED lines, so that they show what the webhooks changed.
	a.recordBaselines(ctx, after)
	// The probes' warnings (quota, Spot) are not the demo's output.
	quiet := rest.CopyConfig(d.cp.Config)
	quiet.WarningHandler = rest.NoWarnings{}
	cs, err := kubernetes.NewForConfig(quiet)
	if err != nil {
		return err
	}
	if err := d.registerWebhooks(ctx, cs, hooks); err != nil {
		return d.withLogs(err)
	}
	d.step(6, "applying %s (%d objects) through the API server", strings.Join(d.files, ", "), len(after))
	for k, n := range a.applyAll(ctx, d.out, after) {
		counts[k] += n
	}
	fmt.Fprintf(d.out, "      %d admitted, %d mutated, %d denied, %d skipped\n", counts["ADMITTED"], counts["MUTATED"], counts["DENIED"], counts["SKIPPED"])
	d.step(7, "audit of what is now running")
	if err := auditDemo(ctx, d.out, d.cp.Config, cfg, e); err != nil {
		fmt.Fprintf(d.out, "      audit failed: %v\n", err)
	}
	if d.keep {
		d.wait(ctx)
	}
	if err := d.stop(); err != nil {
		return fmt.Errorf("stopping the control plane: %w", err)
	}
	fmt.Fprintln(d.out, "Stopped Tollgate and the control plane.")
	return nil
}

// manifests loads what the demo applies; Tollgate's own files (PolicyTest
// suites) are not cluster objects.
func (d *demo) manifests() ([]manifest.Document, error) {
	if len(d.files) == 1 && d.files[0] == "examples" {
		if root, err := controlplane.RepoRoot(); err == nil {
			d.files[0] = filepath.Join(root, "examples")
		}
	}
	docs, err := manifest.Load(d.files, manifest.Options{Strict: true})
	if err != nil {
		return nil, usageError(err)
	}
	return slices.DeleteFunc(docs, func(doc manifest.Document) bool { return doc.Object.GVK.Group == "tollgate.dev" }), nil
}

// startControlPlane builds (first run) and starts etcd and kube-apiserver
// with the CRDs of conformance/crds.
func (d *demo) startControlPlane() error {
	d.step(1, "control plane binaries (kube-apiserver %s, etcd %s)", controlplane.KubernetesVersion, controlplane.EtcdVersion)
	bin, err := controlplane.Ensure(d.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "      in %s\n", bin)
	d.step(2, "starting etcd and kube-apiserver")
	start := time.Now()
	var crds []string
	if root, err := controlplane.RepoRoot(); err == nil {
		crds, _ = filepath.Glob(filepath.Join(root, "conformance", "crds", "*.yaml"))
	}
	if d.cp, err = controlplane.Start(controlplane.Options{BinDir: bin, CRDPaths: crds}); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "      up in %s at %s\n", time.Since(start).Round(time.Millisecond), d.cp.Config.Host)
	return nil
}

// startTollgate runs `tollgate serve` in process against the control
// plane, with the certificate the control plane trusts, and waits until
// it is ready.
func (d *demo) startTollgate(ctx context.Context, e *engine.Engine) error {
	d.step(3, "starting Tollgate's webhook server on 127.0.0.1:%d (self-signed certificate)", d.cp.WebhookPort)
	probe, err := freeLocalAddr()
	if err != nil {
		return err
	}
	serveCtx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- runServe(serveCtx, IOStreams{Out: &d.logs, ErrOut: &d.logs}, serveOptions{
			policy: d.policy, kubeconfig: d.cp.Kubeconfig, certDir: d.cp.WebhookCertDir,
			host: "127.0.0.1", port: d.cp.WebhookPort, metricsAddr: "0", probeAddr: probe,
			releaseNamespace: "tollgate-system", certs: certOptions{mode: "files"},
			cacheSyncWarning: time.Minute,
		})
	}()
	d.stopServe = func() error {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				return fmt.Errorf("tollgate serve: %w", err)
			}
			return nil
		case <-time.After(15 * time.Second):
			return errors.New("tollgate serve did not stop within 15s")
		}
	}
	if err := waitReady(ctx, probe, served); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "      ready with %d policies\n", len(e.Policies()))
	return nil
}

// webhooks are Tollgate's webhook configurations for the demo's control
// plane, as the chart would install them.
func (d *demo) webhooks() webhookSet {
	o := webhookconfig.Defaults()
	o.URL = fmt.Sprintf("https://127.0.0.1:%d", d.cp.WebhookPort)
	o.CABundle = d.cp.WebhookCA
	return webhookSet{validating: webhookconfig.Validating(o), mutating: webhookconfig.Mutating(o)}
}

// registerWebhooks creates Tollgate's webhook configurations and waits
// until the API server calls both webhooks: it picks configurations up
// from a watch, so it polls with dry-run creations that only an active
// webhook answers the way Tollgate does.
func (d *demo) registerWebhooks(ctx context.Context, cs kubernetes.Interface, hooks webhookSet) error {
	d.step(5, "registering the webhooks (ValidatingWebhookConfiguration and MutatingWebhookConfiguration %q)", "tollgate")
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, hooks.validating, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, hooks.mutating, metav1.CreateOptions{}); err != nil {
		return err
	}
	start := time.Now()
	if err := waitForWebhooks(ctx, cs, 30*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "      the API server calls both webhooks (after %s)\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// wait keeps everything running for kubectl until Ctrl-C.
func (d *demo) wait(ctx context.Context) {
	// A copy at a fixed path, so that the command below stays the same.
	path := filepath.Join(os.TempDir(), "tollgate-demo.kubeconfig")
	b, err := os.ReadFile(d.cp.Kubeconfig)
	if err == nil {
		err = os.WriteFile(path, b, 0o600)
	}
	if err != nil {
		path = d.cp.Kubeconfig
	}
	fmt.Fprintf(d.out, "\nThe control plane and Tollgate keep running. Try:\n  export KUBECONFIG=%s\n  kubectl get pods -A\nPress Ctrl-C to stop.\n", path)
	<-ctx.Done()
}

// stop stops Tollgate, then the control plane; it is safe to call twice.
func (d *demo) stop() error {
	var errs []error
	if d.stopServe != nil {
		errs = append(errs, d.stopServe())
		d.stopServe = nil
	}
	if d.cp != nil {
		errs = append(errs, d.cp.Stop())
		d.cp = nil
	}
	return errors.Join(errs...)
}

func (d *demo) withLogs(err error) error {
	return fmt.Errorf("%w\n--- control plane and tollgate serve log ---\n%s", err, d.logs.String())
}

func waitReady(ctx context.Context, probe string, served <-chan error) error {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-served:
			return fmt.Errorf("tollgate serve stopped: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := http.Get("http://" + probe + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("tollgate serve was not ready within 90s")
}

func freeLocalAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// splitByWebhooks splits the manifests into the cluster state no Tollgate
// webhook receives (applied first, namespaces before the rest, as
// `kubectl apply -f dir` users do) and everything else, in file order.
func splitByWebhooks(docs []manifest.Document, a *applier, hooks webhookSet) (before, after []manifest.Document) {
	for _, doc := range docs {
		if state.IsState(doc.Object) && !hooks.receive(a.mapping(doc.Object)) {
			before = append(before, doc)
		} else {
			after = append(after, doc)
		}
	}
	sort.SliceStable(before, func(i, j int) bool {
		return before[i].Object.GroupKind() == kubeobjects.Namespace && before[j].Object.GroupKind() != kubeobjects.Namespace
	})
	return before, after
}

// lockedBuffer collects logs written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
