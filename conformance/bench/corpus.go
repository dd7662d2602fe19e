// Package bench is Tollgate's performance harness: it measures admission
// decisions in-process next to upstream Pod Security Admission's Go
// evaluator, the HTTPS webhook (`tollgate serve`) under open-loop load next to
// a bare decoder and `opa run --server`, pod creation through a real
// kube-apiserver with and without Tollgate's webhooks, and the memory `serve`
// needs for a large cluster's caches; then it writes docs/performance.md and
// pprof profiles. cmd/benchrun runs it; scripts/bench.sh is the documented
// command.
package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// Entry is one object of the corpus: a pod or a workload as admission sees
// it, and the AdmissionReview that carries it.
type Entry struct {
	// Name identifies the entry in tables: kind/name.
	Name string `json:"name"`
	// Source is the file it came from, or "generated".
	Source     string `json:"source"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Containers int    `json:"containers"`
	// Submitted is the object as a client creates it.
	Submitted json.RawMessage `json:"submitted"`
	// Object is the object as admission sees it: defaulted by the API
	// server when Captured, else by Tollgate's model of its defaults.
	Object json.RawMessage `json:"object"`
	// Review is an admission.k8s.io/v1 AdmissionReview request (CREATE).
	Review json.RawMessage `json:"review"`
	// Captured is set when Object and Review are what kube-apiserver sent
	// to a webhook for a server-side dry-run create of the entry.
	Captured bool `json:"captured"`
}

// IsPod reports whether the entry is a Pod.
func (e *Entry) IsPod() bool { return e.Kind == "Pod" }

// Decode decodes the entry's object as the webhooks decode it.
func (e *Entry) Decode() (*kubeobjects.Object, error) {
	o, err := kubeobjects.Decode(e.Object, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Name, err)
	}
	return o, nil
}

// PodSpec returns the metadata and spec upstream's evaluator judges: the
// pod's, or the workload's pod template's.
func PodSpec(o *kubeobjects.Object) (*metav1.ObjectMeta, *corev1.PodSpec) {
	if p := o.Pod(); p != nil {
		return &p.ObjectMeta, &p.Spec
	}
	if t, _ := o.Template(); t != nil {
		return &t.ObjectMeta, &t.Spec
	}
	return nil, nil
}

// Corpus is the set of objects every layer replays.
type Corpus []*Entry

// Pods returns the entries that are Pods.
func (c Corpus) Pods() Corpus {
	var out Corpus
	for _, e := range c {
		if e.IsPod() {
			out = append(out, e)
		}
	}
	return out
}

// Reviews returns the AdmissionReview bodies of the entries.
func (c Corpus) Reviews() [][]byte {
	out := make([][]byte, len(c))
	for i, e := range c {
		out[i] = e.Review
	}
	return out
}

// corpusFiles are the manifests the corpus takes its pods and workloads
// from: the README's examples (the design document's workloads, made
// production ready, and the vLLM pod as the document wrote it) and the pods
// of the PSS suite.
var corpusFiles = []string{"examples", "conformance/suites/pss/pods"}

// LoadCorpus builds the corpus from the repository at root: every Pod and
// workload of the example manifests, the pod each workload's controller would
// create from its template, and generated vLLM pods with 1 and 20
// containers. Objects are defaulted with Tollgate's model of the API
// server's defaults; Capture replaces them with what a real API server sends.
func LoadCorpus(root string) (Corpus, error) {
	var paths []string
	for _, f := range corpusFiles {
		paths = append(paths, filepath.Join(root, f))
	}
	docs, err := manifest.Load(paths, manifest.Options{Strict: true})
	if err != nil {
		return nil, err
	}
	var c Corpus
	add := func(source string, typed runtime.Object) error {
		raw, err := json.Marshal(typed)
		if err != nil {
			return err
		}
		e, err := newEntry(source, raw)
		if err != nil {
			return err
		}
		c = append(c, e)
		return nil
	}
	for _, d := range docs {
		if d.Skipped || review.TargetOf(d.Object) == "" {
			continue
		}
		src, _ := filepath.Rel(root, d.Source)
		switch t := d.Object.Typed.(type) {
		case *corev1.Pod:
			if err := add(src, t); err != nil {
				return nil, err
			}
		default:
			tmpl, _ := d.Object.Template()
			if tmpl == nil {
				continue
			}
			typed, ok := t.(runtime.Object)
			if !ok {
				continue
			}
			if err := add(src, typed); err != nil {
				return nil, err
			}
			if err := add(src+" (its pod)", podFromTemplate(d.Object)); err != nil {
				return nil, err
			}
		}
	}
	for _, n := range []int{1, 20} {
		if err := add("generated", VLLMPod(n)); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(c, func(i, j int) bool {
		if c[i].IsPod() != c[j].IsPod() {
			return c[i].IsPod()
		}
		return c[i].Name < c[j].Name
	})
	return c, nil
}

// newEntry defaults a manifest's object and wraps it in an AdmissionReview.
func newEntry(source string, raw []byte) (*Entry, error) {
	o, err := kubeobjects.Decode(raw, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	kubeobjects.Default(o)
	defaulted, err := json.Marshal(o.Typed)
	if err != nil {
		return nil, err
	}
	e := &Entry{
		Name:      strings.ToLower(o.GVK.Kind) + "/" + o.Name,
		Source:    source,
		Kind:      o.GVK.Kind,
		Namespace: o.Namespace,
		Submitted: defaulted,
		Object:    defaulted,
	}
	if _, spec := PodSpec(o); spec != nil {
		e.Containers = len(spec.InitContainers) + len(spec.Containers)
	}
	e.Review, err = reviewBody(o, defaulted, types.UID("bench-"+e.Name), authenticationv1.UserInfo{
		Username: "system:serviceaccount:kube-system:replicaset-controller",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
	})
	return e, err
}

// resources maps the kinds of the corpus to their API resources.
var resources = map[string]metav1.GroupVersionResource{
	"Pod":         {Version: "v1", Resource: "pods"},
	"Deployment":  {Group: "apps", Version: "v1", Resource: "deployments"},
	"StatefulSet": {Group: "apps", Version: "v1", Resource: "statefulsets"},
	"DaemonSet":   {Group: "apps", Version: "v1", Resource: "daemonsets"},
	"ReplicaSet":  {Group: "apps", Version: "v1", Resource: "replicasets"},
	"Job":         {Group: "batch", Version: "v1", Resource: "jobs"},
	"CronJob":     {Group: "batch", Version: "v1", Resource: "cronjobs"},
}

// reviewBody builds the AdmissionReview the API server would send for a
// CREATE of o.
func reviewBody(o *kubeobjects.Object, raw []byte, uid types.UID, user authenticationv1.UserInfo) ([]byte, error) {
	gvr, ok := resources[o.GVK.Kind]
	if !ok {
		return nil, fmt.Errorf("%s: no resource known for kind %s", o.Ref(), o.GVK.Kind)
	}
	gvk := metav1.GroupVersionKind{Group: o.GVK.Group, Version: o.GVK.Version, Kind: o.GVK.Kind}
	opts, err := json.Marshal(metav1.CreateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "CreateOptions"}})
	if err != nil {
		return nil, err
	}
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: uid, Kind: gvk, Resource: gvr, RequestKind: &gvk, RequestResource: &gvr,
			Name: o.Name, Namespace: o.Namespace, Operation: admissionv1.Create, UserInfo: user,
			Object:  runtime.RawExtension{Raw: raw},
			Options: runtime.RawExtension{Raw: opts},
			DryRun:  ptr.To(false),
		},
	}
	return json.Marshal(ar)
}

// podFromTemplate is the pod a workload's controller creates from its
// template: the template's labels, annotations and spec, owned by the
// controller (a Deployment's pods by its ReplicaSet).
func podFromTemplate(o *kubeobjects.Object) *corev1.Pod {
	t, _ := o.Template()
	owner := metav1.OwnerReference{APIVersion: o.GVK.GroupVersion().String(), Kind: o.GVK.Kind, Name: o.Name,
		UID: "00000000-0000-4000-8000-000000000001", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	name := o.Name + "-0"
	switch o.GVK.Kind {
	case "Deployment":
		owner.APIVersion, owner.Kind, owner.Name = "apps/v1", "ReplicaSet", o.Name+"-5d9c7b8f6"
		name = o.Name + "-5d9c7b8f6-x2x7q"
	case "CronJob":
		owner.APIVersion, owner.Kind, owner.Name = "batch/v1", "Job", o.Name+"-29000000"
		name = o.Name + "-29000000-x2x7q"
	}
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: o.Namespace, Labels: t.Labels, Annotations: t.Annotations,
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	return p
}

// VLLMPod is a vLLM inference pod with n containers that passes the
// restricted level: the shape of the design document's inference servers,
// under the ServiceAccount whose IAM role the examples declare.
func VLLMPod(n int) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("vllm-%dc", n), Namespace: "ai-inference",
			Labels: map[string]string{"app": "vllm", "workload": "inference"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "vllm-5d9c7b8f6",
				UID: "00000000-0000-4000-8000-000000000002", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: "vllm-sa",
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](1000),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			NodeSelector: map[string]string{"karpenter.sh/capacity-type": "on-demand"},
			Volumes: []corev1.Volume{
				{Name: "models", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "models"}}},
				{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
			},
		},
	}
	for i := range n {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{
			Name:  fmt.Sprintf("vllm-%d", i),
			Image: "vllm/vllm-openai:v0.6.3",
			Args:  []string{"--model", "meta-llama/Llama-3.1-8B-Instruct", "--tensor-parallel-size", "1"},
			Env:   []corev1.EnvVar{{Name: "MODEL_PATH", Value: "s3://agentic-ai-models/llama-3-70b/"}},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("32Gi"), "nvidia.com/gpu": resource.MustParse("1")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Gi"), "nvidia.com/gpu": resource.MustParse("1")},
			},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString("http")}}},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "models", MountPath: "/models"}, {Name: "shm", MountPath: "/dev/shm"}},
		})
	}
	return p
}

// WriteCorpus saves the corpus (objects and AdmissionReview bodies) under dir.
func WriteCorpus(dir string, c Corpus) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, e := range c {
		b, err := json.MarshalIndent(e, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(e.Name, "/", "_")+".json"), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
