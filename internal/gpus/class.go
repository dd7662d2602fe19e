package gpus

import (
	"fmt"
	"slices"
	"strings"

	resourcev1 "k8s.io/api/resource/v1"
)

// unit is what one device counts as.
type unit struct {
	// perDevice is in GPUs: 1, or a MIG profile's fraction.
	perDevice float64
	// profile is the MIG profile when it is known.
	profile string
}

// device is what a request's devices are: a GPU or not, and what one counts.
type device struct {
	gpu   bool
	kind  Kind
	unit  unit
	notes []string
	// problems are about the class (it does not exist).
	problems []string
	// profiles are the MIG profiles the selectors name, even when they
	// contradict each other.
	profiles []string
}

// classify says what the devices of a request for className, narrowed by
// the request's selectors, are. where names the request for messages.
func (c *Counter) classify(className string, selectors []resourcev1.DeviceSelector, where string) device {
	var d device
	kind, configured := c.cfg.DeviceClasses[className]
	if configured && kind == KindNone {
		return d
	}
	var classSelectors []resourcev1.DeviceSelector
	class, exists := c.src.DeviceClass(className)
	if exists {
		classSelectors = class.Spec.Selectors
	} else {
		verdict := "its devices are not counted"
		if configured {
			verdict = fmt.Sprintf("counted as configured (%s)", kind)
		}
		d.problems = append(d.problems, fmt.Sprintf("%s: DeviceClass %s does not exist; %s", where, className, verdict))
	}
	facts := c.facts(classSelectors, selectors)
	if !configured {
		driver, ok := c.gpuDriver(facts)
		if !ok {
			return d
		}
		kind = KindGPU
		if len(facts.profiles) > 0 {
			kind = KindMIG
		}
		d.notes = append(d.notes, fmt.Sprintf("%s: DeviceClass %s is not configured as a GPU class, but its selectors require driver %s: counted as GPUs", where, className, driver))
	}
	d.gpu, d.kind = true, kind
	d.unit = unit{perDevice: 1}
	if kind != KindMIG {
		return d
	}
	d.profiles = facts.profiles
	switch {
	case len(facts.profiles) == 1:
		d.unit = c.migUnit(facts.profiles[0])
		if _, known := c.fractions.Fraction(baseProfile(facts.profiles[0])); !known {
			d.notes = append(d.notes, fmt.Sprintf("%s: MIG profile %s is not in the catalog: counted as a whole GPU", where, facts.profiles[0]))
		}
	case len(facts.profiles) > 1:
		d.notes = append(d.notes, fmt.Sprintf("%s: selectors require MIG profiles %s at once, which no device has: counted as a whole GPU per device", where, strings.Join(facts.profiles, " and ")))
	default:
		why := "no selector names the MIG profile"
		switch {
		case facts.unreadable != "":
			why = "a selector is " + facts.unreadable
		case facts.unclear != "":
			why = "a selector " + facts.unclear
		}
		d.notes = append(d.notes, fmt.Sprintf("%s: %s: counted as a whole GPU per device", where, why))
	}
	return d
}

// migUnit is one MIG slice of a known profile: its fraction of a GPU, or a
// whole GPU when the catalog does not know the profile.
func (c *Counter) migUnit(profile string) unit {
	if f, ok := c.fractions.Fraction(baseProfile(profile)); ok {
		return unit{perDevice: f, profile: profile}
	}
	return unit{perDevice: 1, profile: profile}
}

// baseProfile drops a media-extension suffix: 1g.10gb+me takes the slices of
// 1g.10gb.
func baseProfile(p string) string {
	p, _, _ = strings.Cut(p, "+")
	return p
}

// facts merges what the class's and the request's selectors require; all
// of them must hold for a device.
func (c *Counter) facts(lists ...[]resourcev1.DeviceSelector) selectorFacts {
	var all selectorFacts
	for _, list := range lists {
		for _, s := range list {
			if s.CEL == nil {
				continue
			}
			f := c.selectors.read(s.CEL.Expression, c.profileAttr)
			for _, v := range f.drivers {
				all.drivers = appendNew(all.drivers, v)
			}
			for _, v := range f.domains {
				all.domains = appendNew(all.domains, v)
			}
			for _, v := range f.profiles {
				all.profiles = appendNew(all.profiles, v)
			}
			if all.unreadable == "" {
				all.unreadable = f.unreadable
			}
			if all.unclear == "" {
				all.unclear = f.unclear
			}
		}
	}
	return all
}

// gpuDriver reports the configured GPU driver that the selectors require,
// by name or by comparing an attribute of its domain (a device without
// attributes of a domain has none to compare).
func (c *Counter) gpuDriver(f selectorFacts) (string, bool) {
	for _, d := range c.cfg.Drivers {
		if slices.Contains(f.drivers, d) || slices.Contains(f.domains, d) {
			return d, true
		}
	}
	return "", false
}

// classForResource returns the DeviceClass that serves an extended resource
// name: deviceclass.resource.kubernetes.io/<class>, or the class whose
// spec.extendedResourceName it is. Of several, the newest wins, then the
// first by name (k8s.io/api resource/v1 DeviceClassSpec.ExtendedResourceName).
func (c *Counter) classForResource(name string) (string, bool) {
	if class, ok := strings.CutPrefix(name, resourcev1.ResourceDeviceClassPrefix); ok {
		return class, class != ""
	}
	var best *resourcev1.DeviceClass
	for _, dc := range c.src.DeviceClasses() {
		if dc == nil || dc.Spec.ExtendedResourceName == nil || *dc.Spec.ExtendedResourceName != name {
			continue
		}
		if best == nil || best.CreationTimestamp.Before(&dc.CreationTimestamp) ||
			(best.CreationTimestamp.Equal(&dc.CreationTimestamp) && dc.Name < best.Name) {
			best = dc
		}
	}
	if best == nil {
		return "", false
	}
	return best.Name, true
}
