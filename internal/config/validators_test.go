package config

import (
	"maps"
	"strings"
	"testing"
)

func TestValidators(t *testing.T) {
	c, err := Load(write(t, "validators: {gpuResources: {nvidia.com/gpu.shared: 0.25, example.com/fpga: 0}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"nvidia.com/gpu": 1, "nvidia.com/gpu.shared": 0.25, "example.com/fpga": 0}
	if !maps.Equal(c.Validators.GPUResources, want) {
		t.Errorf("gpuResources %v, want %v (merged over the default)", c.Validators.GPUResources, want)
	}
	if d := Default().Validators.GPUResources; !maps.Equal(d, map[string]float64{"nvidia.com/gpu": 1}) {
		t.Errorf("loading a file changed the defaults: %v", d)
	}
}

func TestValidatorsErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"validators: {gpuResource: {}}\n", `unknown field "gpuResource"`},
		{"validators: {gpuResources: {nvidia.com/gpu: -1}}\n", `validators.gpuResources["nvidia.com/gpu"]: -1 GPUs per unit is negative`},
		{"validators: {gpuResources: {gpu: 1}}\n", `validators.gpuResources["gpu"]: not an extended resource name`},
		{"validators: {gpuResources: {nvidia.com/mig-1g.10gb: 1}}\n", `validators.gpuResources["nvidia.com/mig-1g.10gb"]: MIG slices count by their profile`},
		{"validators: {gpuResources: {nvidia.com/gpu: many}}\n", "validators"},
	} {
		_, err := Load(write(t, tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}
