package state

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

const (
	benchPods       = 10000
	benchNamespaces = 500
	// One pod in five requests GPUs, a quarter of those MIG slices.
	benchGPUEvery = 5
)

// BenchmarkInformerMemory loads 10,000 pods in 500 namespaces, with a
// Namespace, a ResourceQuota and a PodDisruptionBudget in each, into client-go
// informers set up as controller-runtime sets them up in serve (a transform,
// the namespace index), with the pod informer feeding the GPU usage
// aggregator. It reports the heap the informers retain once synced
// (heap-MiB) and the process's resident set (rss-MiB, which includes the
// test binary), with Tollgate's transforms ("stripped") and with only
// managed fields removed, as serve did before them ("unstripped").
//
//	go test ./internal/state -run '^$' -bench InformerMemory -benchtime 3x
func BenchmarkInformerMemory(b *testing.B) {
	g := counter(b)
	for _, tc := range []struct {
		name string
		pod  toolscache.TransformFunc
		rq   toolscache.TransformFunc
		pdb  toolscache.TransformFunc
		ns   toolscache.TransformFunc
	}{
		{"stripped", g.StripPod, g.StripResourceQuota, StripPodDisruptionBudget, StripNamespace},
		{"unstripped", cache.TransformStripManagedFields(), cache.TransformStripManagedFields(), cache.TransformStripManagedFields(), cache.TransformStripManagedFields()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var heap, rss float64
			for b.Loop() {
				heap, rss = loadInformers(b, g, tc.pod, tc.rq, tc.pdb, tc.ns)
			}
			b.ReportMetric(heap, "heap-MiB")
			b.ReportMetric(rss, "rss-MiB")
		})
	}
}

func loadInformers(b *testing.B, g GPUCounter, pod, rq, pdb, ns toolscache.TransformFunc) (heapMiB, rssMiB float64) {
	b.Helper()
	debug.FreeOSMemory()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// The informers' goroutines hold their stores until they return: wait
	// for them, so that the next iteration starts from an empty heap.
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	defer running.Wait()
	defer cancel()
	usage := NewGPUUsage(g)
	pods := newInformer(&corev1.Pod{}, pod, func() k8sruntime.Object { return benchPodList() })
	others := []toolscache.SharedIndexInformer{
		newInformer(&corev1.Namespace{}, ns, func() k8sruntime.Object { return benchNamespaceList() }),
		newInformer(&corev1.ResourceQuota{}, rq, func() k8sruntime.Object { return benchQuotaList() }),
		newInformer(&policyv1.PodDisruptionBudget{}, pdb, func() k8sruntime.Object { return benchPDBList() }),
	}
	reg, err := pods.AddEventHandler(usage)
	if err != nil {
		b.Fatal(err)
	}
	synced := []toolscache.InformerSynced{pods.HasSynced, reg.HasSynced}
	for _, inf := range append(others, pods) {
		running.Go(func() { inf.Run(ctx.Done()) })
		synced = append(synced, inf.HasSynced)
	}
	if !toolscache.WaitForCacheSync(ctx.Done(), synced...) {
		b.Fatal("informers did not sync")
	}
	if n := len(pods.GetStore().List()); n != benchPods {
		b.Fatalf("%d pods cached, want %d", n, benchPods)
	}
	// Namespace ns-0 has pods 0, 500, 1000, ...: every tenth is a GPU pod.
	if u := usage.Usage("ns-0", ""); u.GPUs == 0 {
		b.Fatalf("the aggregator saw no GPUs in ns-0: %+v", u)
	}

	debug.FreeOSMemory()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heapMiB = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
	rssMiB = residentMiB(b)
	runtime.KeepAlive(others)
	runtime.KeepAlive(pods)
	runtime.KeepAlive(usage)
	return heapMiB, rssMiB
}

// newInformer builds an informer as controller-runtime does, over a list
// made on demand (so that only what the informer keeps stays alive) and a
// watch that never sends.
func newInformer(example k8sruntime.Object, transform toolscache.TransformFunc, list func() k8sruntime.Object) toolscache.SharedIndexInformer {
	lw := &toolscache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (k8sruntime.Object, error) { return list(), nil },
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) {
			return watch.NewFake(), nil
		},
	}
	inf := toolscache.NewSharedIndexInformer(listThenWatch{lw}, example, 0, toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
	if err := inf.SetTransform(transform); err != nil {
		panic(err)
	}
	return inf
}

// listThenWatch makes the reflector list, then watch, rather than stream
// the initial list over a watch, which the fake watch cannot do.
type listThenWatch struct{ *toolscache.ListWatch }

func (listThenWatch) IsWatchListSemanticsUnSupported() bool { return true }

func residentMiB(b *testing.B) float64 {
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skipf("no /proc/self/statm: %v", err)
	}
	fields := strings.Fields(string(statm))
	pages, err := strconv.Atoi(fields[1])
	if err != nil {
		b.Fatal(err)
	}
	return float64(pages*os.Getpagesize()) / (1 << 20)
}

var managedFields = []metav1.ManagedFieldsEntry{
	{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1",
		FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"1\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:env":{},"f:image":{},"f:name":{},"f:resources":{".":{},"f:limits":{},"f:requests":{}}}}}}`)},
	{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1", Subresource: "status",
		FieldsV1: metav1.NewFieldsV1(`{"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:startTime":{}}}`)},
}

// benchPod is a pod of a ReplicaSet as the API server returns it: labels,
// owner, managed fields, two containers with environment, probes, mounts
// and resources, a projected token volume and a running status.
func benchPod(i int) corev1.Pod {
	ns := fmt.Sprintf("ns-%d", i%benchNamespaces)
	name := fmt.Sprintf("app-%d-5d9c7b8f6-%05d", i/benchNamespaces, i)
	requests := res("cpu", "500m", "memory", "1Gi")
	selector := map[string]string{"kubernetes.io/os": "linux"}
	if i%benchGPUEvery == 0 {
		if i%(4*benchGPUEvery) == 0 {
			requests = res("cpu", "4", "memory", "32Gi", "nvidia.com/mig-3g.40gb", "1")
		} else {
			requests = res("cpu", "4", "memory", "32Gi", "nvidia.com/gpu", "1")
		}
		selector["karpenter.sh/nodepool"] = "gpu-inference"
	}
	env := make([]corev1.EnvVar, 10)
	for j := range env {
		env[j] = corev1.EnvVar{Name: fmt.Sprintf("SETTING_%d", j), Value: "some-configuration-value"}
	}
	app := corev1.Container{
		Name: "app", Image: "registry.example.com/team/app:v1.2.3", Env: env,
		Ports:                  []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		Resources:              corev1.ResourceRequirements{Requests: requests, Limits: requests},
		ReadinessProbe:         &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString("http")}}},
		VolumeMounts:           []corev1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
		TerminationMessagePath: corev1.TerminationMessagePathDefault, ImagePullPolicy: corev1.PullIfNotPresent,
	}
	sidecar := app
	sidecar.Name, sidecar.Image, sidecar.Env = "proxy", "envoyproxy/envoy:v1.31.0", env[:3]
	sidecar.Resources = corev1.ResourceRequirements{Requests: res("cpu", "100m", "memory", "128Mi")}
	expiry := int64(3607)
	return corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, GenerateName: name[:len(name)-5], UID: types.UID(fmt.Sprintf("0c4b2f6e-1d2a-4e5f-8a9b-%012d", i)),
			ResourceVersion: strconv.Itoa(100000 + i),
			Labels:          map[string]string{"app": "app", "pod-template-hash": "5d9c7b8f6", "team": "ml-platform"},
			Annotations:     map[string]string{"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z", "prometheus.io/scrape": "true"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app-5d9c7b8f6", UID: "1", Controller: new(true), BlockOwnerDeletion: new(true)}},
			ManagedFields:   managedFields,
		},
		Spec: corev1.PodSpec{
			Containers:         []corev1.Container{app, sidecar},
			NodeSelector:       selector,
			ServiceAccountName: "app", NodeName: fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", i%250, i%200),
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
			},
			Volumes: []corev1.Volume{{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &expiry}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			}}}}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.0.1.2", HostIP: "10.0.0.1", QOSClass: corev1.PodQOSBurstable,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: corev1.PodScheduled, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", Ready: true, Image: app.Image, ImageID: "registry.example.com/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ContainerID: "containerd://0123456789abcdef"},
				{Name: "proxy", Ready: true, Image: sidecar.Image, ImageID: "docker.io/envoyproxy/envoy@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ContainerID: "containerd://fedcba9876543210"},
			},
		},
	}
}

func benchPodList() *corev1.PodList {
	l := &corev1.PodList{Items: make([]corev1.Pod, benchPods)}
	for i := range l.Items {
		l.Items[i] = benchPod(i)
	}
	return l
}

func benchNamespaceList() *corev1.NamespaceList {
	l := &corev1.NamespaceList{Items: make([]corev1.Namespace, benchNamespaces)}
	for i := range l.Items {
		l.Items[i] = corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("ns-%d", i), UID: "u", ResourceVersion: "1", ManagedFields: managedFields,
			Labels:      map[string]string{"kubernetes.io/metadata.name": fmt.Sprintf("ns-%d", i), "tollgate.dev/pss": "deny"},
			Annotations: map[string]string{"tollgate.dev/gpu-quota": "8"},
		}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	}
	return l
}

func benchQuotaList() *corev1.ResourceQuotaList {
	l := &corev1.ResourceQuotaList{Items: make([]corev1.ResourceQuota, benchNamespaces)}
	hard := res("requests.nvidia.com/gpu", "16", "limits.nvidia.com/gpu", "16", "requests.memory", "512Gi", "requests.cpu", "128", "pods", "200")
	for i := range l.Items {
		l.Items[i] = corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%d", i), Name: "gpu-quota", UID: "u", ResourceVersion: "1", ManagedFields: managedFields},
			Spec:       corev1.ResourceQuotaSpec{Hard: hard},
			Status:     corev1.ResourceQuotaStatus{Hard: hard, Used: res("requests.nvidia.com/gpu", "4", "requests.memory", "128Gi", "requests.cpu", "40", "pods", "20")},
		}
	}
	return l
}

func benchPDBList() *policyv1.PodDisruptionBudgetList {
	l := &policyv1.PodDisruptionBudgetList{Items: make([]policyv1.PodDisruptionBudget, benchNamespaces)}
	one := intstr.FromInt32(1)
	for i := range l.Items {
		l.Items[i] = policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%d", i), Name: "app", UID: "u", ResourceVersion: "1", ManagedFields: managedFields},
			Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}}},
			Status: policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 20, DesiredHealthy: 1, ExpectedPods: 20, DisruptionsAllowed: 19,
				Conditions: []metav1.Condition{{Type: "DisruptionAllowed", Status: metav1.ConditionTrue, Reason: "SufficientPods"}}},
		}
	}
	return l
}
