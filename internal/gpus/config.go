package gpus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"

	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Kind is what one device of a DRA device class is.
type Kind string

const (
	// KindGPU devices are whole GPUs.
	KindGPU Kind = "gpu"
	// KindMIG devices are MIG slices; their profile comes from the CEL
	// selectors of the class and of the request.
	KindMIG Kind = "mig"
	// KindNone devices are not GPUs, even when their driver is a GPU driver
	// (an operator's way to exclude one class from Drivers).
	KindNone Kind = "none"
)

// MIGResourcePrefix names MIG slices in the NVIDIA device plugin's mixed
// strategy: nvidia.com/mig-3g.40gb.
const MIGResourcePrefix = "nvidia.com/mig-"

// Defaults. NVIDIA's DRA driver publishes the gpu.nvidia.com and
// mig.nvidia.com DeviceClasses, and a MIG device's profile as the attribute
// "profile" of the driver's domain gpu.nvidia.com (NVIDIA/k8s-dra-driver-gpu
// deployments/helm/dra-driver-nvidia-gpu/templates/deviceclass-{gpu,mig}.yaml,
// cmd/gpu-kubelet-plugin/mig.go CommonAttributesMig; unqualified attribute
// names are in the driver's domain, k8s.io/api resource/v1 QualifiedName).
const (
	DefaultGPUClass         = "gpu.nvidia.com"
	DefaultMIGClass         = "mig.nvidia.com"
	DefaultDriver           = "gpu.nvidia.com"
	DefaultProfileAttribute = "gpu.nvidia.com/profile"
)

// MaxWeight bounds a resource's weight: no extended resource unit is more
// than this many GPUs.
const MaxWeight = 1000

// Config says what counts as a GPU. It is meant for the configuration file
// (JSON or YAML through sigs.k8s.io/yaml); decoding merges over the values
// already set, so decode into DefaultConfig().
type Config struct {
	// Resources weighs extended resources in container resources, in GPUs
	// per unit: nvidia.com/gpu is 1, a time-sliced nvidia.com/gpu.shared
	// with four replicas per GPU is 0.25, and 0 stops counting a resource.
	// MIG slices (nvidia.com/mig-<profile>) always count as their profile's
	// fraction of a GPU. Entries merge with the default {nvidia.com/gpu: 1}.
	Resources map[string]float64 `json:"resources,omitempty"`
	// DeviceClasses names the DRA DeviceClasses whose devices are GPUs:
	// gpu (one whole GPU per device), mig (one MIG slice per device) or
	// none. Entries merge with the defaults {gpu.nvidia.com: gpu,
	// mig.nvidia.com: mig}.
	DeviceClasses map[string]Kind `json:"deviceClasses,omitempty"`
	// Drivers are DRA drivers whose devices are GPUs. A device class that
	// DeviceClasses does not name, or a request through it, whose CEL
	// selectors require device.driver == one of them (or compare an
	// attribute of its domain) counts too: as MIG slices when the
	// selectors name a profile, else as whole GPUs. This catches classes
	// such as a per-profile mig-1g-12gb.gpu.nvidia.com that the operator
	// did not list. Default [gpu.nvidia.com]; [] turns it off.
	Drivers []string `json:"drivers"`
	// ProfileAttribute is the device attribute that names a MIG device's
	// profile, as domain/name. Default gpu.nvidia.com/profile.
	ProfileAttribute string `json:"profileAttribute,omitempty"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Resources:        map[string]float64{"nvidia.com/gpu": 1},
		DeviceClasses:    map[string]Kind{DefaultGPUClass: KindGPU, DefaultMIGClass: KindMIG},
		Drivers:          []string{DefaultDriver},
		ProfileAttribute: DefaultProfileAttribute,
	}
}

// UnmarshalJSON reads the configuration over the values already set (the
// defaults): map entries merge, lists and strings replace. Unknown fields
// and invalid values are errors that name the field.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	p := plain(*c)
	p.Resources = maps.Clone(c.Resources)
	p.DeviceClasses = maps.Clone(c.DeviceClasses)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	if err := Config(p).Validate(""); err != nil {
		return err
	}
	*c = Config(p)
	return nil
}

var cIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the configuration; each error names its field under
// prefix (such as "validators.gpus").
func (c Config) Validate(prefix string) error {
	field := func(f string) string {
		if prefix == "" {
			return f
		}
		return prefix + "." + f
	}
	var errs []error
	bad := func(f, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field(f), fmt.Sprintf(format, args...)))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Resources)) {
		w, f := c.Resources[name], fmt.Sprintf("resources[%q]", name)
		switch {
		case math.IsNaN(w) || w < 0:
			bad(f, "%v GPUs per unit is not a weight (want 0 or more)", w)
		case w > MaxWeight:
			bad(f, "%v GPUs per unit is more than %d", w, MaxWeight)
		case !strings.Contains(name, "/"):
			bad(f, "not an extended resource name (want domain/name, such as nvidia.com/gpu)")
		case strings.HasPrefix(name, MIGResourcePrefix):
			bad(f, "MIG slices count by their profile and cannot be weighed")
		case strings.HasPrefix(name, resourcev1.ResourceDeviceClassPrefix):
			bad(f, "%s<class> resources count through deviceClasses", resourcev1.ResourceDeviceClassPrefix)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.DeviceClasses)) {
		f := fmt.Sprintf("deviceClasses[%q]", name)
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			bad(f, "not a DeviceClass name: %s", strings.Join(msgs, "; "))
		}
		switch c.DeviceClasses[name] {
		case KindGPU, KindMIG, KindNone:
		default:
			bad(f, "kind %q is not one of gpu, mig, none", c.DeviceClasses[name])
		}
	}
	for i, d := range c.Drivers {
		if msgs := validation.IsDNS1123Subdomain(d); len(msgs) > 0 {
			bad(fmt.Sprintf("drivers[%d]", i), "%q is not a DRA driver name: %s", d, strings.Join(msgs, "; "))
		}
	}
	if domain, id, ok := strings.Cut(c.ProfileAttribute, "/"); !ok || len(validation.IsDNS1123Subdomain(domain)) > 0 || !cIdentifier.MatchString(id) {
		bad("profileAttribute", "%q is not a fully qualified attribute name (want domain/name, such as %s)", c.ProfileAttribute, DefaultProfileAttribute)
	}
	return errors.Join(errs...)
}
