package placement

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
)

// Well-known node labels placement understands. Instance attributes come
// in two flavours with the same suffixes: karpenter.k8s.aws/ (Karpenter's
// AWS provider) and eks.amazonaws.com/ (EKS Auto Mode's NodePools; "EKS
// Auto Mode supported labels", docs.aws.amazon.com/eks/latest/userguide/
// create-node-pool.html).
const (
	LabelNodePool     = "karpenter.sh/nodepool"
	LabelCapacityType = "karpenter.sh/capacity-type"
	LabelInstanceType = "node.kubernetes.io/instance-type"
	LabelZone         = "topology.kubernetes.io/zone"
	LabelArch         = "kubernetes.io/arch"
	LabelOS           = "kubernetes.io/os"
	// LabelEKSCapacityType is what EKS managed node groups label their
	// nodes with (ON_DEMAND, SPOT, CAPACITY_BLOCK).
	LabelEKSCapacityType = "eks.amazonaws.com/capacityType"

	prefixKarpenterAWS = "karpenter.k8s.aws/"
	prefixAutoMode     = "eks.amazonaws.com/"
)

// Capacity types Karpenter offers.
const (
	CapacitySpot     = "spot"
	CapacityOnDemand = "on-demand"
	CapacityReserved = "reserved"
)

var allCapacityTypes = []string{CapacityOnDemand, CapacityReserved, CapacitySpot}

// attribute is an instance attribute a label key names ("instance-family"),
// or "" for keys that are not instance attributes.
func attribute(key string) string {
	switch key {
	case LabelInstanceType:
		return "instance-type"
	case LabelArch:
		return "arch"
	}
	for _, p := range []string{prefixKarpenterAWS, prefixAutoMode} {
		if s, ok := strings.CutPrefix(key, p); ok && instanceAttributes[s] {
			return s
		}
	}
	return ""
}

var instanceAttributes = map[string]bool{
	"instance-family": true, "instance-category": true, "instance-generation": true, "instance-size": true,
	"instance-cpu": true, "instance-memory": true, "instance-gpu-count": true, "instance-gpu-name": true,
	"instance-gpu-manufacturer": true, "instance-gpu-memory": true,
}

// value is an instance's value of an attribute; ok is false for an
// attribute the instance does not carry (GPU labels on a CPU instance),
// which satisfies only NotIn and DoesNotExist, as in Karpenter.
func value(in *gpucatalog.Instance, attr string) (string, bool) {
	switch attr {
	case "instance-type":
		return in.Name, true
	case "arch":
		return in.Arch, true
	case "instance-family":
		return in.Family, true
	case "instance-category":
		return in.Category, true
	case "instance-generation":
		return strconv.Itoa(in.Generation), true
	case "instance-size":
		return in.Size, true
	case "instance-cpu":
		return strconv.Itoa(in.VCPU), true
	case "instance-memory":
		return strconv.FormatInt(in.MemoryMiB, 10), true
	}
	if in.GPUs == 0 {
		return "", false
	}
	switch attr {
	case "instance-gpu-count":
		return strconv.Itoa(in.GPUs), true
	case "instance-gpu-name":
		return in.GPUName, true
	case "instance-gpu-manufacturer":
		return "nvidia", true
	case "instance-gpu-memory":
		return strconv.FormatInt(in.GPUMemoryMiB, 10), true
	}
	return "", false
}

// admits applies a requirement to a value (present or not), with the
// scheduler's semantics: Gt and Lt compare integers.
func admits(r *Requirement, v string, present bool) bool {
	switch r.Op {
	case corev1.NodeSelectorOpIn:
		return present && slices.Contains(r.Values, v)
	case corev1.NodeSelectorOpNotIn:
		return !present || !slices.Contains(r.Values, v)
	case corev1.NodeSelectorOpExists:
		return present
	case corev1.NodeSelectorOpDoesNotExist:
		return !present
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt, opGte, opLte:
		if !present || len(r.Values) != 1 {
			return false
		}
		n, err1 := strconv.ParseInt(v, 10, 64)
		bound, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		switch r.Op {
		case corev1.NodeSelectorOpGt:
			return n > bound
		case opGte:
			return n >= bound
		case opLte:
			return n <= bound
		}
		return n < bound
	}
	return false
}

// noun names an attribute's values in messages.
func noun(key string) string {
	switch attribute(key) {
	case "instance-type":
		return "instance types"
	case "instance-family":
		return "instance families"
	case "instance-category":
		return "instance categories"
	case "instance-generation":
		return "instance generations"
	case "instance-size":
		return "instance sizes"
	case "instance-gpu-name":
		return "GPU models"
	case "instance-gpu-count":
		return "GPU counts"
	case "arch":
		return "architectures"
	}
	switch key {
	case LabelCapacityType:
		return "capacity types"
	case LabelZone:
		return "zones"
	}
	return key + " values"
}
