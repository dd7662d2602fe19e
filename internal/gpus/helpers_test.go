package gpus

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
)

// testConfig is the defaults plus the weights the state package's tests
// used: a time-sliced resource and one switched off.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Resources["nvidia.com/gpu.shared"] = 0.25
	cfg.Resources["example.com/off"] = 0
	return cfg
}

func newCounter(t testing.TB, src Source) *Counter {
	t.Helper()
	cat, err := gpucatalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCounter(testConfig(), cat, src)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func static(t testing.TB, objs ...any) *Static {
	t.Helper()
	s, err := NewStatic(objs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func res(kv ...string) corev1.ResourceList {
	rl := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		rl[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return rl
}

func ctr(requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: "c", Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

func sidecar(requests corev1.ResourceList) corev1.Container {
	c := ctr(requests, nil)
	c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	return c
}

// The NVIDIA DRA driver's classes (deployments/helm/dra-driver-nvidia-gpu).
func gpuClass() *resourcev1.DeviceClass {
	return class("gpu.nvidia.com", "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'")
}

func migClass() *resourcev1.DeviceClass {
	return class("mig.nvidia.com", "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig'")
}

func class(name string, exprs ...string) *resourcev1.DeviceClass {
	return &resourcev1.DeviceClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: resourcev1.DeviceClassSpec{Selectors: cel(exprs...)}}
}

func cel(exprs ...string) []resourcev1.DeviceSelector {
	var out []resourcev1.DeviceSelector
	for _, e := range exprs {
		out = append(out, resourcev1.DeviceSelector{CEL: &resourcev1.CELDeviceSelector{Expression: e}})
	}
	return out
}

// exact is a request for count devices of a class (count 0: unset).
func exact(name, class string, count int64, exprs ...string) resourcev1.DeviceRequest {
	return resourcev1.DeviceRequest{Name: name, Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: class, Count: count, Selectors: cel(exprs...)}}
}

func allOf(name, class string, exprs ...string) resourcev1.DeviceRequest {
	r := exact(name, class, 0, exprs...)
	r.Exactly.AllocationMode = resourcev1.DeviceAllocationModeAll
	return r
}

func sub(name, class string, count int64, exprs ...string) resourcev1.DeviceSubRequest {
	return resourcev1.DeviceSubRequest{Name: name, DeviceClassName: class, Count: count, Selectors: cel(exprs...)}
}

func spec(reqs ...resourcev1.DeviceRequest) resourcev1.ResourceClaimSpec {
	return resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: reqs}}
}

func template(ns, name string, reqs ...resourcev1.DeviceRequest) *resourcev1.ResourceClaimTemplate {
	return &resourcev1.ResourceClaimTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       resourcev1.ResourceClaimTemplateSpec{Spec: spec(reqs...)},
	}
}

func claim(ns, name string, reqs ...resourcev1.DeviceRequest) *resourcev1.ResourceClaim {
	return &resourcev1.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec(reqs...)}
}

// allocate marks a claim allocated, one result per request name given.
func allocate(c *resourcev1.ResourceClaim, requests ...string) *resourcev1.ResourceClaim {
	c = c.DeepCopy()
	c.Status.Allocation = &resourcev1.AllocationResult{}
	for i, r := range requests {
		c.Status.Allocation.Devices.Results = append(c.Status.Allocation.Devices.Results, resourcev1.DeviceRequestAllocationResult{
			Request: r, Driver: "gpu.nvidia.com", Pool: "ip-10-0-1-12.ec2.internal", Device: "gpu-" + string(rune('0'+i%10)),
		})
	}
	return c
}

func reserve(c *resourcev1.ResourceClaim, pods ...string) *resourcev1.ResourceClaim {
	c = c.DeepCopy()
	for _, p := range pods {
		c.Status.ReservedFor = append(c.Status.ReservedFor, resourcev1.ResourceClaimConsumerReference{Resource: "pods", Name: p, UID: types.UID("uid-" + p)})
	}
	return c
}

// pod is a pod in ns with claims: "name=claim" for resourceClaimName,
// "name@template" for resourceClaimTemplateName.
func pod(ns, name string, containers []corev1.Container, claims ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{Containers: containers}}
	if p.Spec.Containers == nil {
		p.Spec.Containers = []corev1.Container{{Name: "c"}}
	}
	for _, c := range claims {
		var pc corev1.PodResourceClaim
		for i := 0; i < len(c); i++ {
			switch c[i] {
			case '=':
				pc = corev1.PodResourceClaim{Name: c[:i], ResourceClaimName: ptr.To(c[i+1:])}
			case '@':
				pc = corev1.PodResourceClaim{Name: c[:i], ResourceClaimTemplateName: ptr.To(c[i+1:])}
			}
		}
		p.Spec.ResourceClaims = append(p.Spec.ResourceClaims, pc)
	}
	return p
}

func withPhase(p *corev1.Pod, phase corev1.PodPhase) *corev1.Pod {
	p.Status.Phase = phase
	return p
}

// generated records the claim made from a template in the pod's status,
// and returns that claim as the resource claim controller creates it.
func generated(p *corev1.Pod, podClaim, claimName string, from *resourcev1.ResourceClaimTemplate) *resourcev1.ResourceClaim {
	p.Status.ResourceClaimStatuses = append(p.Status.ResourceClaimStatuses, corev1.PodResourceClaimStatus{Name: podClaim, ResourceClaimName: ptr.To(claimName)})
	return generatedClaim(p, podClaim, claimName, from)
}

func generatedClaim(p *corev1.Pod, podClaim, claimName string, from *resourcev1.ResourceClaimTemplate) *resourcev1.ResourceClaim {
	return &resourcev1.ResourceClaim{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: p.Namespace, Name: claimName,
			Annotations:     map[string]string{resourcev1.PodResourceClaimAnnotation: podClaim},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: p.Name, UID: types.UID("uid-" + p.Name), Controller: ptr.To(true)}},
		},
		Spec: *from.Spec.Spec.DeepCopy(),
	}
}

func metav1Time(sec int64) metav1.Time { return metav1.Unix(sec, 0) }
