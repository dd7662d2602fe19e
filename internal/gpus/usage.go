package gpus

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/utils/ptr"
)

// ClaimState is what one ResourceClaim holds or asks for: what an
// informer-fed aggregator keeps per claim.
type ClaimState struct {
	Name string `json:"name"`
	// Alias is "<pod>/<pod claim name>" for a claim generated from a
	// template for a pod, matching that pod's ClaimRef.Alias.
	Alias string `json:"alias,omitempty"`
	// GPUs is what the claim counts: its allocated devices when it is
	// allocated (which settles All and firstAvailable), else its spec; nine
	// decimals.
	GPUs float64 `json:"gpus"`
	// Allocated is true when status.allocation is set.
	Allocated bool `json:"allocated,omitempty"`
	// ReservedFor are the consumers of status.reservedFor (pod names;
	// other consumers as resource/name).
	ReservedFor []string `json:"reservedFor,omitempty"`
	// Extended marks the claim the scheduler makes for a pod's extended
	// resources (resource.kubernetes.io/extended-resource-claim), never
	// counted: the pod's container resources are.
	Extended bool `json:"extended,omitempty"`
	// Unbounded is true for a claim not allocated yet with an All request
	// on a GPU class (counted as one device per such request).
	Unbounded bool     `json:"unbounded,omitempty"`
	Problems  []string `json:"problems,omitempty"`
}

// Empty reports whether the claim can never count: an aggregator need not
// keep it.
func (s ClaimState) Empty() bool { return s.GPUs == 0 || s.Extended }

// ClaimState reads a claim.
func (c *Counter) ClaimState(cl *resourcev1.ResourceClaim) ClaimState {
	s := ClaimState{Name: cl.Name}
	if cl.Annotations[resourcev1.ExtendedResourceClaimAnnotation] == "true" {
		s.Extended = true
		return s
	}
	if podClaim, ok := cl.Annotations[resourcev1.PodResourceClaimAnnotation]; ok {
		for _, o := range cl.OwnerReferences {
			if ptr.Deref(o.Controller, false) && o.APIVersion == "v1" && o.Kind == "Pod" {
				s.Alias = o.Name + "/" + podClaim
			}
		}
	}
	var t tally
	if cl.Status.Allocation != nil {
		s.Allocated = true
		c.allocated(&t, cl)
	} else {
		c.countSpec(&t, &cl.Spec, objectName("ResourceClaim", cl.Namespace, cl.Name), "spec")
		s.Unbounded = len(t.all) > 0
	}
	s.GPUs, s.Problems = t.gpus(), dedupe(t.problems)
	for _, r := range cl.Status.ReservedFor {
		if r.APIGroup == "" && r.Resource == "pods" {
			s.ReservedFor = append(s.ReservedFor, r.Name)
		} else {
			s.ReservedFor = append(s.ReservedFor, r.Resource+"/"+r.Name)
		}
	}
	return s
}

// Usage is the GPU use of a namespace.
type Usage struct {
	// GPUs is the total, MIG slices as their fraction.
	GPUs float64 `json:"gpus"`
	// FromResources is the container resources of non-terminal pods.
	FromResources float64 `json:"fromResources"`
	// FromClaims is the claims counted, each once.
	FromClaims float64 `json:"fromClaims"`
	// Claims are the claims counted, sorted by name.
	Claims []CountedClaim `json:"claims,omitempty"`
	// Problems of the claims counted.
	Problems []string `json:"problems,omitempty"`

	counted map[string]bool // claim names and aliases counted
}

// CountedClaim is one claim in a namespace's usage.
type CountedClaim struct {
	// Name is the claim, or "<pod>/<pod claim name>" for a template claim
	// not generated (or not known) yet.
	Name     string  `json:"name"`
	Template string  `json:"template,omitempty"`
	GPUs     float64 `json:"gpus"`
	// Pods are the non-terminal pods that use it.
	Pods []string `json:"pods,omitempty"`
	// Why it counts: allocated, reserved, used by pods, or estimated from
	// its template (the claim object is not known).
	Why       string `json:"why"`
	Unbounded bool   `json:"unbounded,omitempty"`
}

// Why a claim counts.
const (
	WhyAllocated = "allocated"
	WhyReserved  = "reserved"
	WhyUsed      = "used by pods"
	WhyEstimated = "estimated from its template"
)

// NamespaceUsage counts the GPUs of a namespace's non-terminal pods and its
// claims, except the pod named exclude (the pod under review): container
// resources per pod, and each claim once however many pods share it. A
// claim counts when it is allocated, reserved, or used by a pod that counts.
// Allocated claims count whether or not any pod still reserves it: their
// devices stay allocated, unavailable to other claims, until the resource
// claim controller deallocates them once the last consumer is gone, and a
// claim a driver allocated is not deallocated while unused
// (kubernetes/kubernetes pkg/controller/resourceclaim/controller.go,
// syncClaim). A claim that is neither holds nothing; the pod that will use
// it adds it at its own review (Usage.Adds). Claims the scheduler made for
// extended resources are skipped: their pods' container resources count.
func (c *Counter) NamespaceUsage(namespace string, pods []*corev1.Pod, claims []*resourcev1.ResourceClaim, exclude string) Usage {
	uses := make([]PodUse, 0, len(pods))
	for _, p := range pods {
		if p.Name != exclude && !terminal(p) {
			uses = append(uses, c.PodUse(namespace, p))
		}
	}
	states := make([]ClaimState, 0, len(claims))
	for _, cl := range claims {
		states = append(states, c.ClaimState(cl))
	}
	return Sum(uses, states, exclude)
}

// Sum adds up a namespace's pod and claim contributions as NamespaceUsage
// describes; an aggregator keeps them per object and sums when read, so
// that sums never drift. The pod named exclude is left out.
func Sum(pods []PodUse, claims []ClaimState, exclude string) Usage {
	byName := make(map[string]*ClaimState, len(claims))
	byAlias := map[string]string{}
	for i := range claims {
		s := &claims[i]
		byName[s.Name] = s
		if s.Alias != "" {
			byAlias[s.Alias] = s.Name
		}
	}
	extended := map[string]bool{}
	users := map[string][]string{}
	pending := map[string]*CountedClaim{}
	var u Usage
	for _, p := range pods {
		if p.ExtendedClaim != "" {
			extended[p.ExtendedClaim] = true
		}
		if p.Name == exclude {
			continue
		}
		u.FromResources += p.Resources
		for _, ref := range p.Claims {
			name := ref.Name
			if name == "" {
				name = byAlias[ref.Alias]
			}
			if _, known := byName[name]; known && name != "" {
				users[name] = append(users[name], p.Name)
				continue
			}
			// The claim object is not known (yet): what the pod saw.
			key := name
			if key == "" {
				key = ref.Alias
			}
			if key == "" {
				continue
			}
			if pending[key] == nil {
				pending[key] = &CountedClaim{Name: key, Template: ref.Template, GPUs: ref.GPUs, Why: WhyEstimated}
			}
			pending[key].Pods = append(pending[key].Pods, p.Name)
		}
	}
	u.counted = map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		s := byName[name]
		if s.Extended || extended[name] || s.GPUs == 0 {
			continue
		}
		why := ""
		switch {
		case s.Allocated:
			why = WhyAllocated
		case len(s.ReservedFor) > 0:
			why = WhyReserved
		case len(users[name]) > 0:
			why = WhyUsed
		default:
			continue
		}
		u.counted[name] = true
		if s.Alias != "" {
			u.counted[s.Alias] = true
		}
		u.FromClaims += s.GPUs
		u.Claims = append(u.Claims, CountedClaim{Name: name, GPUs: Round(s.GPUs), Pods: sortedUnique(users[name]), Why: why, Unbounded: s.Unbounded})
		u.Problems = append(u.Problems, s.Problems...)
	}
	for _, key := range slices.Sorted(maps.Keys(pending)) {
		p := pending[key]
		u.counted[key] = true
		if p.GPUs == 0 {
			continue
		}
		p.Pods = sortedUnique(p.Pods)
		u.FromClaims += p.GPUs
		p.GPUs = Round(p.GPUs)
		u.Claims = append(u.Claims, *p)
	}
	slices.SortFunc(u.Claims, func(a, b CountedClaim) int { return strings.Compare(a.Name, b.Name) })
	u.GPUs = Round(u.FromResources + u.FromClaims)
	u.FromResources, u.FromClaims = Round(u.FromResources), Round(u.FromClaims)
	u.Problems = dedupe(u.Problems)
	return u
}

// Adds is what a pod adds on top of the usage (computed without it): its
// container resources and the claims the usage does not count yet. A
// shared claim already counted adds nothing.
func (u Usage) Adds(p PodUse) float64 {
	total := p.Resources
	seen := map[string]bool{}
	for _, ref := range p.Claims {
		if (ref.Name != "" && u.counted[ref.Name]) || (ref.Alias != "" && u.counted[ref.Alias]) {
			continue
		}
		key := ref.Name
		if key == "" {
			key = "\x00" + ref.Alias
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		total += ref.GPUs
	}
	return Round(total)
}

// Counts reports whether the usage counts a claim (by name or alias).
func (u Usage) Counts(claim string) bool { return u.counted[claim] }

func sortedUnique(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}
