package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/tollgate-dev/tollgate/internal/manifest"
)

// Population is the cluster whose caches layer 4 measures.
type Population struct {
	Pods       int `json:"pods"`
	Namespaces int `json:"namespaces"`
	NodePools  int `json:"nodePools"`
}

// gpuEvery makes one pod in five request GPUs (a quarter of those a MIG
// slice), as a GPU platform's mix of inference servers and CPU services.
const gpuEvery = 5

// MemoryResult is `tollgate serve`'s memory with the population cached.
type MemoryResult struct {
	Population
	// PopulateSeconds is how long creating the objects took.
	PopulateSeconds float64 `json:"populateSeconds"`
	// ReadySeconds is from starting serve to its readiness (caches synced).
	ReadySeconds float64 `json:"readySeconds"`
	// RSS is the resident set once ready and settled; PeakRSS the
	// high-water mark since start (the initial lists).
	RSS     uint64 `json:"rss"`
	PeakRSS uint64 `json:"peakRSS"`
	// RSSAnon and RSSFile split RSS (see Usage).
	RSSAnon uint64 `json:"rssAnon"`
	RSSFile uint64 `json:"rssFile"`
	// GoMemStats are serve's go_memstats_* gauges then.
	GoMemStats map[string]float64 `json:"goMemStats"`
	// BaselineRSS is serve's resident set with only the examples' state.
	BaselineRSS uint64 `json:"baselineRSS"`
	// EngineHeap is the heap that the review path serve builds (compiled
	// bundle, prepared queries, mutators, gatherers) retains.
	EngineHeap uint64 `json:"engineHeap"`
}

// EngineHeap measures the heap a full review path retains once built.
func EngineHeap(ctx context.Context, env *Env) (uint64, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := env.FullReviewer(ctx)
	if err != nil {
		return 0, err
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(r)
	if after.HeapAlloc < before.HeapAlloc {
		return 0, nil
	}
	return after.HeapAlloc - before.HeapAlloc, nil
}

// Populate creates the namespaces (each with a default ServiceAccount, a
// GPU ResourceQuota with its status, and a PodDisruptionBudget), the pods
// spread over them, and NodePools copied from the examples' ones, with
// workers concurrent API calls.
func Populate(ctx context.Context, cl *Cluster, p Population, nodePools []manifest.Document, workers int) error {
	if len(nodePools) == 0 && p.NodePools > 0 {
		return errors.New("no NodePool to copy")
	}
	for i := range p.NodePools {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(nodePools[i%len(nodePools)].Object.Raw); err != nil {
			return err
		}
		u.SetName(fmt.Sprintf("%s-%02d", u.GetName(), i))
		b, err := u.MarshalJSON()
		if err != nil {
			return err
		}
		if _, err := cl.Create(ctx, b, false); err != nil {
			return fmt.Errorf("NodePool %s: %w", u.GetName(), err)
		}
	}
	if err := parallel(ctx, p.Namespaces, workers, func(ctx context.Context, i int) error {
		return createNamespace(ctx, cl, benchNamespace(i))
	}); err != nil {
		return err
	}
	return parallel(ctx, p.Pods, workers, func(ctx context.Context, i int) error {
		pod := benchPod(i, p.Namespaces)
		_, err := cl.CS.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		return err
	})
}

func benchNamespace(i int) string { return fmt.Sprintf("bench-%03d", i) }

func createNamespace(ctx context.Context, cl *Cluster, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        name,
		Labels:      map[string]string{"tollgate.dev/pss": "deny", "team": "ml-platform"},
		Annotations: map[string]string{"tollgate.dev/gpu-quota": "8"},
	}}
	if _, err := cl.CS.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := cl.DefaultServiceAccount(ctx, name); err != nil {
		return err
	}
	hard := corev1.ResourceList{
		"requests.nvidia.com/gpu": resource.MustParse("16"), "limits.nvidia.com/gpu": resource.MustParse("16"),
		"requests.memory": resource.MustParse("512Gi"), "requests.cpu": resource.MustParse("128"),
	}
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "gpu-quota", Namespace: name}, Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	if _, err := cl.CS.CoreV1().ResourceQuotas(name).Create(ctx, q, metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := cl.QuotaStatus(ctx, name, q.Name); err != nil {
		return err
	}
	one := intstr.FromInt32(1)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: name},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}}},
	}
	_, err := cl.CS.PolicyV1().PodDisruptionBudgets(name).Create(ctx, pdb, metav1.CreateOptions{})
	return err
}

// benchPod is a ReplicaSet's pod as a busy cluster holds thousands of:
// labels, an owner, two containers with environment, probes, mounts and
// resources, bound to a node.
func benchPod(i, namespaces int) *corev1.Pod {
	ns := benchNamespace(i % namespaces)
	requests := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	selector := map[string]string{"kubernetes.io/os": "linux"}
	// Pods are dealt to namespaces in turn; k is the pod's rank in its
	// namespace, so that each namespace gets the same mix.
	if k := i / namespaces; k%gpuEvery == 0 {
		requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("32Gi"), "nvidia.com/gpu": resource.MustParse("1")}
		if k%(4*gpuEvery) == 0 {
			requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("32Gi"), "nvidia.com/mig-3g.40gb": resource.MustParse("1")}
		}
		selector["karpenter.sh/nodepool"] = "gpu-inference-pool-00"
	}
	env := make([]corev1.EnvVar, 10)
	for j := range env {
		env[j] = corev1.EnvVar{Name: fmt.Sprintf("SETTING_%d", j), Value: "some-configuration-value"}
	}
	app := corev1.Container{
		Name: "app", Image: "registry.example.com/team/app:v1.2.3", Env: env,
		Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		Resources:      corev1.ResourceRequirements{Requests: requests, Limits: requests},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString("http")}}},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	sidecar := *app.DeepCopy()
	sidecar.Name, sidecar.Image, sidecar.Env = "proxy", "envoyproxy/envoy:v1.31.0", env[:3]
	sidecar.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: fmt.Sprintf("app-5d9c7b8f6-%05d", i),
			Labels:      map[string]string{"app": "app", "pod-template-hash": "5d9c7b8f6", "team": "ml-platform"},
			Annotations: map[string]string{"prometheus.io/scrape": "true"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app-5d9c7b8f6",
				UID: "00000000-0000-4000-8000-000000000003", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: corev1.PodSpec{
			Containers:   []corev1.Container{app, sidecar},
			NodeSelector: selector,
			NodeName:     fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", i%250, i%200),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		},
	}
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
