package app

import (
	"context"
	"encoding/json"
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
	"gomodules.xyz/jsonpatch/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/tollgate-dev/tollgate/internal/controlplane"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/webhookconfig"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// NewDemoCommand runs Tollgate's main job on its embedded default: a real
// local control plane, the webhooks registered with a self-signed
// certificate, and the examples applied through them.
func NewDemoCommand(s IOStreams) *cobra.Command {
	var (
		pf    policyFlags
		files []string
		keep  bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a local control plane with Tollgate's webhooks and apply examples/ through them",
		Long: `Start a real kube-apiserver and etcd on this machine (built from Go modules
on first use, about 5 minutes; cached in bin/k8s after that), run Tollgate's
webhook server with a self-signed certificate, register the webhooks, apply
examples/, and print what was admitted, mutated and denied, followed by an
audit of what is running. --keep leaves everything running for kubectl.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, s, pf, files, keep)
		},
	}
	pf.add(cmd.Flags())
	cmd.Flags().StringArrayVarP(&files, "filename", "f", []string{"examples"}, "manifests to apply (files or directories)")
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the control plane and Tollgate running and print a KUBECONFIG path")
	return cmd
}

func runDemo(ctx context.Context, s IOStreams, pf policyFlags, files []string, keep bool) error {
	out := s.Out
	step := func(n int, format string, args ...any) {
		fmt.Fprintf(out, "[%d/6] %s\n", n, fmt.Sprintf(format, args...))
	}
	if len(files) == 1 && files[0] == "examples" {
		if root, err := controlplane.RepoRoot(); err == nil {
			files[0] = filepath.Join(root, "examples")
		}
	}
	docs, err := manifest.Load(files, manifest.Options{Strict: true})
	if err != nil {
		return usageError(err)
	}
	// Tollgate's own files (PolicyTest suites) are not cluster objects.
	docs = slices.DeleteFunc(docs, func(d manifest.Document) bool { return d.Object.GVK.Group == "tollgate.dev" })
	cfg, e, err := pf.load(ctx)
	if err != nil {
		return err
	}

	step(1, "control plane binaries (kube-apiserver %s, etcd %s)", controlplane.KubernetesVersion, controlplane.EtcdVersion)
	bin, err := controlplane.Ensure(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "      in %s\n", bin)

	step(2, "starting etcd and kube-apiserver")
	start := time.Now()
	var crds []string
	if root, err := controlplane.RepoRoot(); err == nil {
		crds, _ = filepath.Glob(filepath.Join(root, "conformance", "crds", "*.yaml"))
	}
	cp, err := controlplane.Start(controlplane.Options{BinDir: bin, CRDPaths: crds})
	if err != nil {
		return err
	}
	stopped := false
	stopAll := func() {}
	defer func() {
		if !stopped {
			stopAll()
			_ = cp.Stop()
		}
	}()
	fmt.Fprintf(out, "      up in %s at %s\n", time.Since(start).Round(time.Millisecond), cp.Config.Host)

	step(3, "starting Tollgate's webhook server on 127.0.0.1:%d (self-signed certificate)", cp.WebhookPort)
	serveCtx, cancelServe := context.WithCancel(ctx)
	logs := &lockedBuffer{}
	probe, err := freeLocalAddr()
	if err != nil {
		cancelServe()
		return err
	}
	served := make(chan error, 1)
	go func() {
		served <- runServe(serveCtx, IOStreams{Out: logs, ErrOut: logs}, serveOptions{
			policy: pf, kubeconfig: cp.Kubeconfig, certDir: cp.WebhookCertDir,
			host: "127.0.0.1", port: cp.WebhookPort, metricsAddr: "0", probeAddr: probe,
			releaseNamespace: "tollgate-system", certs: certOptions{mode: "files"},
		})
	}()
	stopAll = func() {
		cancelServe()
		select {
		case <-served:
		case <-time.After(15 * time.Second):
		}
	}
	if err := waitReady(ctx, probe, served); err != nil {
		return fmt.Errorf("%w\n--- tollgate serve log ---\n%s", err, logs.String())
	}
	fmt.Fprintf(out, "      ready with %d policies\n", len(e.Policies()))

	step(4, "registering the webhooks (ValidatingWebhookConfiguration and MutatingWebhookConfiguration %q)", "tollgate")
	cs, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		return err
	}
	o := webhookconfig.Defaults()
	o.URL = fmt.Sprintf("https://127.0.0.1:%d", cp.WebhookPort)
	o.CABundle = cp.WebhookCA
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, webhookconfig.Validating(o), metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, webhookconfig.Mutating(o), metav1.CreateOptions{}); err != nil {
		return err
	}
	// The API server picks configurations up from a watch; give it a moment.
	time.Sleep(1500 * time.Millisecond)

	step(5, "applying %s (%d objects) through the API server", strings.Join(files, ", "), len(docs))
	// Tollgate's own view of the same objects, to show what its mutators
	// changed and to check that the API server kept it.
	local, err := wiring.NewReviewer(engine.NewHolder(e), cfg, staticState(nil, docs), wiring.Deps{})
	if err != nil {
		return err
	}
	a, err := newApplier(cp.Config)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for _, d := range orderForApply(docs) {
		line := a.apply(ctx, d, local)
		counts[line.verdict]++
		line.print(out)
	}
	fmt.Fprintf(out, "      %d admitted, %d mutated, %d denied, %d skipped\n", counts["ADMITTED"], counts["MUTATED"], counts["DENIED"], counts["SKIPPED"])

	step(6, "audit of what is now running")
	if err := auditDemo(ctx, out, cp.Config, cfg, e); err != nil {
		fmt.Fprintf(out, "      audit failed: %v\n", err)
	}

	if keep {
		path := filepath.Join(os.TempDir(), "tollgate-demo.kubeconfig")
		if b, err := os.ReadFile(cp.Kubeconfig); err == nil {
			_ = os.WriteFile(path, b, 0o600)
		}
		fmt.Fprintf(out, "\nThe control plane and Tollgate keep running. Try:\n  export KUBECONFIG=%s\n  kubectl get pods -A\nPress Ctrl-C to stop.\n", path)
		<-ctx.Done()
	}
	stopAll()
	stopped = true
	if err := cp.Stop(); err != nil {
		return fmt.Errorf("stopping the control plane: %w", err)
	}
	fmt.Fprintln(out, "Stopped Tollgate and the control plane.")
	return nil
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

// orderForApply applies state first (namespaces, then the rest of the
// cluster state), then everything else, as `kubectl apply -f dir` users do.
func orderForApply(docs []manifest.Document) []manifest.Document {
	rank := func(d manifest.Document) int {
		switch gk := d.Object.GroupKind(); {
		case gk == kubeobjects.Namespace:
			return 0
		case state.IsState(d.Object) && gk != kubeobjects.NodePool:
			return 1
		}
		return 2
	}
	out := append([]manifest.Document(nil), docs...)
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

// applier creates objects through the API server and records warnings.
type applier struct {
	dyn      dynamic.Interface
	mapper   meta.RESTMapper
	warnings *warningLog
}

type warningLog struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningLog) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warningLog) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

func newApplier(cfg *rest.Config) (*applier, error) {
	w := &warningLog{}
	c := rest.CopyConfig(cfg)
	c.WarningHandler = w
	dyn, err := dynamic.NewForConfig(c)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(c)
	if err != nil {
		return nil, err
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), warnings: w}, nil
}

type applyLine struct {
	verdict string
	object  string
	details []string
}

func (l applyLine) print(w io.Writer) {
	fmt.Fprintf(w, "      %-8s  %s\n", l.verdict, l.object)
	for _, d := range l.details {
		fmt.Fprintf(w, "                %s\n", d)
	}
}

func (a *applier) resource(o *kubeobjects.Object) (dynamic.ResourceInterface, error) {
	m, err := a.mapper.RESTMapping(o.GroupKind(), o.GVK.Version)
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := o.Namespace
		if ns == "" {
			ns = "default"
		}
		return a.dyn.Resource(m.Resource).Namespace(ns), nil
	}
	return a.dyn.Resource(m.Resource), nil
}

func (a *applier) apply(ctx context.Context, d manifest.Document, local *review.Reviewer) applyLine {
	o := d.Object
	line := applyLine{object: o.Ref().String()}
	ri, err := a.resource(o)
	if err != nil {
		line.verdict, line.details = "SKIPPED", []string{fmt.Sprintf("no such API in this cluster: %v", err)}
		return line
	}
	var u unstructured.Unstructured
	if err := json.Unmarshal(o.Raw, &u.Object); err != nil {
		line.verdict, line.details = "SKIPPED", []string{err.Error()}
		return line
	}
	a.warnings.take()
	created, err := ri.Create(ctx, &u, metav1.CreateOptions{})
	warnings := a.warnings.take()
	if err != nil {
		line.verdict = "DENIED"
		// The reasons, one per line, from Tollgate's own review of the
		// object; anything else (the API server's own validation) as
		// the API server said it.
		if res, rerr := local.Review(ctx, &review.Request{Object: o, Operation: "CREATE", Mutate: true}); rerr == nil && !res.Allowed && strings.Contains(err.Error(), "Tollgate denied") {
			for _, d := range res.Denied() {
				line.details = append(line.details, d.Policy+": "+d.Message)
			}
			return line
		}
		var se apierrors.APIStatus
		msg := err.Error()
		if errors.As(err, &se) {
			msg = se.Status().Message
		}
		line.details = []string{msg}
		return line
	}
	line.verdict = "ADMITTED"
	if review.TargetOf(o) == "" {
		return line
	}
	// What Tollgate's mutators changed, checked against what was stored.
	if res, err := local.Review(ctx, &review.Request{Object: o, Operation: "CREATE", Mutate: true}); err == nil && len(res.Patch) > 0 {
		line.verdict = "MUTATED"
		stored, _ := json.Marshal(created.Object)
		for _, op := range res.Patch {
			mark := "kept"
			if !patchKept(stored, op) {
				mark = "NOT in the stored object"
			}
			line.details = append(line.details, fmt.Sprintf("%s %s %s  (%s)", op.Operation, op.Path, short(op.Value), mark))
		}
	}
	for _, w := range warnings {
		line.details = append(line.details, "warning: "+w)
	}
	return line
}

// patchKept reports whether a patch operation's result is in the stored
// object. The API server defaults what Tollgate added (a projected volume's
// defaultMode, default tolerations), so the stored value must contain the
// patch's value, not equal it.
func patchKept(stored []byte, op jsonpatch.Operation) bool {
	var doc any
	if json.Unmarshal(stored, &doc) != nil {
		return false
	}
	path := strings.TrimSuffix(op.Path, "/-")
	cur := doc
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			cur = c[seg]
		case []any:
			var i int
			if _, err := fmt.Sscan(seg, &i); err != nil || i < 0 || i >= len(c) {
				return false
			}
			cur = c[i]
		default:
			return false
		}
	}
	if op.Operation == "remove" {
		return cur == nil
	}
	var want any
	b, _ := json.Marshal(op.Value)
	_ = json.Unmarshal(b, &want)
	if strings.HasSuffix(op.Path, "/-") {
		arr, _ := cur.([]any)
		return slices.ContainsFunc(arr, func(el any) bool { return contains(el, want) })
	}
	return contains(cur, want)
}

// contains reports whether got holds want: objects key by key, lists
// element by element (each wanted element in some stored one), scalars
// equal.
func contains(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !contains(g[k], wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok {
			return false
		}
		for _, we := range w {
			if !slices.ContainsFunc(g, func(ge any) bool { return contains(ge, we) }) {
				return false
			}
		}
		return true
	}
	return fmt.Sprint(got) == fmt.Sprint(want)
}

func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

// lockedBuffer collects the in-process server's logs, shown only on failure.
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
