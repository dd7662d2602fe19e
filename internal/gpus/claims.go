package gpus

import (
	"fmt"
	"strings"

	resourcev1 "k8s.io/api/resource/v1"
)

// ClaimTemplate counts what one claim made from a ResourceClaimTemplate asks
// for: its GPUs, and in All the requests that take every matching device of
// a GPU class.
func (c *Counter) ClaimTemplate(t *resourcev1.ResourceClaimTemplate) Count {
	var tl tally
	c.countSpec(&tl, &t.Spec.Spec, objectName("ResourceClaimTemplate", t.Namespace, t.Name), "spec.spec")
	return tl.count()
}

// Claim counts what a ResourceClaim's spec asks for, whether or not it is
// allocated.
func (c *Counter) Claim(cl *resourcev1.ResourceClaim) Count {
	var tl tally
	c.countSpec(&tl, &cl.Spec, objectName("ResourceClaim", cl.Namespace, cl.Name), "spec")
	return tl.count()
}

func objectName(kind, namespace, name string) string {
	return fmt.Sprintf("%s %s/%s", kind, namespaceOr(namespace), name)
}

// countSpec adds a claim spec's device requests to t. obj names the object
// and path the spec's field, for messages.
func (c *Counter) countSpec(t *tally, spec *resourcev1.ResourceClaimSpec, obj, path string) {
	for i := range spec.Devices.Requests {
		req := &spec.Devices.Requests[i]
		where := fmt.Sprintf("%s: %s.devices.requests[%d]", obj, path, i)
		type alternative struct {
			name  string
			tally *tally
		}
		var alts []alternative
		if e := req.Exactly; e != nil {
			alts = append(alts, alternative{req.Name, c.request(where+".exactly", e.DeviceClassName, e.Selectors, e.AllocationMode, e.Count, e.AdminAccess != nil && *e.AdminAccess)})
		}
		for j := range req.FirstAvailable {
			s := &req.FirstAvailable[j]
			alts = append(alts, alternative{req.Name + "/" + s.Name, c.request(fmt.Sprintf("%s.firstAvailable[%d]", where, j), s.DeviceClassName, s.Selectors, s.AllocationMode, s.Count, false)})
		}
		switch {
		case len(alts) == 0:
			t.problem(where + ": sets neither exactly nor firstAvailable; not counted")
			continue
		case req.Exactly != nil && len(req.FirstAvailable) > 0:
			t.problem(where + ": sets both exactly and firstAvailable; counted the larger")
		}
		// The scheduler picks one alternative; count the largest.
		chosen := 0
		for k, a := range alts {
			if a.tally.gpus() > alts[chosen].tally.gpus() {
				chosen = k
			}
		}
		for k, a := range alts {
			if k == chosen {
				t.merge(a.tally)
			} else {
				t.mergeAllButDevices(a.tally)
			}
		}
		if len(alts) > 1 && alts[chosen].tally.gpus() > 0 {
			t.note(fmt.Sprintf("%s: firstAvailable: counted the largest of %d alternatives, %s (%v GPUs)", where, len(alts), alts[chosen].name, Round(alts[chosen].tally.gpus())))
		}
	}
}

// request counts one exact request or subrequest.
func (c *Counter) request(where, className string, selectors []resourcev1.DeviceSelector, mode resourcev1.DeviceAllocationMode, count int64, adminAccess bool) *tally {
	t := &tally{}
	if className == "" {
		t.problem(where + ".deviceClassName: empty; not counted")
		return t
	}
	d := c.classify(className, selectors, where)
	t.notes = append(t.notes, d.notes...)
	t.problems = append(t.problems, d.problems...)
	if !d.gpu {
		return t
	}
	t.asks = true
	for _, p := range d.profiles {
		t.profile(p)
	}
	switch mode {
	case "", resourcev1.DeviceAllocationModeExactCount:
		// The API server defaults an unset count to one
		// (k8s.io/api resource/v1 ExactDeviceRequest.Count).
		n := count
		if n == 0 {
			n = 1
		}
		switch {
		case n < 0:
			t.problem(fmt.Sprintf("%s.count: %d is not a count", where, n))
			return t
		case n > MaxCount:
			t.problem(fmt.Sprintf("%s.count: %d is not a count (more than %d devices)", where, n, MaxCount))
			return t
		case n > MaxDevicesPerClaim:
			t.note(fmt.Sprintf("%s.count: %d devices can never be allocated: a claim gets at most %d", where, n, MaxDevicesPerClaim))
		}
		t.devices(float64(n), d.unit, true)
	case resourcev1.DeviceAllocationModeAll:
		t.all = append(t.all, AllRequest{Class: className, Where: where, PerDevice: d.unit.perDevice, Profile: d.unit.profile})
		t.devices(1, d.unit, true)
		t.note(fmt.Sprintf("%s: allocationMode All takes every matching device of %s: counted as one, the least it allocates (at most %d)", where, className, MaxDevicesPerClaim))
	default:
		t.problem(fmt.Sprintf("%s.allocationMode: %q is not ExactCount or All; not counted", where, mode))
		return t
	}
	if adminAccess {
		t.note(where + ": adminAccess devices are counted, as Kubernetes' own quota counts them")
	}
	return t
}

// mergeAllButDevices keeps what an alternative the scheduler may pick says
// (its All requests, profiles, notes and problems) without its devices.
func (t *tally) mergeAllButDevices(o *tally) {
	t.all = append(t.all, o.all...)
	t.asks = t.asks || o.asks
	for p := range o.profiles {
		t.profile(p)
	}
	t.notes = append(t.notes, o.notes...)
	t.problems = append(t.problems, o.problems...)
}

// allocated counts the devices an allocated claim holds: one per
// allocation result, of the class its request (or chosen subrequest) names.
// This settles All and firstAvailable. A result whose request the spec does
// not have counts as a whole GPU when its driver is a GPU driver.
func (c *Counter) allocated(t *tally, cl *resourcev1.ResourceClaim) {
	obj := objectName("ResourceClaim", cl.Namespace, cl.Name)
	for i, r := range cl.Status.Allocation.Devices.Results {
		where := fmt.Sprintf("%s: status.allocation.devices.results[%d]", obj, i)
		className, selectors, ok := findRequest(&cl.Spec, r.Request)
		if !ok {
			for _, d := range c.cfg.Drivers {
				if r.Driver == d {
					t.problem(fmt.Sprintf("%s.request: %q is not a request of the claim; counted as a whole GPU of driver %s", where, r.Request, d))
					t.devices(1, unit{perDevice: 1}, true)
					break
				}
			}
			continue
		}
		if d := c.classify(className, selectors, where); d.gpu {
			t.asks = true
			t.profile(d.unit.profile)
			t.devices(1, d.unit, true)
		}
	}
}

// findRequest finds the class and selectors of a request, "name" or
// "name/subrequest".
func findRequest(spec *resourcev1.ResourceClaimSpec, request string) (string, []resourcev1.DeviceSelector, bool) {
	name, sub, hasSub := strings.Cut(request, "/")
	for i := range spec.Devices.Requests {
		req := &spec.Devices.Requests[i]
		if req.Name != name {
			continue
		}
		if !hasSub {
			if req.Exactly == nil {
				return "", nil, false
			}
			return req.Exactly.DeviceClassName, req.Exactly.Selectors, true
		}
		for j := range req.FirstAvailable {
			if s := &req.FirstAvailable[j]; s.Name == sub {
				return s.DeviceClassName, s.Selectors, true
			}
		}
	}
	return "", nil, false
}
