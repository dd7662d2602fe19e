// Package kubeobjects decodes the Kubernetes objects Tollgate reviews into typed
// values, names them, finds their pod templates, and applies the defaults the
// API server applies before admission, so that an offline verdict equals the
// webhook's.
package kubeobjects

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"
)

// Well-known group/kinds.
var (
	Pod                 = schema.GroupKind{Kind: "Pod"}
	Namespace           = schema.GroupKind{Kind: "Namespace"}
	ServiceAccount      = schema.GroupKind{Kind: "ServiceAccount"}
	ResourceQuota       = schema.GroupKind{Kind: "ResourceQuota"}
	PodDisruptionBudget = schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"}
	Deployment          = schema.GroupKind{Group: "apps", Kind: "Deployment"}
	StatefulSet         = schema.GroupKind{Group: "apps", Kind: "StatefulSet"}
	DaemonSet           = schema.GroupKind{Group: "apps", Kind: "DaemonSet"}
	ReplicaSet          = schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}
	Job                 = schema.GroupKind{Group: "batch", Kind: "Job"}
	CronJob             = schema.GroupKind{Group: "batch", Kind: "CronJob"}
	Node                = schema.GroupKind{Kind: "Node"}
	NodePool            = schema.GroupKind{Group: "karpenter.sh", Kind: "NodePool"}
	EC2NodeClass        = schema.GroupKind{Group: "karpenter.k8s.aws", Kind: "EC2NodeClass"}
	AutoNodeClass       = schema.GroupKind{Group: "eks.amazonaws.com", Kind: "NodeClass"} // EKS Auto Mode
	ACKBucket           = schema.GroupKind{Group: "s3.services.k8s.aws", Kind: "Bucket"}
	ACKRole             = schema.GroupKind{Group: "iam.services.k8s.aws", Kind: "Role"}
	ACKPolicy           = schema.GroupKind{Group: "iam.services.k8s.aws", Kind: "Policy"}
	PolicyException     = schema.GroupKind{Group: "tollgate.dev", Kind: "PolicyException"}
)

// Workloads are the kinds whose pod template Tollgate validates.
var Workloads = []schema.GroupKind{Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob}

// StateKinds are the kinds that form cluster state in eval and audit.
var StateKinds = []schema.GroupKind{Namespace, ServiceAccount, ResourceQuota, PodDisruptionBudget, Node, NodePool, PolicyException}

// Object is one decoded object.
type Object struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
	// Raw is the object as JSON, exactly as it was given.
	Raw []byte
	// Typed is the decoded Go value for kinds with Go types (*corev1.Pod,
	// *appsv1.Deployment, ...); nil for kinds read as maps.
	Typed any
	// Map is the object as a generic map, for kinds without Go types here
	// (karpenter NodePools, ACK resources).
	Map map[string]any
	// RawStale is set once Default changed Typed: Raw no longer holds the
	// object as policies must see it.
	RawStale bool
}

// Ref names an object the way eval's JSON output does.
type Ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// Ref returns the object's reference.
func (o *Object) Ref() Ref {
	return Ref{APIVersion: o.GVK.GroupVersion().String(), Kind: o.GVK.Kind, Namespace: o.Namespace, Name: o.Name}
}

func (r Ref) String() string {
	if r.Namespace != "" {
		return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
	}
	return fmt.Sprintf("%s %s", r.Kind, r.Name)
}

// GroupKind returns the object's group and kind.
func (o *Object) GroupKind() schema.GroupKind { return o.GVK.GroupKind() }

// Pod returns the object as a Pod, or nil.
func (o *Object) Pod() *corev1.Pod {
	p, _ := o.Typed.(*corev1.Pod)
	return p
}

// Template returns the pod template of a workload and its field path, or nil.
func (o *Object) Template() (*corev1.PodTemplateSpec, string) {
	switch w := o.Typed.(type) {
	case *appsv1.Deployment:
		return &w.Spec.Template, "spec.template"
	case *appsv1.StatefulSet:
		return &w.Spec.Template, "spec.template"
	case *appsv1.DaemonSet:
		return &w.Spec.Template, "spec.template"
	case *appsv1.ReplicaSet:
		return &w.Spec.Template, "spec.template"
	case *batchv1.Job:
		return &w.Spec.Template, "spec.template"
	case *batchv1.CronJob:
		return &w.Spec.JobTemplate.Spec.Template, "spec.jobTemplate.spec.template"
	}
	return nil, ""
}

// Replicas returns how many pods a workload runs at once when known:
// spec.replicas, or a Job's parallelism. DaemonSets return -1 (one per node).
func (o *Object) Replicas() int32 {
	switch w := o.Typed.(type) {
	case *appsv1.Deployment:
		return deref(w.Spec.Replicas, 1)
	case *appsv1.StatefulSet:
		return deref(w.Spec.Replicas, 1)
	case *appsv1.ReplicaSet:
		return deref(w.Spec.Replicas, 1)
	case *appsv1.DaemonSet:
		return -1
	case *batchv1.Job:
		return deref(w.Spec.Parallelism, 1)
	case *batchv1.CronJob:
		return deref(w.Spec.JobTemplate.Spec.Parallelism, 1)
	}
	return 1
}

func deref(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// newTyped returns a new Go value for the kinds decoded into Go types.
func newTyped(gk schema.GroupKind) any {
	switch gk {
	case Pod:
		return &corev1.Pod{}
	case Namespace:
		return &corev1.Namespace{}
	case ServiceAccount:
		return &corev1.ServiceAccount{}
	case Node:
		return &corev1.Node{}
	case ResourceQuota:
		return &corev1.ResourceQuota{}
	case PodDisruptionBudget:
		return &policyv1.PodDisruptionBudget{}
	case Deployment:
		return &appsv1.Deployment{}
	case StatefulSet:
		return &appsv1.StatefulSet{}
	case DaemonSet:
		return &appsv1.DaemonSet{}
	case ReplicaSet:
		return &appsv1.ReplicaSet{}
	case Job:
		return &batchv1.Job{}
	case CronJob:
		return &batchv1.CronJob{}
	}
	return nil
}

// Known reports whether Tollgate reads objects of this group/kind.
func Known(gk schema.GroupKind) bool {
	switch gk {
	case NodePool, EC2NodeClass, AutoNodeClass, ACKBucket, ACKRole, ACKPolicy, PolicyException:
		return true
	}
	return newTyped(gk) != nil
}

// supportedVersions lists the apiVersions Tollgate decodes for each kind.
var supportedVersions = map[schema.GroupKind]string{
	Pod: "v1", Namespace: "v1", ServiceAccount: "v1", ResourceQuota: "v1",
	PodDisruptionBudget: "policy/v1",
	Deployment:          "apps/v1", StatefulSet: "apps/v1", DaemonSet: "apps/v1", ReplicaSet: "apps/v1",
	Job: "batch/v1", CronJob: "batch/v1",
	NodePool:        "karpenter.sh/v1",
	EC2NodeClass:    "karpenter.k8s.aws/v1",
	AutoNodeClass:   "eks.amazonaws.com/v1",
	PolicyException: "tollgate.dev/v1alpha1",
}

// ErrUnknownKind is returned for objects whose kind Tollgate does not review.
var ErrUnknownKind = errors.New("kind not reviewed by Tollgate")

// Decode decodes one JSON object. Errors name the field at fault. Unknown
// and duplicate fields are errors when strict is set, as kubectl's default
// strict field validation makes them.
func Decode(raw []byte, strict bool) (*Object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name         string `json:"name"`
			GenerateName string `json:"generateName"`
			Namespace    string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("not a Kubernetes object: %w", describeJSONError(err))
	}
	if head.APIVersion == "" {
		return nil, errors.New("apiVersion is missing")
	}
	if head.Kind == "" {
		return nil, errors.New("kind is missing")
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("apiVersion %q: %w", head.APIVersion, err)
	}
	o := &Object{
		GVK:       gv.WithKind(head.Kind),
		Namespace: head.Metadata.Namespace,
		Name:      head.Metadata.Name,
		Raw:       raw,
	}
	if o.Name == "" {
		o.Name = head.Metadata.GenerateName
	}
	gk := o.GroupKind()
	if !Known(gk) {
		// A kind Tollgate reviews under an apiVersion it does not (such as
		// extensions/v1beta1 Deployments) is an error, not something to skip.
		for known, v := range supportedVersions {
			if known.Kind == gk.Kind {
				return o, fmt.Errorf("%s %s: apiVersion %s is not supported (want %s)", gk.Kind, o.Name, head.APIVersion, v)
			}
		}
		return o, ErrUnknownKind
	}
	if want := supportedVersions[gk]; want != "" && want != head.APIVersion {
		return o, fmt.Errorf("%s %s: apiVersion %s is not supported (want %s)", gk.Kind, o.Name, head.APIVersion, want)
	}
	if t := newTyped(gk); t != nil {
		if err := unmarshal(raw, t, strict); err != nil {
			return o, err
		}
		o.Typed = t
		return o, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return o, describeJSONError(err)
	}
	o.Map = m
	return o, nil
}

// DecodeAs is Decode for an object whose kind is known beforehand, as an
// AdmissionRequest names it: a kind with Go types is decoded in one pass,
// without first reading its head. Anything unexpected (another kind in the
// bytes, an error) falls back to Decode, for its checks and messages.
func DecodeAs(raw []byte, gvk schema.GroupVersionKind) (*Object, error) {
	t := newTyped(gvk.GroupKind())
	if t == nil || supportedVersions[gvk.GroupKind()] != gvk.GroupVersion().String() {
		return Decode(raw, false)
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, t); err != nil {
		return Decode(raw, false)
	}
	acc, err := meta.Accessor(t)
	if err != nil {
		return Decode(raw, false)
	}
	tm, err := meta.TypeAccessor(t)
	if err != nil || tm.GetAPIVersion() != gvk.GroupVersion().String() || tm.GetKind() != gvk.Kind {
		return Decode(raw, false)
	}
	o := &Object{GVK: gvk, Namespace: acc.GetNamespace(), Name: acc.GetName(), Raw: raw, Typed: t}
	if o.Name == "" {
		o.Name = acc.GetGenerateName()
	}
	return o, nil
}

func unmarshal(raw []byte, v any, strict bool) error {
	if !strict {
		if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, v); err != nil {
			return describeJSONError(err)
		}
		return nil
	}
	strictErrs, err := kjson.UnmarshalStrict(raw, v)
	if err != nil {
		return describeJSONError(err)
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// describeJSONError rewrites encoding/json's type errors so that they name
// the field path and the expected type.
func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(root)"
		}
		return fmt.Errorf("field %s: cannot use a JSON %s as %s", field, te.Value, te.Type)
	}
	return err
}
