package gpus

import (
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// resUnit is what one unit of a container resource counts as.
type resUnit struct {
	unit
	// dra: only a DeviceClass serves the resource (KEP-5004), no device
	// plugin resource Tollgate knows.
	dra bool
	// notes and problems come from classifying the DeviceClass.
	notes, problems []string
}

// resourceUnit says whether a container resource is a GPU and what a unit
// counts: a configured resource by its weight (0 is not a GPU), a MIG
// resource by its profile, and, through DRA, the implicit
// deviceclass.resource.kubernetes.io/<class> names and the names that a
// GPU DeviceClass declares as its extendedResourceName. A configured
// resource served by a DeviceClass (nvidia.com/gpu by gpu.nvidia.com) is
// counted here once; the claim the scheduler makes for it is not a claim of
// the pod (Usage skips it).
func (c *Counter) resourceUnit(name corev1.ResourceName) (resUnit, bool) {
	if w, ok := c.resources[name]; ok {
		return resUnit{unit: unit{perDevice: w}}, w > 0
	}
	if profile, ok := strings.CutPrefix(string(name), MIGResourcePrefix); ok {
		if profile == "" {
			return resUnit{unit: unit{perDevice: 1}}, true
		}
		return resUnit{unit: c.migUnit(profile)}, true
	}
	class, ok := c.classForResource(string(name))
	if !ok {
		return resUnit{}, false
	}
	d := c.classify(class, nil, "resource "+string(name))
	if !d.gpu {
		// A missing class may be a GPU class not created yet: say so.
		return resUnit{problems: d.problems}, false
	}
	return resUnit{unit: d.unit, dra: true, notes: d.notes, problems: d.problems}, true
}

// Weight returns how many GPUs one unit of a container resource is, and
// whether the resource is a GPU at all (for stripping cached pods to what
// counting reads). A MIG profile the catalog does not know counts as a whole
// GPU, the most it can be.
func (c *Counter) Weight(name corev1.ResourceName) (float64, bool) {
	u, ok := c.resourceUnit(name)
	return u.perDevice, ok
}

// countResources counts the GPUs of a pod's container resources, combined as
// the scheduler and ResourceQuota combine requests: per resource, the
// larger of the app containers plus sidecars and the largest init container
// plus the sidecars started before it. Requests default to limits, as the
// API server defaults them for extended resources.
func (c *Counter) countResources(t *tally, spec *corev1.PodSpec) {
	units := map[corev1.ResourceName]resUnit{}
	per := map[corev1.ResourceName]float64{}
	sidecars := map[corev1.ResourceName]float64{}
	initMax := map[corev1.ResourceName]float64{}
	for i := range spec.InitContainers {
		ctr := &spec.InitContainers[i]
		restartable := ctr.RestartPolicy != nil && *ctr.RestartPolicy == corev1.ContainerRestartPolicyAlways
		c.eachGPU(t, units, &ctr.Resources, fmt.Sprintf("spec.initContainers[%d]", i), func(name corev1.ResourceName, n float64) {
			if restartable {
				sidecars[name] += n
				initMax[name] = max(initMax[name], sidecars[name])
			} else {
				initMax[name] = max(initMax[name], n+sidecars[name])
			}
		})
	}
	for i := range spec.Containers {
		c.eachGPU(t, units, &spec.Containers[i].Resources, fmt.Sprintf("spec.containers[%d]", i), func(name corev1.ResourceName, n float64) { per[name] += n })
	}
	for _, name := range slices.Sorted(maps.Keys(units)) {
		u := units[name]
		n := max(per[name]+sidecars[name], initMax[name])
		if n <= 0 {
			continue
		}
		t.devices(n, u.unit, false)
		t.profile(u.profile)
		if u.dra {
			t.draRes = true
		} else {
			t.plainRes = true
		}
	}
}

// eachGPU calls f with each GPU resource a container requests (or limits,
// when it sets no request) and its count; quantities that are not a count
// of devices become problems naming the field.
func (c *Counter) eachGPU(t *tally, units map[corev1.ResourceName]resUnit, r *corev1.ResourceRequirements, path string, f func(corev1.ResourceName, float64)) {
	visit := func(list corev1.ResourceList, field string, skip func(corev1.ResourceName) bool) {
		for _, name := range slices.Sorted(maps.Keys(list)) {
			if skip(name) {
				continue
			}
			u, seen := units[name]
			if !seen {
				var ok bool
				u, ok = c.resourceUnit(name)
				t.notes = append(t.notes, u.notes...)
				t.problems = append(t.problems, u.problems...)
				if !ok {
					continue
				}
				units[name] = u
			}
			t.asks = true
			if n, ok := deviceCount(t, list[name], fmt.Sprintf("%s.resources.%s[%s]", path, field, name), name); ok {
				f(name, n)
			}
		}
	}
	visit(r.Requests, "requests", func(corev1.ResourceName) bool { return false })
	visit(r.Limits, "limits", func(name corev1.ResourceName) bool { _, set := r.Requests[name]; return set })
}

// deviceCount reads a quantity of devices. Negative, non-finite and absurd
// quantities (the API server accepts 1e70000) are problems and count
// nothing; fractions, which it rejects for extended resources, are a
// problem but count as given.
func deviceCount(t *tally, q resource.Quantity, field string, name corev1.ResourceName) (float64, bool) {
	f := q.AsApproximateFloat64()
	switch {
	case q.Sign() < 0:
		t.problem(fmt.Sprintf("%s: %s %s is negative, not a GPU count", field, name, formatQuantity(q)))
		return 0, false
	case math.IsNaN(f) || math.IsInf(f, 0) || f > MaxCount:
		t.problem(fmt.Sprintf("%s: %s %s is not a GPU count (more than %d devices)", field, name, formatQuantity(q), MaxCount))
		return 0, false
	case f != math.Trunc(f):
		t.problem(fmt.Sprintf("%s: %s %s is not a whole number of devices", field, name, formatQuantity(q)))
	}
	return f, true
}

// formatQuantity writes huge quantities in short scientific notation
// (1e70000, which the API server keeps as 10e69999) and others as the API
// server writes them.
func formatQuantity(q resource.Quantity) string {
	s := q.String()
	if !strings.ContainsAny(s, "eE") || strings.HasSuffix(s, "i") {
		return s
	}
	d := q.AsDec() // q is a copy: AsDec may change its representation
	unscaled := new(big.Int).Set(d.UnscaledBig())
	exp := -int64(d.Scale())
	ten, zero, r := big.NewInt(10), big.NewInt(0), new(big.Int)
	for unscaled.Sign() != 0 {
		if _, r = new(big.Int).QuoRem(unscaled, ten, r); r.Cmp(zero) != 0 {
			break
		}
		unscaled.Quo(unscaled, ten)
		exp++
	}
	digits := unscaled.String()
	if exp == 0 {
		return digits
	}
	if len(digits) > 24 {
		return s
	}
	return fmt.Sprintf("%se%d", digits, exp)
}
