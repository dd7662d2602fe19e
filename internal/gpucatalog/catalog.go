// Package gpucatalog reads the GPU and EC2 instance-type tables that the
// embedded bundle keeps as data (rego/data.json, data.tollgate.catalog), so
// that Go mutators and Rego validators share one source: which GPU each
// instance type carries, how many, and which MIG profiles each GPU offers.
package gpucatalog

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/tollgate-dev/tollgate/rego"
)

// GPU is one GPU model.
type GPU struct {
	MemoryGiB int  `json:"memoryGiB"`
	MIG       bool `json:"mig"`
	// Slices is the number of compute slices a MIG-capable GPU divides
	// into (7, or 4 on the A30); a profile "Ng.*" takes N of them.
	Slices   int      `json:"slices,omitempty"`
	Profiles []string `json:"profiles,omitempty"`
}

// InstanceType is an EC2 instance type with GPUs.
type InstanceType struct {
	GPU  string `json:"gpu"`
	GPUs int    `json:"gpus"`
}

// Catalog holds the tables.
type Catalog struct {
	GPUs          map[string]GPU          `json:"gpus"`
	InstanceTypes map[string]InstanceType `json:"instanceTypes"`
}

var (
	once     sync.Once
	embedded *Catalog
	loadErr  error
)

// Default returns the catalog embedded in the bundle.
func Default() (*Catalog, error) {
	once.Do(func() {
		b, err := rego.FS.ReadFile("data.json")
		if err != nil {
			loadErr = err
			return
		}
		var doc struct {
			Tollgate struct {
				Catalog Catalog `json:"catalog"`
			} `json:"tollgate"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			loadErr = fmt.Errorf("rego/data.json: %w", err)
			return
		}
		embedded = &doc.Tollgate.Catalog
	})
	return embedded, loadErr
}

// Instance returns an instance type's entry and its GPU.
func (c *Catalog) Instance(instanceType string) (InstanceType, GPU, bool) {
	it, ok := c.InstanceTypes[instanceType]
	if !ok {
		return InstanceType{}, GPU{}, false
	}
	g, ok := c.GPUs[it.GPU]
	return it, g, ok
}

// Family returns the instance family of an instance type ("p4d.24xlarge" -> "p4d").
func Family(instanceType string) string {
	f, _, _ := strings.Cut(instanceType, ".")
	return f
}

// InstancesOfFamily lists the catalog's instance types of a family.
func (c *Catalog) InstancesOfFamily(family string) []string {
	var out []string
	for name := range c.InstanceTypes {
		if Family(name) == family {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// GPUsOffering lists the GPU models that offer a MIG profile.
func (c *Catalog) GPUsOffering(profile string) []string {
	var out []string
	for name, g := range c.GPUs {
		if slices.Contains(g.Profiles, profile) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Profiles lists every MIG profile of the given GPU models (all MIG-capable
// models when none are given), sorted and without repeats.
func (c *Catalog) Profiles(gpus ...string) []string {
	set := map[string]bool{}
	for name, g := range c.GPUs {
		if len(gpus) > 0 && !slices.Contains(gpus, name) {
			continue
		}
		for _, p := range g.Profiles {
			set[p] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return profileLess(out[i], out[j]) })
	return out
}

// Fraction is the share of one GPU's compute a MIG profile takes: its
// compute slices over the GPU's (3g.40gb = 3/7; 2g.12gb on an A30 = 2/4).
func (c *Catalog) Fraction(profile string) (float64, bool) {
	n, ok := computeSlices(profile)
	if !ok {
		return 0, false
	}
	for _, g := range c.GPUs {
		if slices.Contains(g.Profiles, profile) && g.Slices > 0 {
			return float64(n) / float64(g.Slices), true
		}
	}
	return 0, false
}

// computeSlices parses the "Ng" prefix of a MIG profile.
func computeSlices(profile string) (int, bool) {
	g, _, ok := strings.Cut(profile, ".")
	if !ok || !strings.HasSuffix(g, "g") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(g, "g"))
	return n, err == nil && n > 0
}

// profileLess orders profiles by compute slices, then memory.
func profileLess(a, b string) bool {
	na, _ := computeSlices(a)
	nb, _ := computeSlices(b)
	if na != nb {
		return na < nb
	}
	return memoryGB(a) < memoryGB(b)
}

func memoryGB(profile string) int {
	_, mem, _ := strings.Cut(profile, ".")
	n, _ := strconv.Atoi(strings.TrimSuffix(mem, "gb"))
	return n
}
