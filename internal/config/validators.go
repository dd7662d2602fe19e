package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Validators is the validators section of the configuration file: how
// Tollgate gathers the cluster state the quota, spot and nodepool policies
// read. The policies' own parameters (the Spot notice, the price table, the
// per-pod maximum, ...) are in params.quota, params.spot and
// params.nodepool (rego/data.json).
type Validators struct {
	// GPUResources weighs the extended resources that count as GPUs for GPU
	// quota, in GPUs per unit: nvidia.com/gpu is 1, a time-sliced
	// nvidia.com/gpu.shared with four replicas per GPU is 0.25, and 0 stops
	// counting a resource. MIG slices (nvidia.com/mig-<profile>) always
	// count as their profile's fraction of a GPU (3g.40gb is 3/7).
	// Entries merge with the default {nvidia.com/gpu: 1}.
	GPUResources map[string]float64 `json:"gpuResources"`
}

func defaultValidators() Validators {
	return Validators{GPUResources: map[string]float64{"nvidia.com/gpu": 1}}
}

// UnmarshalJSON reads the section over the values already set (the
// defaults), rejecting unknown fields and invalid values with the field at
// fault, since Config.Validate does not know this section's rules.
func (v *Validators) UnmarshalJSON(b []byte) error {
	type plain Validators
	p := plain(*v)
	p.GPUResources = maps.Clone(v.GPUResources)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("validators: %w", err)
	}
	if err := Validators(p).validate(); err != nil {
		return err
	}
	*v = Validators(p)
	return nil
}

func (v Validators) validate() error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(v.GPUResources)) {
		w := v.GPUResources[name]
		switch {
		case w < 0:
			errs = append(errs, fmt.Errorf("validators.gpuResources[%q]: %v GPUs per unit is negative", name, w))
		case !strings.Contains(name, "/"):
			errs = append(errs, fmt.Errorf("validators.gpuResources[%q]: not an extended resource name (want domain/name, such as nvidia.com/gpu)", name))
		case strings.HasPrefix(name, "nvidia.com/mig-"):
			errs = append(errs, fmt.Errorf("validators.gpuResources[%q]: MIG slices count by their profile and cannot be weighed", name))
		}
	}
	return errors.Join(errs...)
}
