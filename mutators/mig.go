package mutators

import (
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
)

// Node labels by which a pod targets instance types and NodePools.
const (
	LabelInstanceType   = "node.kubernetes.io/instance-type"
	LabelInstanceFamily = "karpenter.k8s.aws/instance-family"
	LabelNodePool       = "karpenter.sh/nodepool"
	// LabelGPUProduct is the GPU feature discovery's product label; in the
	// single MIG strategy it ends in -MIG-<profile>.
	LabelGPUProduct = "nvidia.com/gpu.product"
)

// MIGResources gives a pod the MIG slice its tollgate.dev/mig-profile
// annotation (or its namespace's, as a default) names. With the mixed
// strategy, nvidia.com/gpu: N in the requests and limits of init and app
// containers becomes nvidia.com/mig-<profile>: N; with the single strategy
// the requests stay and the pod selects nodes whose nvidia.com/gpu.product
// is a GPU offering the profile (a node selector for one product, a
// required node affinity term for several). The pod is left unchanged, and
// the gpu.mig-profile or gpu.mixed-resources policy reports why, when the
// profile is unknown, when no GPU the pod can run on (TargetGPUs) offers it,
// or when a container asks for both nvidia.com/gpu and a MIG resource.
func MIGResources(pod *corev1.Pod, env *Env) bool {
	cfg := &env.Config.MIG
	if !cfg.Enabled {
		return false
	}
	profile, _ := Profile(pod, env.Namespace)
	if profile == "" || !requestsGPU(pod) || len(MixedContainers(pod)) > 0 {
		return false
	}
	gpus := TargetGPUs(pod, env.NodePools, env.Catalog)
	if res := env.Placement(pod); decides(res) && res.GPUsKnown && len(res.GPUs) > 0 {
		gpus = res.GPUs
	}
	if !slices.Contains(env.Catalog.Profiles(gpus...), profile) {
		return false
	}
	if cfg.Strategy == config.MIGSingle {
		return selectProduct(pod, env, gpus, profile)
	}
	mig := corev1.ResourceName(ResourceMIGPrefix + profile)
	changed := false
	for _, c := range containers(pod) {
		for _, rl := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
			if q, ok := rl[ResourceGPU]; ok {
				delete(rl, ResourceGPU)
				rl[mig] = q
				changed = true
			}
		}
	}
	return changed
}

// selectProduct makes the pod select the nvidia.com/gpu.product labels of
// the GPUs offering profile, unless it already selects on that label.
func selectProduct(pod *corev1.Pod, env *Env, gpus []string, profile string) bool {
	if _, ok := pod.Spec.NodeSelector[LabelGPUProduct]; ok {
		return false
	}
	var products []string
	var unlabelled []string
	for _, g := range gpus {
		if !slices.Contains(env.Catalog.GPUs[g].Profiles, profile) {
			continue
		}
		if p, ok := env.Config.MIG.Products[g]; ok {
			products = append(products, p+"-MIG-"+profile)
		} else {
			unlabelled = append(unlabelled, g)
		}
	}
	if len(products) == 0 {
		env.Warn("pod %s/%s: no nvidia.com/gpu.product label is configured (mutators.mig.products) for the GPUs offering MIG profile %s (%s); nodes not selected", pod.Namespace, pod.Name, profile, strings.Join(unlabelled, ", "))
		return false
	}
	sort.Strings(products)
	if len(products) == 1 {
		if pod.Spec.NodeSelector == nil {
			pod.Spec.NodeSelector = map[string]string{}
		}
		pod.Spec.NodeSelector[LabelGPUProduct] = products[0]
		return true
	}
	// Several products: one In requirement, added to every required term
	// (terms are ORed, so each must carry it).
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	if pod.Spec.Affinity.NodeAffinity == nil {
		pod.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	na := pod.Spec.Affinity.NodeAffinity
	if na.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
	}
	terms := na.RequiredDuringSchedulingIgnoredDuringExecution
	if len(terms.NodeSelectorTerms) == 0 {
		terms.NodeSelectorTerms = []corev1.NodeSelectorTerm{{}}
	}
	req := corev1.NodeSelectorRequirement{Key: LabelGPUProduct, Operator: corev1.NodeSelectorOpIn, Values: products}
	changed := false
	for i := range terms.NodeSelectorTerms {
		t := &terms.NodeSelectorTerms[i]
		if !slices.ContainsFunc(t.MatchExpressions, func(e corev1.NodeSelectorRequirement) bool { return e.Key == LabelGPUProduct }) {
			t.MatchExpressions = append(t.MatchExpressions, *req.DeepCopy())
			changed = true
		}
	}
	return changed
}

// Profile returns the MIG profile a pod asks for and where it was found:
// the pod's tollgate.dev/mig-profile annotation, else its namespace's.
func Profile(pod *corev1.Pod, ns *corev1.Namespace) (profile, source string) {
	if v := strings.TrimSpace(pod.Annotations[config.AnnotationMIGProfile]); v != "" {
		return v, "pod"
	}
	if ns != nil {
		if v := strings.TrimSpace(ns.Annotations[config.AnnotationMIGProfile]); v != "" {
			return v, "namespace"
		}
	}
	return "", ""
}

// requestsGPU reports whether an init or app container requests or limits
// nvidia.com/gpu.
func requestsGPU(pod *corev1.Pod) bool {
	return slices.ContainsFunc(containers(pod), func(c *corev1.Container) bool { return hasResource(c, ResourceGPU) })
}

// MixedContainers names the containers that ask for both nvidia.com/gpu and
// a MIG resource.
func MixedContainers(pod *corev1.Pod) []string {
	var out []string
	for _, c := range containers(pod) {
		if hasResource(c, ResourceGPU) && hasResource(c, ResourceMIGPrefix+"*") {
			out = append(out, c.Name)
		}
	}
	return out
}

// needsNodePools reports whether the MIG mutator will read NodePools for a
// pod: it asks for a profile, requests GPUs and names a NodePool.
func needsNodePools(pod *corev1.Pod, ns *corev1.Namespace) bool {
	if p, _ := Profile(pod, ns); p == "" || !requestsGPU(pod) {
		return false
	}
	if _, ok := pod.Spec.NodeSelector[LabelNodePool]; ok {
		return true
	}
	for _, t := range requiredTerms(pod) {
		if slices.ContainsFunc(t, func(e corev1.NodeSelectorRequirement) bool { return e.Key == LabelNodePool }) {
			return true
		}
	}
	return false
}

// TargetGPUs lists, sorted, the GPU models of the catalog's instance types
// a pod can run on, judged by its node selector and required node affinity
// on node.kubernetes.io/instance-type, karpenter.k8s.aws/instance-family
// and karpenter.sh/nodepool (In and NotIn); a NodePool contributes the
// instance types its requirements allow. A NodePool the state does not
// hold does not narrow the choice. When the pod does not narrow the
// instance types at all, or narrows them to none the catalog knows, every
// GPU model is listed (hybrid nodes carry GPUs no EC2 type has): Tollgate
// only narrows what it knows. rego/gpu/mig_profile.rego applies
// the same rules.
func TargetGPUs(pod *corev1.Pod, nodePools []map[string]any, cat *gpucatalog.Catalog) []string {
	terms := requiredTerms(pod)
	set := map[string]bool{}
	types := 0
	for name, it := range cat.InstanceTypes {
		if slices.ContainsFunc(terms, func(t []corev1.NodeSelectorRequirement) bool { return allows(t, name, nodePools) }) {
			set[it.GPU] = true
			types++
		}
	}
	if types == 0 || types == len(cat.InstanceTypes) {
		clear(set)
		for name := range cat.GPUs {
			set[name] = true
		}
	}
	out := make([]string, 0, len(set))
	for g := range set {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// requiredTerms returns the pod's node selector merged into each required
// node affinity term (terms are ORed), or the node selector alone.
func requiredTerms(pod *corev1.Pod) [][]corev1.NodeSelectorRequirement {
	keys := make([]string, 0, len(pod.Spec.NodeSelector))
	for k := range pod.Spec.NodeSelector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	base := make([]corev1.NodeSelectorRequirement, 0, len(keys))
	for _, k := range keys {
		base = append(base, corev1.NodeSelectorRequirement{Key: k, Operator: corev1.NodeSelectorOpIn, Values: []string{pod.Spec.NodeSelector[k]}})
	}
	var terms []corev1.NodeSelectorTerm
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		terms = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	if len(terms) == 0 {
		return [][]corev1.NodeSelectorRequirement{base}
	}
	out := make([][]corev1.NodeSelectorRequirement, len(terms))
	for i, t := range terms {
		out[i] = append(slices.Clip(base), t.MatchExpressions...)
	}
	return out
}

// allows reports whether every requirement lets instance type t through.
func allows(reqs []corev1.NodeSelectorRequirement, t string, nodePools []map[string]any) bool {
	for _, r := range reqs {
		if r.Key == LabelNodePool {
			if r.Operator == corev1.NodeSelectorOpIn && !nodePoolsAllow(r.Values, t, nodePools) {
				return false
			}
			continue
		}
		if !typeAllows(r.Key, string(r.Operator), r.Values, t) {
			return false
		}
	}
	return true
}

// nodePoolsAllow reports whether one of the named NodePools allows t; true
// when the state holds none of them.
func nodePoolsAllow(names []string, t string, nodePools []map[string]any) bool {
	known := false
	for _, np := range nodePools {
		md, _ := np["metadata"].(map[string]any)
		if n, _ := md["name"].(string); !slices.Contains(names, n) {
			continue
		}
		known = true
		if nodePoolAllows(np, t) {
			return true
		}
	}
	return !known
}

// nodePoolAllows reports whether a NodePool's requirements let t through.
func nodePoolAllows(np map[string]any, t string) bool {
	for _, r := range nodePoolRequirements(np) {
		if !typeAllows(r.key, r.op, r.values, t) {
			return false
		}
	}
	return true
}

// typeAllows applies one In or NotIn requirement on the instance type or
// family to t; other keys and operators do not narrow.
func typeAllows(key, op string, values []string, t string) bool {
	var v string
	switch key {
	case LabelInstanceType:
		v = t
	case LabelInstanceFamily:
		v = gpucatalog.Family(t)
	default:
		return true
	}
	switch corev1.NodeSelectorOperator(op) {
	case corev1.NodeSelectorOpIn:
		return slices.Contains(values, v)
	case corev1.NodeSelectorOpNotIn:
		return !slices.Contains(values, v)
	}
	return true
}
