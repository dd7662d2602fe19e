# METADATA
# title: Spot NodePools allow several instance types
# description: |-
#   A NodePool that can launch Spot capacity must allow at least
#   params.nodepool.spotMinInstanceTypes instance types (default 3), counted
#   after its other requirements, or name instance families that hold that
#   many: Spot capacity runs out per instance type and zone, and a pool with
#   one or two types stops scaling when they do. A pool that does not
#   restrict instance types allows them all.
# custom:
#   id: nodepool.spot-diversity
#   severity: medium
#   action: warn
#   targets: [nodepool]
#   remediation: List more instance types or families in the node.kubernetes.io/instance-type or karpenter.k8s.aws/instance-family (eks.amazonaws.com/instance-family on EKS Auto Mode) requirement (sizes of the same family are enough), and consider minValues on it so that Karpenter keeps that flexibility when it launches.
#   example: |
#     apiVersion: karpenter.sh/v1
#     kind: NodePool
#     metadata:
#       name: gpu-experiment-pool
#     spec:
#       template:
#         spec:
#           requirements:
#           - key: karpenter.sh/capacity-type
#             operator: In
#             values: ["spot"]
#           - key: node.kubernetes.io/instance-type
#             operator: In
#             values: ["p4d.24xlarge", "g5.48xlarge"]
#           nodeClassRef:
#             group: karpenter.k8s.aws
#             kind: EC2NodeClass
#             name: default
package tollgate.nodepool.spot_diversity

import data.tollgate.nodepool.lib
import data.tollgate.params.nodepool as params

violation contains _finding if {
	lib.spot
	count(_allowed) < params.spotMinInstanceTypes
}

# _allowed are the instance types the pool can launch, when it lists them
# or names families the catalog enumerates; undefined when it is open.
_allowed := {t | some t in lib.named_types; count(lib.rejections(t)) == 0} if lib.named_types

_allowed := {t |
	some f in lib.named_families
	some t in lib.family_types(f)
	count(lib.rejections(t)) == 0
} if {
	not lib.named_types
	every f in lib.named_families {
		lib.catalog_family(f)
	}
}

_finding := {"msg": msg, "path": path} if {
	n := count(_allowed)
	msg := sprintf("Spot NodePool allows only %d instance %s%s: when their Spot capacity runs out the pool cannot scale; allow at least %d instance types or families", [
		n, _plural(n), _listed(_allowed), params.spotMinInstanceTypes,
	])
	path := _path
}

_plural(1) := "type"

_plural(n) := "types" if n != 1

_listed(ts) := sprintf(" (%s)", [concat(", ", sort(ts))]) if count(ts) > 0

_listed(ts) := "" if count(ts) == 0

_path := lib.requirement_path(lib.instance_type) if lib.named_types

_path := lib.requirement_path(lib.instance_family) if not lib.named_types
