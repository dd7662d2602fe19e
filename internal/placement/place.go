// Package placement answers where a pod can run: which Karpenter NodePools
// (self-managed or EKS Auto Mode) could launch a node for it, and which
// existing Nodes could take it, with the instance types, capacity types,
// zones and architectures each allows; and, for every candidate that
// cannot, the first reason why, worded the way Karpenter words it, before
// the fact. It is computed once per review, in Go, and handed to the
// policies as input.state.placement (docs/policy-input.md); the Spot, MIG
// and schedule.fit decisions, and the drain and MIG mutators, read it.
//
// Karpenter's scheduling semantics followed here (karpenter.sh "NodePools"
// and "Scheduling" concepts): a NodePool's requirements and template labels
// are ANDed; a pod must tolerate every NodePool taint, not its
// startupTaints; a pod's node selector and required node affinity terms
// (ORed) must each be compatible with the NodePool; a requirement on a
// label an instance type does not carry (GPU labels on a CPU instance)
// holds only for NotIn and DoesNotExist; a NodePool with no capacity-type
// requirement launches on-demand only; a NodePool whose limits are reached
// launches nothing.
package placement

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	schedhelper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
)

// MaxListed caps the instance types and nodes a result lists by name, so
// that the policy input stays small; the counts are always exact.
const MaxListed = 16

// Candidate is a NodePool or Node and what it allows the pod.
type Candidate struct {
	Kind string `json:"kind"` // NodePool or Node
	Name string `json:"name"`
	// Reason is the first reason the pod cannot run there; empty when it can.
	Reason string `json:"reason,omitempty"`
	// InstanceTypes lists up to MaxListed of the allowed instance types
	// (the node's own for a Node); InstanceTypeCount counts them all.
	// Both are empty when the NodePool allows instance types the catalog
	// does not hold (Tollgate then narrows nothing).
	InstanceTypes     []string `json:"instanceTypes,omitempty"`
	InstanceTypeCount int      `json:"instanceTypeCount,omitempty"`
	CapacityTypes     []string `json:"capacityTypes,omitempty"`
	// Zones is empty when every zone is allowed.
	Zones []string `json:"zones,omitempty"`
	Archs []string `json:"archs,omitempty"`
	// GPUs are the catalog GPU models of the allowed instance types;
	// GPUsKnown is false when the candidate may offer GPUs the catalog
	// cannot name (unknown instance types, nodes without an instance-type
	// label), so that no check narrows on them.
	GPUs      []string `json:"gpus"`
	GPUsKnown bool     `json:"gpusKnown"`
	MaxGPUs   int      `json:"maxGPUs"`
}

// Result is the placement of one pod.
type Result struct {
	// Karpenter is true when the cluster has NodePools.
	Karpenter bool `json:"karpenter"`
	// Known is true when there is anything to place on (NodePools or
	// Nodes); without, the other fields say nothing.
	Known bool `json:"known"`
	// Fits is true when a NodePool or a Node can host the pod.
	Fits bool `json:"fits"`
	// Nodes counts the cluster's Nodes (0 when the state lists none, as
	// in an eval of manifests without Node objects).
	Nodes int `json:"nodes"`
	// Targeted is true when the pod asks for what only some capacity has:
	// GPUs (whole or MIG slices), a NodePool by name, or an instance
	// attribute (family, type, GPU model, ... of either flavour). A pod that
	// asks for none of these (a capacity type or a zone is asked of general
	// capacity too) normally runs on the cluster's general nodes, which a
	// state without Nodes does not show.
	Targeted bool `json:"targeted"`
	// Spot is true when a reachable placement allows Spot capacity.
	Spot          bool     `json:"spot"`
	CapacityTypes []string `json:"capacityTypes"`
	// Reachable are the NodePools and (up to MaxListed) Nodes that can host
	// the pod; ReachableNodes counts the Nodes.
	Reachable      []Candidate `json:"reachable"`
	ReachableNodes int         `json:"reachableNodes"`
	// Blocked are the NodePools that cannot, each with its reason, and up
	// to MaxListed Nodes; BlockedNodes counts the Nodes.
	Blocked      []Candidate `json:"blocked"`
	BlockedNodes int         `json:"blockedNodes"`
	// Selector is set when the pod names NodePools (karpenter.sh/nodepool)
	// the cluster does not have: the pod's constraint, for the message.
	MissingNodePool string `json:"missingNodePool,omitempty"`
	// GPUs and MIGProfiles are what the reachable placements offer;
	// GPUsKnown is false when one of them may offer GPUs the catalog
	// cannot name.
	GPUs        []string `json:"gpus"`
	GPUsKnown   bool     `json:"gpusKnown"`
	MIGProfiles []string `json:"migProfiles"`
	MaxGPUs     int      `json:"maxGPUs"`
	// Problems are malformed NodePool parts, reported and ignored.
	Problems []Problem `json:"problems"`
}

// Options configure a Cluster.
type Options struct {
	Catalog *gpucatalog.Catalog
	// GPUResources are the resource names of whole GPUs (nvidia.com/gpu).
	GPUResources []string
}

// Cluster is the parsed placement state: NodePools with what their own
// requirements allow, Nodes, and the instance table. It is built when the
// state changes, not per review, and is safe for concurrent use.
type Cluster struct {
	opts      Options
	instances []*instance
	pools     []*pool
	nodes     []*node
}

type instance struct {
	*gpucatalog.Instance
	vals map[string]string
}

type pool struct {
	Pool
	// types are the instance types the pool's requirements allow; open
	// is true when it may launch types the catalog does not hold.
	types    []*instance
	open     bool
	capacity []string
	zones    []string // nil: any
	used     corev1.ResourceList
	// limitReason is set when the pool's limits are reached; overLimit
	// are the instance types whose capacity would exceed a limit. Both
	// depend on the pool and its nodes only, so they are computed once.
	limitReason string
	overLimit   map[*instance]bool
	// tooBigs keeps the message of requests too big for the pool's own
	// instance types, by request: a GPU pod is too big for every CPU pool
	// of the cluster, review after review.
	mu      sync.Mutex
	tooBigs map[tooBigKey]string
	// other are requirements on keys that are not instance attributes,
	// capacity type or zone (custom labels, kubernetes.io/os, ...).
	other map[string][]Requirement
}

type node struct {
	n            *corev1.Node
	capacityType string
	instance     *instance
}

// NewCluster parses NodePools (generic objects) and Nodes.
func NewCluster(nodePools []map[string]any, nodes []*corev1.Node, opts Options) (*Cluster, error) {
	all, err := opts.Catalog.Instances()
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts}
	byName := map[string]*instance{}
	for i := range all {
		in := &instance{Instance: &all[i], vals: map[string]string{}}
		for a := range instanceAttributes {
			if v, ok := value(in.Instance, a); ok {
				in.vals[a] = v
			}
		}
		in.vals["instance-type"], in.vals["arch"] = in.Name, in.Arch
		c.instances = append(c.instances, in)
		byName[in.Name] = in
	}
	used := map[string]corev1.ResourceList{}
	for _, n := range nodes {
		name := n.Labels[LabelNodePool]
		if name == "" {
			continue
		}
		if used[name] == nil {
			used[name] = corev1.ResourceList{}
		}
		for r, q := range n.Status.Capacity {
			sum := used[name][r]
			sum.Add(q)
			used[name][r] = sum
		}
	}
	for _, obj := range nodePools {
		p := &pool{Pool: ParsePool(obj)}
		p.used = used[p.Name]
		c.resolvePool(p)
		c.pools = append(c.pools, p)
	}
	sort.Slice(c.pools, func(i, j int) bool { return c.pools[i].Name < c.pools[j].Name })
	for _, n := range nodes {
		nd := &node{n: n, capacityType: nodeCapacityType(n), instance: byName[n.Labels[LabelInstanceType]]}
		c.nodes = append(c.nodes, nd)
	}
	return c, nil
}

// resolvePool applies the pool's own requirements to the instance table.
func (c *Cluster) resolvePool(p *pool) {
	p.capacity = []string{CapacityOnDemand}
	p.other = map[string][]Requirement{}
	capacityGiven := false
	capacity := slices.Clone(allCapacityTypes)
	var instanceReqs []*Requirement
	for i := range p.Requirements {
		r := &p.Requirements[i]
		switch {
		case attribute(r.Key) != "":
			instanceReqs = append(instanceReqs, r)
			if (attribute(r.Key) == "instance-type" || attribute(r.Key) == "instance-family") && r.Op == corev1.NodeSelectorOpIn {
				for _, v := range r.Values {
					if !c.knows(attribute(r.Key), v) {
						p.open = true
					}
				}
			}
		case r.Key == LabelCapacityType:
			capacityGiven = true
			capacity = filter(capacity, func(v string) bool { return admits(r, v, true) })
		case r.Key == LabelZone && (r.Op == corev1.NodeSelectorOpIn):
			if p.zones == nil {
				p.zones = slices.Clone(r.Values)
			} else {
				p.zones = filter(p.zones, func(v string) bool { return slices.Contains(r.Values, v) })
			}
		default:
			p.other[r.Key] = append(p.other[r.Key], *r)
		}
	}
	if capacityGiven {
		p.capacity = capacity
	}
	for _, in := range c.instances {
		if allAdmit(instanceReqs, in) {
			p.types = append(p.types, in)
		}
	}
	c.resolveLimits(p)
}

func (c *Cluster) knows(attr, v string) bool {
	for _, in := range c.instances {
		if in.vals[attr] == v {
			return true
		}
	}
	return false
}

func allAdmit(reqs []*Requirement, in *instance) bool {
	for _, r := range reqs {
		v, ok := in.vals[attribute(r.Key)]
		if !admits(r, v, ok) {
			return false
		}
	}
	return true
}

// Place computes the placement of a pod (its spec and labels; name and
// namespace only for messages).
func (c *Cluster) Place(pod *corev1.Pod) *Result {
	res := &Result{Reachable: []Candidate{}, Blocked: []Candidate{}, GPUs: []string{}, MIGProfiles: []string{}, CapacityTypes: []string{}, Problems: []Problem{}, GPUsKnown: true}
	if c == nil {
		return res
	}
	res.Karpenter = len(c.pools) > 0
	res.Known = res.Karpenter || len(c.nodes) > 0
	for _, p := range c.pools {
		res.Problems = append(res.Problems, p.Problems...)
	}
	if !res.Known {
		return res
	}
	req := c.requestsOf(pod)
	terms := podTerms(pod)
	res.Nodes = len(c.nodes)
	res.Targeted = req.gpus > 0 || slices.ContainsFunc(req.names, func(n corev1.ResourceName) bool {
		return strings.HasPrefix(string(n), "nvidia.com/mig-")
	}) || slices.ContainsFunc(terms, func(t []Requirement) bool {
		return slices.ContainsFunc(t, func(r Requirement) bool { return karpenterLabel(r.Key) })
	})
	named := false
	for _, p := range c.pools {
		cand, selected := c.fitPool(p, terms, pod, &req)
		if !selected {
			continue
		}
		named = true
		if cand.Reason == "" {
			res.Reachable = append(res.Reachable, cand)
		} else {
			res.Blocked = append(res.Blocked, cand)
		}
	}
	if !named && res.Karpenter {
		if s := nodePoolSelector(terms); s != "" {
			res.MissingNodePool = s
		}
	}
	c.fitNodes(pod, &req, res)
	res.Fits = len(res.Reachable) > 0
	c.summarize(res)
	return res
}

// requests is what the pod asks of a node.
type requests struct {
	all corev1.ResourceList
	// names are the requested resources, sorted, without zero requests.
	names []corev1.ResourceName
	cpu   int64 // millicores
	mem   int64 // bytes
	gpus  int64
	// gpuName is the GPU resource the pod asks for, for messages.
	gpuName string
}

func (c *Cluster) requestsOf(pod *corev1.Pod) requests {
	all := resourcehelper.PodRequests(withDefaultRequests(pod), resourcehelper.PodResourcesOptions{})
	r := requests{all: all}
	for _, name := range sortedKeys(resourceNames(all)) {
		if q := all[corev1.ResourceName(name)]; !q.IsZero() {
			r.names = append(r.names, corev1.ResourceName(name))
		}
	}
	if q, ok := all[corev1.ResourceCPU]; ok {
		r.cpu = q.MilliValue()
	}
	if q, ok := all[corev1.ResourceMemory]; ok {
		r.mem = q.Value()
	}
	for _, name := range c.opts.GPUResources {
		if q, ok := all[corev1.ResourceName(name)]; ok && !q.IsZero() {
			r.gpus += q.Value()
			r.gpuName = name
		}
	}
	return r
}

// withDefaultRequests returns pod, or a copy whose containers request
// what they limit where they request nothing, as the API server defaults
// them (a workload's template is not defaulted until its pods are made).
func withDefaultRequests(pod *corev1.Pod) *corev1.Pod {
	missing := func(cs []corev1.Container) bool {
		for i := range cs {
			for name := range cs[i].Resources.Limits {
				if _, ok := cs[i].Resources.Requests[name]; !ok {
					return true
				}
			}
		}
		return false
	}
	if !missing(pod.Spec.Containers) && !missing(pod.Spec.InitContainers) {
		return pod
	}
	fill := func(cs []corev1.Container) []corev1.Container {
		out := make([]corev1.Container, len(cs))
		for i, c := range cs {
			out[i] = c
			req := make(corev1.ResourceList, len(c.Resources.Limits)+len(c.Resources.Requests))
			for name, q := range c.Resources.Limits {
				req[name] = q
			}
			for name, q := range c.Resources.Requests {
				req[name] = q
			}
			out[i].Resources.Requests = req
		}
		return out
	}
	cp := *pod
	cp.Spec.Containers, cp.Spec.InitContainers = fill(pod.Spec.Containers), fill(pod.Spec.InitContainers)
	return &cp
}

// podTerms are the pod's node selector ANDed into each required node
// affinity term (the terms are ORed), as requirements with their sources.
func podTerms(pod *corev1.Pod) [][]Requirement {
	var base []Requirement
	for _, k := range sortedKeys(pod.Spec.NodeSelector) {
		v := pod.Spec.NodeSelector[k]
		base = append(base, Requirement{Key: k, Op: corev1.NodeSelectorOpIn, Values: []string{v}, Path: fmt.Sprintf("nodeSelector %s=%s", k, v)})
	}
	var terms []corev1.NodeSelectorTerm
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		terms = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	if len(terms) == 0 {
		return [][]Requirement{base}
	}
	out := make([][]Requirement, 0, len(terms))
	for _, t := range terms {
		term := slices.Clip(base)
		for _, e := range t.MatchExpressions {
			term = append(term, Requirement{Key: e.Key, Op: e.Operator, Values: e.Values, Path: describe(e)})
		}
		out = append(out, term)
	}
	return out
}

func describe(e corev1.NodeSelectorRequirement) string {
	switch e.Operator {
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		return fmt.Sprintf("node affinity %s %s", e.Key, e.Operator)
	}
	return fmt.Sprintf("node affinity %s %s [%s]", e.Key, e.Operator, strings.Join(e.Values, " "))
}

// nodePoolSelector describes the pod's karpenter.sh/nodepool constraint.
func nodePoolSelector(terms [][]Requirement) string {
	for _, t := range terms {
		for _, r := range t {
			if r.Key == LabelNodePool && (r.Op == corev1.NodeSelectorOpIn) {
				return r.Path
			}
		}
	}
	return ""
}

// fitPool judges one NodePool for the best of the pod's terms. selected
// is false when the pod's karpenter.sh/nodepool constraint rules the pool
// out in every term: such a pool is no candidate at all.
func (c *Cluster) fitPool(p *pool, terms [][]Requirement, pod *corev1.Pod, req *requests) (Candidate, bool) {
	var first Candidate
	selected := false
	for i, term := range terms {
		if !termSelects(term, p.Name) {
			continue
		}
		selected = true
		cand := c.fitPoolTerm(p, term, pod, req)
		if cand.Reason == "" {
			return cand, true
		}
		if i == 0 || first.Name == "" {
			first = cand
		}
	}
	return first, selected
}

func termSelects(term []Requirement, name string) bool {
	for i := range term {
		if term[i].Key == LabelNodePool && !admits(&term[i], name, true) {
			return false
		}
	}
	return true
}

func (c *Cluster) fitPoolTerm(p *pool, term []Requirement, pod *corev1.Pod, req *requests) Candidate {
	cand := Candidate{Kind: "NodePool", Name: p.Name}
	block := func(format string, args ...any) Candidate {
		cand.Reason = fmt.Sprintf(format, args...)
		return cand
	}
	if t, bad := untolerated(p.Taints, pod.Spec.Tolerations); bad {
		return block("taint %s not tolerated", taintString(t))
	}
	types := p.types
	capacity := p.capacity
	zones := p.zones
	for i := range term {
		r := &term[i]
		switch attr := attribute(r.Key); {
		case r.Key == LabelNodePool:
		case attr != "":
			if p.open {
				continue
			}
			kept := filter(types, func(in *instance) bool { v, ok := in.vals[attr]; return admits(r, v, ok) })
			if len(kept) == 0 {
				return block("%s %s do not include %s (%s)", noun(r.Key), list(values(types, attr)), wanted(r), r.Path)
			}
			types = kept
		case r.Key == LabelCapacityType:
			kept := filter(capacity, func(v string) bool { return admits(r, v, true) })
			if len(kept) == 0 {
				return block("%s %s do not include %s (%s)", noun(r.Key), list(capacity), wanted(r), r.Path)
			}
			capacity = kept
		case r.Key == LabelZone:
			if zones == nil {
				if r.Op == corev1.NodeSelectorOpIn {
					zones = slices.Clone(r.Values)
				}
				continue
			}
			kept := filter(zones, func(v string) bool { return admits(r, v, true) })
			if len(kept) == 0 {
				return block("%s %s do not include %s (%s)", noun(r.Key), list(zones), wanted(r), r.Path)
			}
			zones = kept
		default:
			if why := otherIncompatible(r, p.other[r.Key]); why != "" {
				return block("%s", why)
			}
		}
	}
	if !p.open {
		fit := filter(types, func(in *instance) bool { return fits(in, req) })
		if len(fit) == 0 {
			cand.Reason = p.tooBig(types, req)
			return cand
		}
		types = fit
	}
	if p.limitReason != "" {
		return block("%s", p.limitReason)
	}
	if len(p.overLimit) > 0 {
		if types = filter(types, func(in *instance) bool { return !p.overLimit[in] }); len(types) == 0 {
			return block("limits leave room for none of its instance types")
		}
	}
	cand.CapacityTypes, cand.Zones = capacity, zones
	if p.open {
		cand.GPUsKnown = false
		cand.GPUs = []string{}
		return cand
	}
	cand.GPUsKnown = true
	cand.InstanceTypeCount = len(types)
	cand.InstanceTypes = make([]string, 0, min(len(types), MaxListed))
	cand.GPUs, cand.Archs = make([]string, 0, 4), make([]string, 0, 2)
	for _, in := range types {
		if len(cand.InstanceTypes) < MaxListed {
			cand.InstanceTypes = append(cand.InstanceTypes, in.Name)
		}
		if in.GPUs > 0 {
			cand.GPUs = addSorted(cand.GPUs, in.GPU)
			cand.MaxGPUs = max(cand.MaxGPUs, in.GPUs)
		}
		cand.Archs = addSorted(cand.Archs, in.Arch)
	}
	return cand
}

// otherIncompatible judges a pod requirement on a key that is not an
// instance attribute against the pool's requirements and labels on it.
// Keys in the well-known domains that Tollgate does not model (Karpenter
// publishes more instance labels than the catalog holds) never block.
func otherIncompatible(r *Requirement, pool []Requirement) string {
	if len(pool) == 0 {
		if wellKnown(r.Key) {
			return ""
		}
		switch r.Op {
		case corev1.NodeSelectorOpNotIn, corev1.NodeSelectorOpDoesNotExist:
			return ""
		}
		return fmt.Sprintf("label %s is not set by the NodePool (%s)", r.Key, r.Path)
	}
	allowed := func(v string) bool {
		for i := range pool {
			if !admits(&pool[i], v, true) {
				return false
			}
		}
		return true
	}
	var offered []string
	for _, pr := range pool {
		if pr.Op == corev1.NodeSelectorOpIn {
			offered = append(offered, filter(pr.Values, allowed)...)
		}
	}
	switch r.Op {
	case corev1.NodeSelectorOpIn:
		if !slices.ContainsFunc(r.Values, allowed) {
			return fmt.Sprintf("%s %s do not include %s (%s)", noun(r.Key), list(offered), wanted(r), r.Path)
		}
	case corev1.NodeSelectorOpDoesNotExist:
		if slices.ContainsFunc(pool, func(pr Requirement) bool {
			return pr.Op == corev1.NodeSelectorOpIn || pr.Op == corev1.NodeSelectorOpExists
		}) {
			return fmt.Sprintf("the NodePool sets label %s (%s)", r.Key, r.Path)
		}
	default:
		if len(offered) > 0 && !slices.ContainsFunc(offered, func(v string) bool { return admits(r, v, true) }) {
			return fmt.Sprintf("%s %s do not include %s (%s)", noun(r.Key), list(offered), wanted(r), r.Path)
		}
	}
	return ""
}

// karpenterLabel reports whether key names a NodePool or an instance
// attribute (not the architecture, which general capacity has too).
func karpenterLabel(key string) bool {
	return key == LabelNodePool || attribute(key) != "" && key != LabelArch
}

func wellKnown(key string) bool {
	domain, _, ok := strings.Cut(key, "/")
	if !ok {
		return false
	}
	// nvidia.com: GPU feature discovery labels GPU nodes once they run
	// (nvidia.com/gpu.product, which the MIG mutator selects on).
	for _, d := range []string{"kubernetes.io", "k8s.io", "karpenter.sh", "karpenter.k8s.aws", "eks.amazonaws.com", "nvidia.com"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

// wanted describes what a requirement asks for.
func wanted(r *Requirement) string {
	switch r.Op {
	case corev1.NodeSelectorOpIn:
		if len(r.Values) == 1 {
			return r.Values[0]
		}
		return "any of " + list(r.Values)
	case corev1.NodeSelectorOpNotIn:
		return "anything but " + list(r.Values)
	case corev1.NodeSelectorOpGt:
		return "a value above " + r.Values[0]
	case corev1.NodeSelectorOpLt:
		return "a value below " + r.Values[0]
	case opGte:
		return "at least " + r.Values[0]
	case opLte:
		return "at most " + r.Values[0]
	case corev1.NodeSelectorOpExists:
		return "any value"
	}
	return "no value"
}

func fits(in *instance, req *requests) bool {
	return int64(in.VCPU)*1000 >= req.cpu && in.MemoryMiB<<20 >= req.mem && int64(in.GPUs) >= req.gpus
}

type tooBigKey struct {
	cpu, mem, gpus int64
	gpuName        string
}

// tooBig is tooBig's message, kept per request when types are the
// pool's own (no pod requirement narrowed them).
func (p *pool) tooBig(types []*instance, req *requests) string {
	if len(types) != len(p.types) {
		return tooBig(types, req)
	}
	k := tooBigKey{req.cpu, req.mem, req.gpus, req.gpuName}
	p.mu.Lock()
	defer p.mu.Unlock()
	if msg, ok := p.tooBigs[k]; ok {
		return msg
	}
	msg := tooBig(types, req)
	if p.tooBigs == nil || len(p.tooBigs) >= 64 {
		p.tooBigs = map[tooBigKey]string{}
	}
	p.tooBigs[k] = msg
	return msg
}

// tooBig says why no allowed instance type holds the pod's requests.
func tooBig(types []*instance, req *requests) string {
	if len(types) == 0 {
		return "its requirements allow no instance type"
	}
	largest := types[0]
	for _, in := range types {
		if in.GPUs > largest.GPUs || (in.GPUs == largest.GPUs && (in.VCPU > largest.VCPU || (in.VCPU == largest.VCPU && in.MemoryMiB > largest.MemoryMiB))) {
			largest = in
		}
	}
	if req.gpus > int64(largest.GPUs) {
		return fmt.Sprintf("%d %s exceed the largest allowed instance type %s (%d %s)", req.gpus, req.gpuName, largest.Name, largest.GPUs, plural(largest.GPUs, "GPU", "GPUs"))
	}
	cpu := resource.NewMilliQuantity(req.cpu, resource.DecimalSI)
	mem := resource.NewQuantity(req.mem, resource.BinarySI)
	return fmt.Sprintf("requests (cpu %s, memory %s, %d GPUs) exceed every allowed instance type (the largest, %s, has %d vCPU, %d GiB)", cpu, mem, req.gpus, largest.Name, largest.VCPU, largest.MemoryMiB>>10)
}

// resolveLimits applies the NodePool's limits to what its nodes already
// hold: a limit reached blocks the pool, and an instance type whose
// capacity would exceed a limit is not launched (Karpenter "Limits").
func (c *Cluster) resolveLimits(p *pool) {
	if len(p.Limits) == 0 {
		return
	}
	for _, name := range sortedKeys(resourceNames(p.Limits)) {
		limit := p.Limits[corev1.ResourceName(name)]
		used := p.used[corev1.ResourceName(name)]
		if used.Cmp(limit) >= 0 {
			p.limitReason = fmt.Sprintf("limits reached: %s %s of %s in use", name, used.String(), limit.String())
			return
		}
	}
	p.overLimit = map[*instance]bool{}
	for _, in := range p.types {
		for name, limit := range p.Limits {
			add := c.instanceAmount(in, name)
			if add == nil {
				continue
			}
			used := p.used[name].DeepCopy()
			used.Add(*add)
			if used.Cmp(limit) > 0 {
				p.overLimit[in] = true
			}
		}
	}
}

func (c *Cluster) instanceAmount(in *instance, name corev1.ResourceName) *resource.Quantity {
	switch {
	case name == corev1.ResourceCPU:
		return resource.NewQuantity(int64(in.VCPU), resource.DecimalSI)
	case name == corev1.ResourceMemory:
		return resource.NewQuantity(in.MemoryMiB<<20, resource.BinarySI)
	case slices.Contains(c.opts.GPUResources, string(name)):
		return resource.NewQuantity(int64(in.GPUs), resource.DecimalSI)
	}
	return nil
}

// fitNodes judges the existing Nodes the way the scheduler filters them:
// required node affinity and node selector, NoSchedule and NoExecute
// taints, cordoned nodes, and allocatable resources (ignoring what runs
// there: an empty node of the right kind counts).
func (c *Cluster) fitNodes(pod *corev1.Pod, req *requests, res *Result) {
	if len(c.nodes) == 0 {
		return
	}
	affinity := nodeaffinity.GetRequiredNodeAffinity(pod)
	for _, nd := range c.nodes {
		why := nodeReason(nd.n, affinity, pod, req)
		if why.kind == nodeFits {
			res.ReachableNodes++
			if res.ReachableNodes <= MaxListed {
				res.Reachable = append(res.Reachable, nd.candidate(""))
			}
			continue
		}
		res.BlockedNodes++
		if res.BlockedNodes <= MaxListed {
			res.Blocked = append(res.Blocked, nd.candidate(why.String()))
		}
	}
}

// nodeWhy is why the pod cannot run on a node, kept unformatted: most of a
// large cluster's Nodes are counted, not listed.
type nodeWhy struct {
	kind     int
	taint    corev1.Taint
	resource corev1.ResourceName
}

const (
	nodeFits = iota
	nodeCordoned
	nodeTaint
	nodeShort
	nodeAffinity
)

func (w nodeWhy) String() string {
	switch w.kind {
	case nodeCordoned:
		return "cordoned"
	case nodeTaint:
		return fmt.Sprintf("taint %s not tolerated", taintString(w.taint))
	case nodeShort:
		return "insufficient " + string(w.resource)
	case nodeAffinity:
		return "node selector or required node affinity does not match"
	}
	return ""
}

// nodeReason is why the pod cannot run on a node. The cheap checks come
// first: most nodes of a GPU cluster are ruled out by a taint or a
// resource.
func nodeReason(n *corev1.Node, affinity nodeaffinity.RequiredNodeAffinity, pod *corev1.Pod, req *requests) nodeWhy {
	if n.Spec.Unschedulable {
		return nodeWhy{kind: nodeCordoned}
	}
	if t, bad := untolerated(n.Spec.Taints, pod.Spec.Tolerations); bad {
		return nodeWhy{kind: nodeTaint, taint: t}
	}
	if name, short := insufficient(n.Status.Allocatable, req); short {
		return nodeWhy{kind: nodeShort, resource: corev1.ResourceName(name)}
	}
	if ok, err := affinity.Match(n); err != nil || !ok {
		return nodeWhy{kind: nodeAffinity}
	}
	return nodeWhy{}
}

func (nd *node) candidate(reason string) Candidate {
	cand := Candidate{Kind: "Node", Name: nd.n.Name, Reason: reason, CapacityTypes: []string{nd.capacityType}, GPUs: []string{}}
	if z := nd.n.Labels[LabelZone]; z != "" {
		cand.Zones = []string{z}
	}
	if a := nd.n.Labels[LabelArch]; a != "" {
		cand.Archs = []string{a}
	}
	if nd.instance != nil {
		cand.InstanceTypes, cand.InstanceTypeCount = []string{nd.instance.Name}, 1
		cand.GPUsKnown, cand.MaxGPUs = true, nd.instance.GPUs
		if nd.instance.GPUs > 0 {
			cand.GPUs = []string{nd.instance.GPU}
		}
	}
	return cand
}

// insufficient names the first requested resource a node cannot hold.
func insufficient(allocatable corev1.ResourceList, req *requests) (string, bool) {
	for _, name := range req.names {
		have, ok := allocatable[name]
		if want := req.all[name]; !ok || have.Cmp(want) < 0 {
			return string(name), true
		}
	}
	return "", false
}

func (c *Cluster) summarize(res *Result) {
	capacity, gpus := map[string]bool{}, map[string]bool{}
	for _, cand := range res.Reachable {
		for _, t := range cand.CapacityTypes {
			capacity[t] = true
		}
		for _, g := range cand.GPUs {
			gpus[g] = true
		}
		if !cand.GPUsKnown {
			res.GPUsKnown = false
		}
		res.MaxGPUs = max(res.MaxGPUs, cand.MaxGPUs)
	}
	res.Spot = capacity[CapacitySpot]
	res.CapacityTypes, res.GPUs = setList(capacity), setList(gpus)
	if res.GPUs == nil {
		res.GPUs = []string{}
	}
	if res.CapacityTypes == nil {
		res.CapacityTypes = []string{}
	}
	res.MIGProfiles = c.opts.Catalog.Profiles(res.GPUs...)
	if len(res.GPUs) == 0 {
		res.MIGProfiles = []string{}
	}
}

// untolerated returns the first NoSchedule or NoExecute taint the
// tolerations do not tolerate (PreferNoSchedule never blocks).
func untolerated(taints []corev1.Taint, tolerations []corev1.Toleration) (corev1.Taint, bool) {
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !schedhelper.TolerationsTolerateTaint(klog.Background(), tolerations, t, false) {
			return *t, true
		}
	}
	return corev1.Taint{}, false
}

func taintString(t corev1.Taint) string {
	if t.Value == "" {
		return fmt.Sprintf("%s:%s", t.Key, t.Effect)
	}
	return fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect)
}

// nodeCapacityType reads Karpenter's label, or EKS managed node groups'.
func nodeCapacityType(n *corev1.Node) string {
	if v := n.Labels[LabelCapacityType]; v != "" {
		return v
	}
	switch n.Labels[LabelEKSCapacityType] {
	case "SPOT":
		return CapacitySpot
	case "CAPACITY_BLOCK":
		return CapacityReserved
	}
	return CapacityOnDemand
}

func values(types []*instance, attr string) []string {
	set := map[string]bool{}
	for _, in := range types {
		if v, ok := in.vals[attr]; ok {
			set[v] = true
		}
	}
	return setList(set)
}

// list renders values as [a b c], at most 8 of them.
func list(vs []string) string {
	if len(vs) > 8 {
		return fmt.Sprintf("[%s ... and %d more]", strings.Join(vs[:8], " "), len(vs)-8)
	}
	return "[" + strings.Join(vs, " ") + "]"
}

// addSorted inserts v into the sorted set s.
func addSorted(s []string, v string) []string {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func setList(set map[string]bool) []string {
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// filter returns the elements keep accepts; in itself, without
// allocating, when it accepts them all.
func filter[T any](in []T, keep func(T) bool) []T {
	for i, v := range in {
		if keep(v) {
			continue
		}
		out := make([]T, i, len(in)-1)
		copy(out, in[:i])
		for _, w := range in[i+1:] {
			if keep(w) {
				out = append(out, w)
			}
		}
		return out
	}
	return in
}

func resourceNames(l corev1.ResourceList) map[string]bool {
	out := make(map[string]bool, len(l))
	for k := range l {
		out[string(k)] = true
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
