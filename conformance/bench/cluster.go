package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/tollgate-dev/tollgate/conformance/bench/baredecoder"
	"github.com/tollgate-dev/tollgate/internal/controlplane"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/webhookconfig"
)

// Cluster is a local control plane (etcd and kube-apiserver, no kubelet,
// scheduler or controllers) with clients that are not rate limited.
type Cluster struct {
	CP  *controlplane.ControlPlane
	CS  kubernetes.Interface
	Dyn dynamic.Interface
	// Config is the admin REST config, without client-side rate limits.
	Config *rest.Config
}

// StartCluster starts the control plane from bin/k8s (building it when
// missing) with the CRDs of conformance/crds installed.
func StartCluster(root string) (*Cluster, error) {
	bin, err := controlplane.Ensure(os.Stderr)
	if err != nil {
		return nil, err
	}
	crds, _ := filepath.Glob(filepath.Join(root, "conformance", "crds", "*.yaml"))
	cp, err := controlplane.Start(controlplane.Options{BinDir: bin, CRDPaths: crds})
	if err != nil {
		return nil, err
	}
	rc := rest.CopyConfig(cp.Config)
	// The harness measures the server, not client-go's token bucket.
	rc.QPS, rc.Burst = -1, 0
	// Tollgate's warnings on every benchmark request are expected.
	rc.WarningHandler = rest.NoWarnings{}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		_ = cp.Stop()
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		_ = cp.Stop()
		return nil, err
	}
	return &Cluster{CP: cp, CS: cs, Dyn: dyn, Config: rc}, nil
}

// Stop stops the control plane.
func (c *Cluster) Stop() error { return c.CP.Stop() }

// gvrs are the resources of the kinds the harness creates.
var gvrs = map[schema.GroupKind]schema.GroupVersionResource{
	{Kind: "Namespace"}:                            {Version: "v1", Resource: "namespaces"},
	{Kind: "ServiceAccount"}:                       {Version: "v1", Resource: "serviceaccounts"},
	{Kind: "ResourceQuota"}:                        {Version: "v1", Resource: "resourcequotas"},
	{Group: "policy", Kind: "PodDisruptionBudget"}: {Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	{Group: "karpenter.sh", Kind: "NodePool"}:      {Group: "karpenter.sh", Version: "v1", Resource: "nodepools"},
}

func init() {
	for kind, r := range resources {
		gvrs[schema.GroupKind{Group: r.Group, Kind: kind}] = schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}
	}
}

// resource returns the client for an object's kind and namespace.
func (c *Cluster) resource(u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gk := u.GroupVersionKind().GroupKind()
	gvr, ok := gvrs[gk]
	if !ok {
		return nil, fmt.Errorf("no resource known for %s", gk)
	}
	if gk.Kind == "Namespace" || gk.Kind == "NodePool" {
		return c.Dyn.Resource(gvr), nil
	}
	return c.Dyn.Resource(gvr).Namespace(u.GetNamespace()), nil
}

// Create creates an object given as JSON (or dry-runs it).
func (c *Cluster) Create(ctx context.Context, raw []byte, dryRun bool) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	r, err := c.resource(u)
	if err != nil {
		return nil, err
	}
	opts := metav1.CreateOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return r.Create(ctx, u, opts)
}

// Apply creates the state documents: namespaces first, each with the
// "default" ServiceAccount the controller manager would add, and
// ResourceQuotas with the status the quota controller would write (quota
// admission refuses pods while a quota has none).
func (c *Cluster) Apply(ctx context.Context, docs []manifest.Document) error {
	ordered := make([]manifest.Document, 0, len(docs))
	for _, first := range []bool{true, false} {
		for _, d := range docs {
			if (d.Object.GVK.Kind == "Namespace") == first {
				ordered = append(ordered, d)
			}
		}
	}
	for _, d := range ordered {
		u, err := c.Create(ctx, d.Object.Raw, false)
		if err != nil {
			return fmt.Errorf("%s: %w", d.Location(), err)
		}
		switch u.GetKind() {
		case "Namespace":
			if err := c.DefaultServiceAccount(ctx, u.GetName()); err != nil {
				return err
			}
		case "ResourceQuota":
			if err := c.QuotaStatus(ctx, u.GetNamespace(), u.GetName()); err != nil {
				return err
			}
		}
	}
	return nil
}

// DefaultServiceAccount creates a namespace's "default" ServiceAccount.
func (c *Cluster) DefaultServiceAccount(ctx context.Context, ns string) error {
	_, err := c.CS.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// QuotaStatus writes the status the quota controller would: hard as in the
// spec, nothing used.
func (c *Cluster) QuotaStatus(ctx context.Context, ns, name string) error {
	q, err := c.CS.CoreV1().ResourceQuotas(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	q.Status.Hard = q.Spec.Hard.DeepCopy()
	q.Status.Used = corev1.ResourceList{}
	for k := range q.Spec.Hard {
		q.Status.Used[k] = resource.MustParse("0")
	}
	_, err = c.CS.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, q, metav1.UpdateOptions{})
	return err
}

// probeNamespace is where webhook probes are dry-run: a namespace of the
// examples that Tollgate reviews.
const probeNamespace = "ai-inference"

// privilegedProbe is a pod every Tollgate configuration denies and the API
// server admits (it has the requests the examples' quota asks for).
func privilegedProbe() *corev1.Pod {
	req := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-probe", Namespace: probeNamespace},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "registry.k8s.io/pause:3.10",
			Resources:       corev1.ResourceRequirements{Requests: req, Limits: req},
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
		}}},
	}
}

// probe dry-runs privilegedProbe and reports whether Tollgate's validating
// webhook refused it.
func (c *Cluster) probe(ctx context.Context) (bool, error) {
	_, err := c.CS.CoreV1().Pods(probeNamespace).Create(ctx, privilegedProbe(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	switch {
	case err == nil:
		return false, nil
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "validate.tollgate.dev"):
		return true, nil
	}
	return false, err
}

// webhookOptions are the shipped configurations pointed at a local server.
func (c *Cluster) webhookOptions(port int) webhookconfig.Options {
	o := webhookconfig.Defaults()
	o.URL = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	o.CABundle = c.CP.WebhookCA
	return o
}

// InstallWebhooks registers Tollgate's webhook configurations, exactly as
// shipped, pointed at the server on port, and waits until the API server
// calls it (a privileged pod is refused).
func (c *Cluster) InstallWebhooks(ctx context.Context, port int) error {
	o := c.webhookOptions(port)
	ar := c.CS.AdmissionregistrationV1()
	if _, err := ar.ValidatingWebhookConfigurations().Create(ctx, webhookconfig.Validating(o), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the validating webhook configuration: %w", err)
	}
	if _, err := ar.MutatingWebhookConfigurations().Create(ctx, webhookconfig.Mutating(o), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the mutating webhook configuration: %w", err)
	}
	return waitFor(ctx, 60*time.Second, func() error {
		refused, err := c.probe(ctx)
		if err == nil && !refused {
			err = errors.New("the webhooks are not called yet")
		}
		return err
	})
}

// RemoveWebhooks deletes the configurations and waits until the API server
// stops calling them.
func (c *Cluster) RemoveWebhooks(ctx context.Context) error {
	name := webhookconfig.Defaults().Name
	ar := c.CS.AdmissionregistrationV1()
	if err := ar.ValidatingWebhookConfigurations().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err := ar.MutatingWebhookConfigurations().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return waitFor(ctx, 60*time.Second, func() error {
		refused, err := c.probe(ctx)
		if err == nil && refused {
			err = errors.New("the webhooks are still called")
		}
		return err
	})
}

// Capture replaces each entry's object and AdmissionReview with what the API
// server sends a webhook when the entry is created (server-side dry-run):
// the object defaulted and stamped by the API server, in the envelope it
// builds. A bare decoder on the control plane's webhook port records them
// while Tollgate's validating configuration points at it.
func (c *Cluster) Capture(ctx context.Context, corpus Corpus) error {
	var mu sync.Mutex
	var bodies [][]byte
	l, err := baredecoder.Listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(c.CP.WebhookPort)), c.CP.WebhookCertDir)
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- baredecoder.Serve(sctx, l, baredecoder.Handler(func(b []byte) {
			mu.Lock()
			defer mu.Unlock()
			bodies = append(bodies, b)
		}))
	}()
	defer func() {
		stop()
		if err := <-served; err != nil {
			fmt.Fprintf(os.Stderr, "bench: the bare decoder: %v\n", err)
		}
	}()

	o := c.webhookOptions(c.CP.WebhookPort)
	vwc := webhookconfig.Validating(o)
	vwc.Name = "tollgate-bench-capture"
	ar := c.CS.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	if _, err := ar.Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the capture webhook configuration: %w", err)
	}
	defer func() { _ = ar.Delete(context.Background(), vwc.Name, metav1.DeleteOptions{}) }()
	if err := waitFor(ctx, 60*time.Second, func() error {
		if _, err := c.probe(ctx); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) == 0 {
			return errors.New("the capture webhook is not called yet")
		}
		return nil
	}); err != nil {
		return err
	}

	for _, e := range corpus {
		mu.Lock()
		bodies = nil
		mu.Unlock()
		// Admission plugins that run after validating webhooks (quota)
		// may refuse an object the webhook has seen: that is fine here.
		_, err := c.Create(ctx, e.Submitted, true)
		mu.Lock()
		got := bodies
		mu.Unlock()
		if len(got) != 1 {
			return fmt.Errorf("dry-run create of %s: the webhook got %d requests, want 1 (%v)", e.Name, len(got), err)
		}
		var review struct {
			Request struct {
				Name      string          `json:"name"`
				Namespace string          `json:"namespace"`
				Object    json.RawMessage `json:"object"`
			} `json:"request"`
		}
		if err := json.Unmarshal(got[0], &review); err != nil {
			return err
		}
		if review.Request.Namespace != e.Namespace {
			return fmt.Errorf("dry-run create of %s: captured a request for namespace %s", e.Name, review.Request.Namespace)
		}
		e.Object, e.Review, e.Captured = review.Request.Object, got[0], true
	}
	return nil
}

// permanent marks an error that retrying cannot cure.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// waitFor retries f until it succeeds, returns a permanent error, or d has
// passed.
func waitFor(ctx context.Context, d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if errors.As(err, new(permanent)) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
