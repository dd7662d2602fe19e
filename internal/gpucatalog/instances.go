package gpucatalog

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// instancesJSON is the EC2 instance table: per family its architecture and
// GPU model, and per size its vCPUs, memory and GPU count (AWS's
// "Amazon EC2 instance types" specifications for the accelerated computing
// families g4dn, g5, g5g, g6, g6e, gr6, p3, p3dn, p4d, p4de, p5, p5e, p5en
// and p6-b200, and the common general purpose, compute and memory families).
// GPU models are keys of the gpus table in rego/data.json; a test checks
// that both tables agree on every GPU instance type.
//
//go:embed instances.json
var instancesJSON []byte

// Instance is one EC2 instance type with the facts Karpenter publishes as
// node labels (karpenter.k8s.aws/instance-* and, on EKS Auto Mode,
// eks.amazonaws.com/instance-*).
type Instance struct {
	Name       string // g5.2xlarge
	Family     string // g5
	Category   string // g
	Generation int    // 5
	Size       string // 2xlarge
	Arch       string // amd64 or arm64
	VCPU       int
	MemoryMiB  int64
	GPUs       int
	GPU        string // catalog GPU model (A10G), "" without GPUs
	// GPUName is the lower-case model Karpenter labels instance-gpu-name
	// with (a10g, a100, h100).
	GPUName      string
	GPUMemoryMiB int64
}

type instanceFile struct {
	Families map[string]struct {
		Arch  string `json:"arch"`
		GPU   string `json:"gpu"`
		Sizes map[string]struct {
			VCPU      int `json:"vcpu"`
			MemoryGiB int `json:"memoryGiB"`
			GPUs      int `json:"gpus"`
		} `json:"sizes"`
	} `json:"families"`
}

var (
	instancesOnce sync.Once
	instances     []Instance
	instancesErr  error
)

// Instances returns every instance type of the table, sorted by name.
func (c *Catalog) Instances() ([]Instance, error) {
	instancesOnce.Do(func() { instances, instancesErr = parseInstances(instancesJSON, c) })
	return instances, instancesErr
}

func parseInstances(b []byte, c *Catalog) ([]Instance, error) {
	var f instanceFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("gpucatalog/instances.json: %w", err)
	}
	var out []Instance
	for family, fam := range f.Families {
		category, generation, err := splitFamily(family)
		if err != nil {
			return nil, fmt.Errorf("gpucatalog/instances.json: family %q: %w", family, err)
		}
		var gpu GPU
		if fam.GPU != "" {
			g, ok := c.GPUs[fam.GPU]
			if !ok {
				return nil, fmt.Errorf("gpucatalog/instances.json: family %q: GPU %q is not in rego/data.json", family, fam.GPU)
			}
			gpu = g
		}
		for size, s := range fam.Sizes {
			in := Instance{
				Name: family + "." + size, Family: family, Category: category, Generation: generation,
				Size: size, Arch: fam.Arch, VCPU: s.VCPU, MemoryMiB: int64(s.MemoryGiB) * 1024, GPUs: s.GPUs,
			}
			if s.GPUs > 0 {
				in.GPU, in.GPUName, in.GPUMemoryMiB = fam.GPU, gpuLabelName(fam.GPU), int64(gpu.MemoryGiB)*1024
			}
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// splitFamily parses "p4de" into category "p" and generation 4, and
// "p6-b200" into "p" and 6: the letters before the first digit, and that
// number.
func splitFamily(family string) (string, int, error) {
	i := strings.IndexFunc(family, unicode.IsDigit)
	if i <= 0 {
		return "", 0, fmt.Errorf("no generation")
	}
	j := i
	for j < len(family) && unicode.IsDigit(rune(family[j])) {
		j++
	}
	n, err := strconv.Atoi(family[i:j])
	return family[:i], n, err
}

// gpuLabelName is the model as Karpenter's instance-gpu-name label spells
// it: lower case, without the memory suffix of the catalog's key.
func gpuLabelName(model string) string {
	name, _, _ := strings.Cut(model, "-")
	return strings.ToLower(name)
}
