package gpus

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate("validators.gpus"); err != nil {
		t.Fatal(err)
	}
	if c.DeviceClasses["gpu.nvidia.com"] != KindGPU || c.DeviceClasses["mig.nvidia.com"] != KindMIG || c.Resources["nvidia.com/gpu"] != 1 {
		t.Errorf("defaults %+v", c)
	}
	// Defaults are fresh maps: changing one config does not change the next.
	c.Resources["x.example.com/y"] = 2
	if _, leaked := DefaultConfig().Resources["x.example.com/y"]; leaked {
		t.Error("DefaultConfig shares its maps")
	}
}

func TestConfigDecodeMergesOverDefaults(t *testing.T) {
	c := DefaultConfig()
	in := `
resources: {nvidia.com/gpu.shared: 0.25}
deviceClasses: {a100.example.com: gpu, mig.nvidia.com: none}
drivers: []
`
	if err := yaml.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if want := map[string]float64{"nvidia.com/gpu": 1, "nvidia.com/gpu.shared": 0.25}; !maps.Equal(c.Resources, want) {
		t.Errorf("resources %v, want %v", c.Resources, want)
	}
	if want := map[string]Kind{"gpu.nvidia.com": KindGPU, "mig.nvidia.com": KindNone, "a100.example.com": KindGPU}; !maps.Equal(c.DeviceClasses, want) {
		t.Errorf("deviceClasses %v, want %v", c.DeviceClasses, want)
	}
	if len(c.Drivers) != 0 || c.ProfileAttribute != DefaultProfileAttribute {
		t.Errorf("drivers %v profileAttribute %q", c.Drivers, c.ProfileAttribute)
	}
	// Omitted lists keep their defaults.
	c = DefaultConfig()
	if err := yaml.Unmarshal([]byte("profileAttribute: example.com/migProfile\n"), &c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Drivers, []string{DefaultDriver}) || c.ProfileAttribute != "example.com/migProfile" {
		t.Errorf("%+v", c)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"resources: {nvidia.com/gpu: -1}", `resources["nvidia.com/gpu"]: -1 GPUs per unit is not a weight`},
		{"resources: {nvidia.com/gpu: 5000}", `resources["nvidia.com/gpu"]: 5000 GPUs per unit is more than 1000`},
		{"resources: {gpu: 1}", `resources["gpu"]: not an extended resource name`},
		{"resources: {nvidia.com/mig-1g.10gb: 1}", `resources["nvidia.com/mig-1g.10gb"]: MIG slices count by their profile`},
		{"resources: {deviceclass.resource.kubernetes.io/gpu.nvidia.com: 1}", "count through deviceClasses"},
		{"deviceClasses: {gpu.nvidia.com: tpu}", `deviceClasses["gpu.nvidia.com"]: kind "tpu" is not one of gpu, mig, none`},
		{"deviceClasses: {Not_A_Class: gpu}", `deviceClasses["Not_A_Class"]: not a DeviceClass name`},
		{"drivers: [GPU Driver]", `drivers[0]: "GPU Driver" is not a DRA driver name`},
		{"profileAttribute: profile", `profileAttribute: "profile" is not a fully qualified attribute name`},
		{"profileAttribute: gpu.nvidia.com/mig-profile", "is not a fully qualified attribute name"},
		{"classes: {}", `unknown field "classes"`},
	} {
		c := DefaultConfig()
		err := yaml.Unmarshal([]byte(tc.in), &c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.want)
		}
	}
	err := Config{Resources: map[string]float64{"nvidia.com/gpu": math.NaN()}, ProfileAttribute: DefaultProfileAttribute}.Validate("validators.gpus")
	if err == nil || !strings.Contains(err.Error(), `validators.gpus.resources["nvidia.com/gpu"]: NaN GPUs per unit`) {
		t.Errorf("NaN weight: %v", err)
	}
	if _, err := NewCounter(Config{ProfileAttribute: "x"}, nil, nil); err == nil {
		t.Error("NewCounter accepts an invalid configuration")
	}
}

// TestCounterWithoutCatalogOrSource: no catalog makes every MIG slice a
// whole GPU; no source makes every claim a problem, never a panic.
func TestCounterWithoutCatalogOrSource(t *testing.T) {
	c, err := NewCounter(DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Pod("ai", pod("ai", "p", nil, "g@t", "h=c"))
	if got.GPUs != 0 || len(got.Problems) != 2 {
		t.Errorf("%+v", got)
	}
	got = c.ClaimTemplate(template("ai", "t", exact("mig", "mig.nvidia.com", 2, prof("3g.40gb"))))
	if got.GPUs != 2 || got.MIG["3g.40gb"] != 2 {
		t.Errorf("MIG without catalog: %+v", got)
	}
	if w := c.WithSource(static(t, gpuClass())); w.src == c.src {
		t.Error("WithSource kept the old source")
	}
}

func TestStaticSource(t *testing.T) {
	if _, err := NewStatic("a pod"); err == nil || !strings.Contains(err.Error(), "a string is not a ResourceClaim") {
		t.Errorf("NewStatic(string): %v", err)
	}
	cl := claim("", "c", exact("gpu", "gpu.nvidia.com", 1))
	s := static(t, cl, claim("ai", "b"), claim("ai", "a"), gpuClass(), migClass(), template("", "t"))
	if got, ok := s.ResourceClaim("default", "c"); !ok || got != cl {
		t.Error("a claim without namespace is not in default")
	}
	if _, ok := s.ResourceClaimTemplate("", "t"); !ok {
		t.Error("template not found")
	}
	if _, ok := s.DeviceClass("gpu.nvidia.com"); !ok {
		t.Error("class not found")
	}
	var names []string
	for _, c := range s.ResourceClaims("ai") {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"a", "b"}) {
		t.Errorf("ResourceClaims(ai) = %v", names)
	}
	if cs := s.DeviceClasses(); len(cs) != 2 || cs[0].Name != "gpu.nvidia.com" {
		t.Errorf("DeviceClasses = %v", cs)
	}
}
