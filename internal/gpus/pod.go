package gpus

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// ClaimRef is one claim a pod uses and what it counts.
type ClaimRef struct {
	// Name is the ResourceClaim: the pod's resourceClaimName, or the
	// claim generated from a template as pod.status.resourceClaimStatuses
	// names it. Empty while none is generated.
	Name string `json:"name,omitempty"`
	// Template is the ResourceClaimTemplate the claim is made from.
	Template string `json:"template,omitempty"`
	// Alias names a claim generated for this pod from a template before
	// it is known by name: "<pod>/<spec.resourceClaims[].name>", which the
	// generated claim carries as its owner and
	// resource.kubernetes.io/pod-claim-name annotation.
	Alias string `json:"alias,omitempty"`
	// GPUs is what the claim counts, from its spec or its template's, at
	// nine decimals (what sums add up; totals are rounded to six).
	GPUs float64 `json:"gpus"`
}

// Pod counts the GPUs a pod asks for: its container resources (as the
// scheduler combines init, sidecar and app containers) and the claims of
// spec.resourceClaims, a claim named twice once. namespace is the pod's
// (the review's namespace when the object has none). Claims the scheduler
// makes for extended resources (pod.status.extendedResourceClaimStatus) are
// not the pod's claims: their GPUs are the container resources counted here.
// A template claim the pod's status names is counted from the claim when
// the Source has it, else from the template.
func (c *Counter) Pod(namespace string, pod *corev1.Pod) Count {
	if namespace == "" {
		namespace = pod.Namespace
	}
	ns := namespaceOr(namespace)
	var t tally
	c.countResources(&t, &pod.Spec)
	generated := map[string]*string{}
	for _, s := range pod.Status.ResourceClaimStatuses {
		generated[s.Name] = s.ResourceClaimName
	}
	named := map[string]bool{}
	for i, pc := range pod.Spec.ResourceClaims {
		field := fmt.Sprintf("spec.resourceClaims[%d]", i)
		var ct tally
		var ref ClaimRef
		switch {
		case (pc.ResourceClaimName == nil) == (pc.ResourceClaimTemplateName == nil):
			t.problem(field + ": sets both or neither of resourceClaimName and resourceClaimTemplateName; not counted")
			continue
		case pc.ResourceClaimName != nil:
			name := *pc.ResourceClaimName
			if named[name] {
				continue
			}
			named[name] = true
			ref.Name = name
			if cl, ok := c.src.ResourceClaim(ns, name); ok {
				c.countSpec(&ct, &cl.Spec, objectName("ResourceClaim", ns, name), "spec")
			} else {
				t.problem(fmt.Sprintf("%s.resourceClaimName: ResourceClaim %s/%s does not exist; not counted", field, ns, name))
			}
		default:
			gen, hasStatus := generated[pc.Name]
			if hasStatus && gen == nil {
				// "If this is unset, then generating a ResourceClaim was
				// not necessary" (k8s.io/api core/v1 PodResourceClaimStatus).
				continue
			}
			ref.Template, ref.Alias = *pc.ResourceClaimTemplateName, pod.Name+"/"+pc.Name
			if hasStatus {
				ref.Name = *gen
				if cl, ok := c.src.ResourceClaim(ns, *gen); ok {
					c.countSpec(&ct, &cl.Spec, objectName("ResourceClaim", ns, *gen), "spec")
					break
				}
			}
			if tmpl, ok := c.src.ResourceClaimTemplate(ns, ref.Template); ok {
				c.countSpec(&ct, &tmpl.Spec.Spec, objectName("ResourceClaimTemplate", ns, ref.Template), "spec.spec")
			} else {
				t.problem(fmt.Sprintf("%s.resourceClaimTemplateName: ResourceClaimTemplate %s/%s does not exist; not counted", field, ns, ref.Template))
			}
		}
		ref.GPUs = ct.gpus()
		t.merge(&ct)
		t.claims = append(t.claims, ref)
	}
	return t.count()
}

// PodUse is what one pod adds to its namespace's GPU use, before shared
// claims are counted once: what an informer-fed aggregator keeps per pod.
type PodUse struct {
	Name string `json:"name"`
	// Resources is the GPUs of its container resources.
	Resources float64 `json:"resources"`
	// Claims are the claims it uses.
	Claims []ClaimRef `json:"claims,omitempty"`
	// ExtendedClaim is the claim the scheduler made for its extended
	// resources (status.extendedResourceClaimStatus), never counted:
	// Resources holds those GPUs.
	ExtendedClaim string `json:"extendedClaim,omitempty"`
}

// Use is the pod's contribution to its namespace's usage; terminal pods
// (Succeeded, Failed) contribute nothing.
func (k Count) Use(pod *corev1.Pod) PodUse {
	u := PodUse{Name: pod.Name}
	if terminal(pod) {
		return u
	}
	if s := pod.Status.ExtendedResourceClaimStatus; s != nil {
		u.ExtendedClaim = s.ResourceClaimName
	}
	u.Resources, u.Claims = k.fromResources, k.Claims
	return u
}

// Empty reports whether the pod adds nothing to its namespace: an
// aggregator need not keep it.
func (u PodUse) Empty() bool {
	return u.Resources == 0 && len(u.Claims) == 0 && u.ExtendedClaim == ""
}

// PodUse counts a pod and returns its contribution.
func (c *Counter) PodUse(namespace string, pod *corev1.Pod) PodUse {
	if terminal(pod) {
		return Count{}.Use(pod)
	}
	return c.Pod(namespace, pod).Use(pod)
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}
