package state

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Cache transforms for the state the quota, spot and nodepool policies
// read. Each keeps only the fields those policies and their gatherers use,
// so that informer memory stays small on clusters with many pods
// (docs/policy-input.md has the measurement).

// StripPod keeps of a Pod its name, phase and, when it requests GPUs, each
// container's GPU requests and limits (init containers with their restart
// policy, which decides how their requests combine) and the node selector
// and required node affinity entries that name instance types, instance
// families or NodePools. A pod that requests no GPU keeps only its name and
// phase: GPU quota is all that reads cached pods.
func (g GPUCounter) StripPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{
		TypeMeta:   p.TypeMeta,
		ObjectMeta: metaOf(p.ObjectMeta, nil, nil),
		Status:     corev1.PodStatus{Phase: p.Status.Phase},
	}
	if !g.RequestsGPUs(&p.Spec) {
		return out, nil
	}
	out.Spec.InitContainers = g.gpuContainers(p.Spec.InitContainers)
	out.Spec.Containers = g.gpuContainers(p.Spec.Containers)
	for _, k := range []string{LabelInstanceType, LabelInstanceFamily, LabelNodePool} {
		if v, ok := p.Spec.NodeSelector[k]; ok {
			if out.Spec.NodeSelector == nil {
				out.Spec.NodeSelector = map[string]string{}
			}
			out.Spec.NodeSelector[k] = v
		}
	}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		kept := make([]corev1.NodeSelectorTerm, len(terms))
		for i, t := range terms {
			for _, e := range t.MatchExpressions {
				if e.Key == LabelInstanceType || e.Key == LabelInstanceFamily || e.Key == LabelNodePool {
					kept[i].MatchExpressions = append(kept[i].MatchExpressions, e)
				}
			}
		}
		out.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: kept},
		}}
	}
	return out, nil
}

// gpuContainers keeps the containers that request GPUs, with only their
// GPU resources and restart policy: the others add nothing to a pod's GPUs.
func (g GPUCounter) gpuContainers(cs []corev1.Container) []corev1.Container {
	var out []corev1.Container
	for i := range cs {
		c := &cs[i]
		var kept corev1.Container
		kept.RestartPolicy = c.RestartPolicy
		kept.Resources.Requests = g.gpuResources(c.Resources.Requests)
		kept.Resources.Limits = g.gpuResources(c.Resources.Limits)
		if kept.Resources.Requests != nil || kept.Resources.Limits != nil {
			out = append(out, kept)
		}
	}
	return out
}

func (g GPUCounter) gpuResources(rl corev1.ResourceList) corev1.ResourceList {
	var out corev1.ResourceList
	for name, q := range rl {
		if _, ok := g.Weight(name); ok {
			if out == nil {
				out = corev1.ResourceList{}
			}
			out[name] = q
		}
	}
	return out
}

// StripResourceQuota keeps a ResourceQuota's hard limits on GPU resources
// (requests.nvidia.com/gpu, limits.nvidia.com/gpu, MIG slices, and the
// configured GPU resources) and its scopes, which decide whether the limit
// applies to every pod.
func (g GPUCounter) StripResourceQuota(obj any) (any, error) {
	q, ok := obj.(*corev1.ResourceQuota)
	if !ok {
		return obj, nil
	}
	out := &corev1.ResourceQuota{
		TypeMeta:   q.TypeMeta,
		ObjectMeta: metaOf(q.ObjectMeta, nil, nil),
		Spec:       corev1.ResourceQuotaSpec{Scopes: q.Spec.Scopes, ScopeSelector: q.Spec.ScopeSelector},
	}
	for name, v := range q.Spec.Hard {
		res := strings.TrimPrefix(strings.TrimPrefix(string(name), "requests."), "limits.")
		if _, gpu := g.Weight(corev1.ResourceName(res)); gpu {
			if out.Spec.Hard == nil {
				out.Spec.Hard = corev1.ResourceList{}
			}
			out.Spec.Hard[name] = v
		}
	}
	return out, nil
}

// StripPodDisruptionBudget keeps a PodDisruptionBudget's selector and its
// minAvailable and maxUnavailable.
func StripPodDisruptionBudget(obj any) (any, error) {
	p, ok := obj.(*policyv1.PodDisruptionBudget)
	if !ok {
		return obj, nil
	}
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   p.TypeMeta,
		ObjectMeta: metaOf(p.ObjectMeta, nil, nil),
		Spec: policyv1.PodDisruptionBudgetSpec{
			Selector:       p.Spec.Selector,
			MinAvailable:   p.Spec.MinAvailable,
			MaxUnavailable: p.Spec.MaxUnavailable,
		},
	}, nil
}

// StripPolicyException keeps a PolicyException's apiVersion, kind, name,
// namespace and spec.
func StripPolicyException(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	md := map[string]any{}
	for _, k := range []string{"name", "namespace", "uid", "resourceVersion", "creationTimestamp"} {
		if v, ok := u.Object["metadata"].(map[string]any)[k]; ok {
			md[k] = v
		}
	}
	out := map[string]any{"apiVersion": u.Object["apiVersion"], "kind": u.Object["kind"], "metadata": md}
	if spec, ok := u.Object["spec"]; ok {
		out["spec"] = spec
	}
	return &unstructured.Unstructured{Object: out}, nil
}

// StripNodePool keeps a NodePool's apiVersion, kind, name, labels and spec;
// its status and the rest of its metadata go.
func StripNodePool(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	md := map[string]any{}
	for _, k := range []string{"name", "uid", "resourceVersion", "labels"} {
		if v, ok := u.Object["metadata"].(map[string]any)[k]; ok {
			md[k] = v
		}
	}
	out := map[string]any{"apiVersion": u.Object["apiVersion"], "kind": u.Object["kind"], "metadata": md}
	if spec, ok := u.Object["spec"]; ok {
		out["spec"] = spec
	}
	return &unstructured.Unstructured{Object: out}, nil
}

// StripNode keeps what placement reads of a Node: its name, labels,
// taints, whether it is cordoned, and its capacity and allocatable
// resources. Images, conditions, addresses and the rest of the status go:
// they are most of a Node's size.
func StripNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	out := &corev1.Node{}
	// No resourceVersion: a heartbeat that changes nothing placement reads
	// leaves the stripped Node equal, and the node set unchanged.
	out.Name, out.UID, out.Labels = n.Name, n.UID, n.Labels
	out.Spec.Taints, out.Spec.Unschedulable = n.Spec.Taints, n.Spec.Unschedulable
	out.Status.Capacity, out.Status.Allocatable = n.Status.Capacity, n.Status.Allocatable
	return out, nil
}
