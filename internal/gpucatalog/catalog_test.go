package gpucatalog

import (
	"slices"
	"testing"
)

func TestCatalog(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		instance string
		gpu      string
		gpus     int
		mig      bool
	}{
		{"p4d.24xlarge", "A100-40GB", 8, true},
		{"p4de.24xlarge", "A100-80GB", 8, true},
		{"p5.48xlarge", "H100-80GB", 8, true},
		{"p5e.48xlarge", "H200", 8, true},
		{"p5en.48xlarge", "H200", 8, true},
		{"g5.xlarge", "A10G", 1, false},
		{"g6.12xlarge", "L4", 4, false},
		{"g6e.48xlarge", "L40S", 8, false},
		{"g4dn.12xlarge", "T4", 4, false},
		{"p3.16xlarge", "V100-16GB", 8, false},
	} {
		it, g, ok := c.Instance(tc.instance)
		if !ok || it.GPU != tc.gpu || it.GPUs != tc.gpus || g.MIG != tc.mig {
			t.Errorf("%s: got %+v %+v %v, want %s x%d mig=%v", tc.instance, it, g, ok, tc.gpu, tc.gpus, tc.mig)
		}
	}
	// The design document's mistake: p4d is A100 40GB, which has no 3g.40gb.
	if got := c.GPUsOffering("3g.40gb"); !slices.Equal(got, []string{"A100-80GB", "H100-80GB"}) {
		t.Errorf("3g.40gb offered by %v", got)
	}
	for profile, want := range map[string]float64{"3g.40gb": 3.0 / 7, "1g.10gb": 1.0 / 7, "7g.80gb": 1, "2g.12gb": 0.5, "4g.24gb": 1} {
		if got, ok := c.Fraction(profile); !ok || got != want {
			t.Errorf("Fraction(%s) = %v, %v; want %v", profile, got, ok, want)
		}
	}
	if _, ok := c.Fraction("3g.41gb"); ok {
		t.Error("unknown profile has a fraction")
	}
	if got := c.Profiles("A100-40GB"); !slices.Equal(got, []string{"1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"}) {
		t.Errorf("A100-40GB profiles %v", got)
	}
	for name, g := range c.GPUs {
		if g.MIG != (len(g.Profiles) > 0) || (g.MIG && g.Slices == 0) {
			t.Errorf("%s: inconsistent MIG data %+v", name, g)
		}
	}
	for name, it := range c.InstanceTypes {
		if _, ok := c.GPUs[it.GPU]; !ok || it.GPUs < 1 {
			t.Errorf("%s: unknown GPU %q or no GPUs", name, it.GPU)
		}
	}
}

// The instance table and the GPU table of rego/data.json agree on every
// GPU instance type, in both directions.
func TestInstancesAgreeWithGPUTable(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.Instances()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, in := range all {
		if in.VCPU <= 0 || in.MemoryMiB <= 0 || (in.Arch != "amd64" && in.Arch != "arm64") {
			t.Errorf("%s: implausible %+v", in.Name, in)
		}
		if in.GPUs == 0 {
			continue
		}
		seen[in.Name] = true
		it, ok := c.InstanceTypes[in.Name]
		if !ok || it.GPU != in.GPU || it.GPUs != in.GPUs {
			t.Errorf("%s: instances.json says %d x %s, data.json %+v (listed %v)", in.Name, in.GPUs, in.GPU, it, ok)
		}
	}
	for name := range c.InstanceTypes {
		if !seen[name] {
			t.Errorf("%s is in data.json's instanceTypes but not in instances.json", name)
		}
	}
	byName := map[string]Instance{}
	for _, in := range all {
		byName[in.Name] = in
	}
	for _, tc := range []struct {
		name, category, gpuName string
		generation, vcpu, gpus  int
	}{
		{"p6-b200.48xlarge", "p", "b200", 6, 192, 8},
		{"p4de.24xlarge", "p", "a100", 4, 96, 8},
		{"g5g.16xlarge", "g", "t4g", 5, 64, 2},
		{"gr6.4xlarge", "gr", "l4", 6, 16, 1},
		{"m7g.large", "m", "", 7, 2, 0},
	} {
		in, ok := byName[tc.name]
		if !ok || in.Category != tc.category || in.Generation != tc.generation || in.GPUName != tc.gpuName || in.VCPU != tc.vcpu || in.GPUs != tc.gpus {
			t.Errorf("%s: got %+v (listed %v)", tc.name, in, ok)
		}
	}
	if in := byName["g5g.xlarge"]; in.Arch != "arm64" {
		t.Errorf("g5g is Graviton: %+v", in)
	}
}
