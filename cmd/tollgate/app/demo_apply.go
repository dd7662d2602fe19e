package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/manifest"
)

// applyAll creates the objects through the API server, prints for each
// what the API server answered (its refusal, its warnings, and what
// admission changed in the object it stored) and counts the verdicts.
func (a *applier) applyAll(ctx context.Context, out io.Writer, docs []manifest.Document) map[string]int {
	counts := map[string]int{}
	for _, doc := range docs {
		line := a.apply(ctx, doc)
		counts[line.verdict]++
		line.print(out)
	}
	return counts
}

// webhookSet is the pair of webhook configurations the demo registers.
type webhookSet struct {
	validating *admissionregistrationv1.ValidatingWebhookConfiguration
	mutating   *admissionregistrationv1.MutatingWebhookConfiguration
}

// receive reports whether any of the webhooks has a rule for the
// resource; an unknown resource counts as received.
func (h webhookSet) receive(m *meta.RESTMapping) bool {
	if m == nil {
		return true
	}
	var rules []admissionregistrationv1.RuleWithOperations
	for _, w := range h.validating.Webhooks {
		rules = append(rules, w.Rules...)
	}
	for _, w := range h.mutating.Webhooks {
		rules = append(rules, w.Rules...)
	}
	match := func(list []string, v string) bool { return slices.Contains(list, "*") || slices.Contains(list, v) }
	for _, r := range rules {
		if match(r.APIGroups, m.Resource.Group) && match(r.APIVersions, m.Resource.Version) && match(r.Resources, m.Resource.Resource) {
			return true
		}
	}
	return false
}

// waitForWebhooks polls, with dry-run creations in the default namespace,
// until the API server sends pods to both of Tollgate's webhooks: a
// privileged pod is refused by Tollgate, and a GPU pod comes back with
// the GPU toleration. Dry runs store nothing; Tollgate's webhooks have no
// side effects.
func waitForWebhooks(ctx context.Context, cs kubernetes.Interface, bound time.Duration) error {
	privileged := probePod("tollgate-demo-probe-privileged")
	privileged.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
	gpu := probePod("tollgate-demo-probe-gpu")
	gpu.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	pods := cs.CoreV1().Pods("default")
	deadline := time.Now().Add(bound)
	var validating, mutating bool
	var last error
	for !(validating && mutating) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server did not call Tollgate's webhooks within %s (validating %v, mutating %v; last answer: %v)", bound, validating, mutating, last)
		}
		if !validating {
			_, err := pods.Create(ctx, privileged, dry)
			validating = err != nil && strings.Contains(err.Error(), "Tollgate denied")
			last = err
		}
		if !mutating {
			got, err := pods.Create(ctx, gpu, dry)
			mutating = err == nil && tolerates(got, "nvidia.com/gpu")
			last = err
		}
		if !(validating && mutating) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// probePod is a pod that passes the restricted Pod Security Standard, so
// that the only reason Tollgate refuses it is what a probe adds.
func probePod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: "c", Image: "registry.k8s.io/pause:3.10",
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}

func tolerates(p *corev1.Pod, key string) bool {
	for _, t := range p.Spec.Tolerations {
		if t.Key == key {
			return true
		}
	}
	return false
}

// applier creates objects through the API server and records the
// warnings it sends back.
type applier struct {
	dyn      dynamic.Interface
	mapper   meta.RESTMapper
	warnings *warningLog
	// baselines holds, per pod, what the API server stores for it
	// without Tollgate's webhooks (a dry run before they are registered).
	baselines map[string][]byte
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
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), warnings: w, baselines: map[string][]byte{}}, nil
}

// mapping is the object's resource in this cluster, nil when the cluster
// does not serve its kind.
func (a *applier) mapping(o *kubeobjects.Object) *meta.RESTMapping {
	m, err := a.mapper.RESTMapping(o.GroupKind(), o.GVK.Version)
	if err != nil {
		return nil
	}
	return m
}

// recordBaselines dry-runs the creation of every pod before Tollgate's
// webhooks are registered and keeps what the API server would store: its
// defaults and its built-in admission plugins (service account, default
// tolerations, priority) applied, Tollgate's mutations not. A pod the API
// server refuses without Tollgate gets no baseline.
func (a *applier) recordBaselines(ctx context.Context, docs []manifest.Document) {
	for _, d := range docs {
		o := d.Object
		if o.GroupKind() != kubeobjects.Pod {
			continue
		}
		ri, u, err := a.prepare(o)
		if err != nil {
			continue
		}
		got, err := ri.Create(ctx, u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			continue
		}
		if raw, err := comparable(got.Object); err == nil {
			a.baselines[o.Ref().String()] = raw
		}
	}
	a.warnings.take()
}

func (a *applier) prepare(o *kubeobjects.Object) (dynamic.ResourceInterface, *unstructured.Unstructured, error) {
	ri, err := a.resource(o)
	if err != nil {
		return nil, nil, err
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(o.Raw, &u.Object); err != nil {
		return nil, nil, err
	}
	return ri, u, nil
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
		return nil, fmt.Errorf("no such API in this cluster: %w", err)
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

func (a *applier) apply(ctx context.Context, d manifest.Document) applyLine {
	o := d.Object
	line := applyLine{object: o.Ref().String()}
	ri, u, err := a.prepare(o)
	if err != nil {
		line.verdict, line.details = "SKIPPED", []string{fmt.Sprintf("not applied: %v", err)}
		return line
	}
	a.warnings.take()
	created, err := ri.Create(ctx, u, metav1.CreateOptions{})
	warnings := a.warnings.take()
	if err != nil {
		line.verdict = "DENIED"
		msg := err.Error()
		var se apierrors.APIStatus
		if errors.As(err, &se) {
			msg = se.Status().Message
		}
		line.details = splitDenial(msg)
	} else {
		line.verdict = "ADMITTED"
		if changes := a.admissionChanges(o, created.Object); len(changes) > 0 {
			line.verdict = "MUTATED"
			for _, op := range changes {
				line.details = append(line.details, fmt.Sprintf("%s %s %s", op.Operation, op.Path, short(op.Value)))
			}
		}
	}
	for _, w := range warnings {
		line.details = append(line.details, "warning: "+w)
	}
	return line
}

// policyStart finds where one finding starts in Tollgate's refusal
// ("...; pss.restricted.runAsNonRoot: ...").
var policyStart = regexp.MustCompile(`(?:: |; )([a-z0-9-]+\.[A-Za-z0-9_.-]+: )`)

// splitDenial puts each finding of Tollgate's refusal, as the API server
// returned it, on a line of its own; other refusals stay one line.
func splitDenial(msg string) []string {
	head, rest, ok := strings.Cut(msg, "Tollgate denied ")
	if !ok {
		return []string{msg}
	}
	idx := policyStart.FindAllStringSubmatchIndex(rest, -1)
	if len(idx) == 0 {
		return []string{msg}
	}
	out := []string{head + "Tollgate denied " + rest[:idx[0][0]+1]}
	for i, m := range idx {
		end := len(rest)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		out = append(out, rest[m[2]:end])
	}
	return out
}

// admissionChanges is what Tollgate's webhooks changed in a pod: the pod
// the API server stored against the one it would have stored without
// them (the baseline), both as the API server returned them.
func (a *applier) admissionChanges(sent *kubeobjects.Object, stored map[string]any) []jsonpatch.Operation {
	base, ok := a.baselines[sent.Ref().String()]
	if !ok {
		return nil
	}
	after, err := comparable(stored)
	if err != nil {
		return nil
	}
	ops, err := jsonpatch.CreatePatch(base, after)
	if err != nil {
		return nil
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path < ops[j].Path })
	return ops
}

// comparable drops what the API server sets differently on every object
// (uid, resourceVersion, timestamps, managed fields, status).
func comparable(obj map[string]any) ([]byte, error) {
	u := unstructured.Unstructured{Object: obj}
	c := u.DeepCopy()
	for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(c.Object, "status")
	return json.Marshal(c.Object)
}

func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}
