package placement

import (
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Pool is a karpenter.sh/v1 NodePool as placement reads it: what its
// requirements and template labels allow, its taints and its limits. A
// malformed part is left out and reported in Problems, so that one bad
// NodePool never makes a pod review fail.
type Pool struct {
	Name string
	// Requirements are spec.template.spec.requirements, with the template
	// labels as In requirements of one value (Karpenter treats them alike).
	Requirements []Requirement
	// Taints must be tolerated by a pod; startupTaints are not here:
	// Karpenter assumes something removes them.
	Taints []corev1.Taint
	Limits corev1.ResourceList
	// Problems are the malformed parts, with their field paths.
	Problems []Problem
}

// Requirement is one node selector requirement with where it came from.
type Requirement struct {
	Key    string
	Op     corev1.NodeSelectorOperator
	Values []string
	// Path is the field path of the requirement, or a description of the
	// pod's constraint ("nodeSelector karpenter.sh/nodepool=gpu").
	Path string
}

// Problem is a malformed part of a NodePool.
type Problem struct {
	NodePool string `json:"nodePool"`
	Path     string `json:"path"`
	Message  string `json:"message"`
}

// ParsePool reads a NodePool held as a generic object.
func ParsePool(obj map[string]any) Pool {
	md, _ := obj["metadata"].(map[string]any)
	p := Pool{}
	p.Name, _ = md["name"].(string)
	spec, _ := obj["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	tspec, _ := tmpl["spec"].(map[string]any)
	reqs, _ := tspec["requirements"].([]any)
	for i, r := range reqs {
		path := fmt.Sprintf("spec.template.spec.requirements[%d]", i)
		req, err := parseRequirement(r, path)
		if err != nil {
			p.Problems = append(p.Problems, Problem{NodePool: p.Name, Path: path, Message: err.Error()})
			continue
		}
		p.Requirements = append(p.Requirements, req)
	}
	tmd, _ := tmpl["metadata"].(map[string]any)
	if labels, ok := tmd["labels"].(map[string]any); ok {
		for _, k := range sortedKeys(labels) {
			v, ok := labels[k].(string)
			if !ok {
				p.Problems = append(p.Problems, Problem{NodePool: p.Name, Path: "spec.template.metadata.labels." + k, Message: "label value is not a string"})
				continue
			}
			p.Requirements = append(p.Requirements, Requirement{Key: k, Op: corev1.NodeSelectorOpIn, Values: []string{v}, Path: "spec.template.metadata.labels." + k})
		}
	}
	taints, _ := tspec["taints"].([]any)
	for i, t := range taints {
		m, _ := t.(map[string]any)
		key, _ := m["key"].(string)
		value, _ := m["value"].(string)
		effect, _ := m["effect"].(string)
		if key == "" || effect == "" {
			p.Problems = append(p.Problems, Problem{NodePool: p.Name, Path: fmt.Sprintf("spec.template.spec.taints[%d]", i), Message: "a taint needs a key and an effect"})
			continue
		}
		p.Taints = append(p.Taints, corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)})
	}
	if limits, ok := spec["limits"].(map[string]any); ok {
		p.Limits = corev1.ResourceList{}
		for _, k := range sortedKeys(limits) {
			q, err := quantity(limits[k])
			if err != nil {
				p.Problems = append(p.Problems, Problem{NodePool: p.Name, Path: "spec.limits." + k, Message: err.Error()})
				continue
			}
			p.Limits[corev1.ResourceName(k)] = q
		}
	}
	return p
}

// Karpenter's own comparison operators besides the scheduler's Gt and Lt
// (the karpenter.sh/v1 NodePool CRD: "Valid operators are In, NotIn,
// Exists, DoesNotExist. Gt, Lt, Gte, and Lte").
const (
	opGte corev1.NodeSelectorOperator = "Gte"
	opLte corev1.NodeSelectorOperator = "Lte"
)

// parseRequirement reads one requirement; operators and values as
// Karpenter's NodePool validation takes them (In and NotIn with values,
// Exists and DoesNotExist without, Gt, Lt, Gte and Lte with one integer).
func parseRequirement(r any, path string) (Requirement, error) {
	m, ok := r.(map[string]any)
	if !ok {
		return Requirement{}, fmt.Errorf("a requirement must be an object")
	}
	req := Requirement{Path: path}
	req.Key, _ = m["key"].(string)
	op, _ := m["operator"].(string)
	req.Op = corev1.NodeSelectorOperator(op)
	if req.Key == "" {
		return req, fmt.Errorf("key is missing")
	}
	vs, _ := m["values"].([]any)
	for i, v := range vs {
		s, ok := v.(string)
		if !ok {
			return req, fmt.Errorf("values[%d] is not a string", i)
		}
		req.Values = append(req.Values, s)
	}
	switch req.Op {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(req.Values) > 0 {
			return req, fmt.Errorf("operator %s takes no values", op)
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt, opGte, opLte:
		if len(req.Values) != 1 {
			return req, fmt.Errorf("operator %s takes exactly one value", op)
		}
		if _, err := strconv.ParseInt(req.Values[0], 10, 64); err != nil {
			return req, fmt.Errorf("operator %s needs an integer value, not %q", op, req.Values[0])
		}
	default:
		return req, fmt.Errorf("unknown operator %q (In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte or Lte)", op)
	}
	return req, nil
}

func quantity(v any) (resource.Quantity, error) {
	switch x := v.(type) {
	case string:
		return resource.ParseQuantity(x)
	case float64:
		return *resource.NewMilliQuantity(int64(x*1000), resource.DecimalSI), nil
	case int64:
		return *resource.NewQuantity(x, resource.DecimalSI), nil
	case int:
		return *resource.NewQuantity(int64(x), resource.DecimalSI), nil
	}
	return resource.Quantity{}, fmt.Errorf("not a quantity: %v", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
