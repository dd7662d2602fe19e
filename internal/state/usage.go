package state

import (
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
)

// MIGResourcePrefix names MIG slices in the NVIDIA device plugin's mixed
// strategy: nvidia.com/mig-3g.40gb.
const MIGResourcePrefix = "nvidia.com/mig-"

// Node labels that say where a pod may run, read for GPU prices.
const (
	LabelInstanceType   = "node.kubernetes.io/instance-type"
	LabelInstanceFamily = "karpenter.k8s.aws/instance-family"
	LabelNodePool       = "karpenter.sh/nodepool"
)

// GPUCounter counts the GPUs pods request: the configured whole-GPU
// resources (nvidia.com/gpu is one GPU per unit) and MIG slices, which count
// as the share of a GPU's compute their profile takes (3g.40gb is 3/7).
type GPUCounter struct {
	catalog   *gpucatalog.Catalog
	resources map[corev1.ResourceName]float64
}

// NewGPUCounter returns a counter that weighs each resource in resources as
// that many GPUs per unit (0 counts nothing), and MIG slices by the catalog.
func NewGPUCounter(cat *gpucatalog.Catalog, resources map[string]float64) GPUCounter {
	rs := make(map[corev1.ResourceName]float64, len(resources))
	for k, v := range resources {
		rs[corev1.ResourceName(k)] = v
	}
	return GPUCounter{catalog: cat, resources: rs}
}

// Weight returns how many GPUs one unit of a resource is, and whether the
// resource is a GPU at all. A MIG profile the catalog does not know counts
// as a whole GPU, the most it can be.
func (g GPUCounter) Weight(name corev1.ResourceName) (float64, bool) {
	if w, ok := g.resources[name]; ok {
		return w, w > 0
	}
	profile, ok := strings.CutPrefix(string(name), MIGResourcePrefix)
	if !ok {
		return 0, false
	}
	// Media-extension profiles (1g.10gb+me) take the slices of the base profile.
	profile, _, _ = strings.Cut(profile, "+")
	if g.catalog != nil {
		if f, ok := g.catalog.Fraction(profile); ok {
			return f, true
		}
	}
	return 1, true
}

// PodGPUs returns the GPUs a pod requests, combined as the scheduler and
// ResourceQuota combine requests: per resource, the larger of the app
// containers plus sidecars and the largest init container plus the sidecars
// started before it. Requests default to limits, as the API server defaults
// them for extended resources.
func (g GPUCounter) PodGPUs(spec *corev1.PodSpec) float64 {
	per := map[corev1.ResourceName]float64{}
	sidecars := map[corev1.ResourceName]float64{}
	initMax := map[corev1.ResourceName]float64{}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		restartable := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		g.eachGPU(&c.Resources, func(name corev1.ResourceName, n float64) {
			if restartable {
				sidecars[name] += n
				initMax[name] = max(initMax[name], sidecars[name])
			} else {
				initMax[name] = max(initMax[name], n+sidecars[name])
			}
		})
	}
	for i := range spec.Containers {
		g.eachGPU(&spec.Containers[i].Resources, func(name corev1.ResourceName, n float64) { per[name] += n })
	}
	total := 0.0
	for _, name := range slices.Sorted(maps.Keys(unionKeys(per, sidecars, initMax))) {
		w, _ := g.Weight(name)
		total += w * max(per[name]+sidecars[name], initMax[name])
	}
	return Round(total)
}

// eachGPU calls f with each GPU resource a container requests (or limits,
// when it sets no request) and its count.
func (g GPUCounter) eachGPU(r *corev1.ResourceRequirements, f func(corev1.ResourceName, float64)) {
	for name, q := range r.Requests {
		if _, ok := g.Weight(name); ok {
			f(name, gpuCount(q))
		}
	}
	for name, q := range r.Limits {
		if _, set := r.Requests[name]; set {
			continue
		}
		if _, ok := g.Weight(name); ok {
			f(name, gpuCount(q))
		}
	}
}

// MaxGPUCount bounds every GPU count Tollgate computes with. The API
// server accepts 1e70000 GPUs for an extended resource, which as a float64
// is +Inf and breaks every sum after it; quota and cost arithmetic is
// float64, exact up to 2^53. Review refuses pods asking for more
// (review.InputError), gather ignores limits past it, and counts read from
// running pods are capped at it (a namespace holding such a pod is over
// any quota either way).
const MaxGPUCount = 1 << 53

func gpuCount(q resource.Quantity) float64 {
	return min(q.AsApproximateFloat64(), MaxGPUCount)
}

// RequestsGPUs reports whether any container of a pod asks for a GPU.
func (g GPUCounter) RequestsGPUs(spec *corev1.PodSpec) bool {
	found := false
	check := func(cs []corev1.Container) {
		for i := range cs {
			g.eachGPU(&cs[i].Resources, func(corev1.ResourceName, float64) { found = true })
		}
	}
	check(spec.InitContainers)
	check(spec.Containers)
	return found
}

func unionKeys(ms ...map[corev1.ResourceName]float64) map[corev1.ResourceName]bool {
	out := map[corev1.ResourceName]bool{}
	for _, m := range ms {
		for k := range m {
			out[k] = true
		}
	}
	return out
}

// Round keeps six decimals, so that MIG fractions add up to whole GPUs
// (3/7 + 4/7 is 1) and messages stay stable.
func Round(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// Placement is where a pod may run as its node selector or, failing that,
// its required node affinity names it: instance types, instance families or
// NodePools, the first of these that it names. The zero Placement names
// nothing. Quota policies price GPUs by it.
type Placement struct {
	InstanceTypes []string `json:"instanceTypes,omitempty"`
	Families      []string `json:"families,omitempty"`
	NodePools     []string `json:"nodePools,omitempty"`
}

// PlacementOf reads a pod's placement.
func PlacementOf(spec *corev1.PodSpec) Placement {
	ns := spec.NodeSelector
	switch {
	case ns[LabelInstanceType] != "":
		return Placement{InstanceTypes: []string{ns[LabelInstanceType]}}
	case ns[LabelInstanceFamily] != "":
		return Placement{Families: []string{ns[LabelInstanceFamily]}}
	case ns[LabelNodePool] != "":
		return Placement{NodePools: []string{ns[LabelNodePool]}}
	}
	a := spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return Placement{}
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	// Terms are alternatives: the pod is placed only if every term names
	// where it runs, and then anywhere any term allows.
	for _, key := range []string{LabelInstanceType, LabelInstanceFamily, LabelNodePool} {
		var values []string
		all := len(terms) > 0
		for _, t := range terms {
			vs := inValues(t, key)
			if vs == nil {
				all = false
				break
			}
			values = append(values, vs...)
		}
		if !all {
			continue
		}
		slices.Sort(values)
		values = slices.Compact(values)
		switch key {
		case LabelInstanceType:
			return Placement{InstanceTypes: values}
		case LabelInstanceFamily:
			return Placement{Families: values}
		default:
			return Placement{NodePools: values}
		}
	}
	return Placement{}
}

func inValues(t corev1.NodeSelectorTerm, key string) []string {
	for _, e := range t.MatchExpressions {
		if e.Key == key && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) > 0 {
			return e.Values
		}
	}
	return nil
}

// Key identifies a placement, for grouping.
func (p Placement) Key() string {
	return strings.Join(p.InstanceTypes, ",") + "|" + strings.Join(p.Families, ",") + "|" + strings.Join(p.NodePools, ",")
}

// Usage is the GPU use of a namespace's non-terminal pods.
type Usage struct {
	// GPUs is the total, MIG slices counted as their fraction.
	GPUs float64
	// ByPlacement splits it by where the pods may run, sorted by placement.
	ByPlacement []PlacedGPUs
}

// PlacedGPUs are GPUs requested by pods with one placement.
type PlacedGPUs struct {
	Placement Placement
	GPUs      float64
}

// UsageOf counts the GPUs of non-terminal pods, except the pod named
// exclude (the pod under review, which must not count toward its own quota
// when it is audited or updated).
func UsageOf(pods []*corev1.Pod, counter GPUCounter, exclude string) Usage {
	var acc usageAcc
	for _, p := range pods {
		if p.Name == exclude || terminal(p) {
			continue
		}
		if n := counter.PodGPUs(&p.Spec); n > 0 {
			pl := PlacementOf(&p.Spec)
			acc.add(&pl, n)
		}
	}
	return acc.usage()
}

// usageAcc sums GPUs per placement.
type usageAcc struct {
	total float64
	by    map[string]*PlacedGPUs
}

func (a *usageAcc) add(p *Placement, n float64) { a.addKeyed(p.Key(), p, n) }

func (a *usageAcc) addKeyed(k string, p *Placement, n float64) {
	if a.by == nil {
		a.by = map[string]*PlacedGPUs{}
	}
	a.total += n
	pg, ok := a.by[k]
	if !ok {
		pg = &PlacedGPUs{Placement: *p}
		a.by[k] = pg
	}
	pg.GPUs += n
}

func (a *usageAcc) usage() Usage {
	u := Usage{GPUs: Round(a.total)}
	keys := slices.Sorted(maps.Keys(a.by))
	for _, k := range keys {
		pg := *a.by[k]
		pg.GPUs = Round(pg.GPUs)
		u.ByPlacement = append(u.ByPlacement, pg)
	}
	return u
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// GPUUsage aggregates per namespace the GPUs that non-terminal pods
// request, fed by a pod informer's events, so that admission reads a small
// per-namespace table instead of listing pods. Only pods that request GPUs
// are remembered, with their GPU count and placement; sums are taken when
// read, so that they never drift. It is safe for concurrent use.
type GPUUsage struct {
	counter GPUCounter

	mu         sync.RWMutex
	namespaces map[string]map[string]podGPUs // namespace -> pod name -> use
	placements map[string]*placed            // interned: pods share them
}

type podGPUs struct {
	gpus      float64
	placement *placed
}

// placed is an interned placement with its key.
type placed struct {
	key string
	p   Placement
}

var _ toolscache.ResourceEventHandler = (*GPUUsage)(nil)

// NewGPUUsage returns an empty aggregator.
func NewGPUUsage(counter GPUCounter) *GPUUsage {
	return &GPUUsage{counter: counter, namespaces: map[string]map[string]podGPUs{}, placements: map[string]*placed{}}
}

// OnAdd records a pod.
func (u *GPUUsage) OnAdd(obj any, _ bool) { u.set(obj) }

// OnUpdate records a pod's new state (a pod that finished stops counting).
func (u *GPUUsage) OnUpdate(_, obj any) { u.set(obj) }

// OnDelete forgets a pod.
func (u *GPUUsage) OnDelete(obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if p, ok := obj.(*corev1.Pod); ok {
		u.mu.Lock()
		u.remove(p.Namespace, p.Name)
		u.mu.Unlock()
	}
}

func (u *GPUUsage) set(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	n := 0.0
	if !terminal(p) {
		n = u.counter.PodGPUs(&p.Spec)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if n == 0 {
		u.remove(p.Namespace, p.Name)
		return
	}
	pl := PlacementOf(&p.Spec)
	k := pl.Key()
	shared, ok := u.placements[k]
	if !ok {
		shared = &placed{key: k, p: pl}
		u.placements[k] = shared
	}
	pods := u.namespaces[p.Namespace]
	if pods == nil {
		pods = map[string]podGPUs{}
		u.namespaces[p.Namespace] = pods
	}
	pods[p.Name] = podGPUs{gpus: n, placement: shared}
}

// remove forgets a pod; the caller holds the lock.
func (u *GPUUsage) remove(namespace, name string) {
	pods := u.namespaces[namespace]
	if pods == nil {
		return
	}
	delete(pods, name)
	if len(pods) == 0 {
		delete(u.namespaces, namespace)
	}
}

// Usage returns a namespace's GPU use, without the pod named exclude.
func (u *GPUUsage) Usage(namespace, exclude string) Usage {
	u.mu.RLock()
	defer u.mu.RUnlock()
	var acc usageAcc
	// Map order varies, but each pod's count has six decimals and the sums
	// are rounded to six again, so the result does not.
	for name, p := range u.namespaces[namespace] {
		if name != exclude {
			acc.addKeyed(p.placement.key, &p.placement.p, p.gpus)
		}
	}
	return acc.usage()
}
