# METADATA
# title: Training NodePools are on-demand and never disrupted mid-run
# description: |-
#   A training NodePool (template label workload=ml-training, or the taint
#   workload-type=training; see params.nodepool.trainingLabels and
#   trainingTaints) must launch only on-demand (or reserved) capacity, must
#   consolidate only empty nodes (consolidationPolicy WhenEmpty), and must
#   have a disruption budget of zero nodes that applies to drift, so that
#   Karpenter does not take nodes away from a distributed run that cannot
#   lose a rank. A scheduled zero budget counts: it can cover the training
#   window.
# custom:
#   id: nodepool.training
#   severity: high
#   action: deny
#   targets: [nodepool]
#   remediation: 'Require karpenter.sh/capacity-type In [on-demand], set spec.disruption.consolidationPolicy: WhenEmpty, and add {nodes: "0"} to spec.disruption.budgets (with schedule and duration to cover only the training window).'
#   example: |
#     apiVersion: karpenter.sh/v1
#     kind: NodePool
#     metadata:
#       name: gpu-training-pool
#     spec:
#       template:
#         metadata:
#           labels:
#             workload: ml-training
#         spec:
#           requirements:
#           - key: karpenter.sh/capacity-type
#             operator: In
#             values: ["on-demand", "spot"]
#           - key: node.kubernetes.io/instance-type
#             operator: In
#             values: ["p5.48xlarge"]
#           nodeClassRef:
#             group: karpenter.k8s.aws
#             kind: EC2NodeClass
#             name: gpu-training-nodeclass
#       disruption:
#         consolidationPolicy: WhenEmptyOrUnderutilized
package tollgate.nodepool.training

import data.tollgate.nodepool.lib

violation contains _spot_finding if {
	lib.spot
	lib.training
}

violation contains _consolidation_finding if {
	_policy != "WhenEmpty"
	lib.training
}

violation contains _budget_finding if {
	not _zero_budget
	lib.training
}

_disruption := object.get(input.object, ["spec", "disruption"], {})

# Karpenter's defaults (the CRD's): WhenEmptyOrUnderutilized, one 10% budget.
_policy := object.get(_disruption, "consolidationPolicy", "WhenEmptyOrUnderutilized")

_budgets := object.get(_disruption, "budgets", [{"nodes": "10%"}])

_zero_budget if {
	some b in _budgets
	b.nodes in {"0", "0%"}
	_covers_drift(b)
}

_covers_drift(b) if not b.reasons

_covers_drift(b) if "Drifted" in b.reasons

_spot_finding := {"msg": msg, "path": lib.requirement_path(lib.capacity_type)} if {
	r := [r | some r in lib.requirements; r.key == lib.capacity_type][0]
	msg := sprintf("training NodePool allows Spot capacity (%s %s): an interruption stops every rank of a distributed run; allow only on-demand or reserved capacity", [
		lib.capacity_type, lib.describe(r),
	])
}

_consolidation_finding := {"msg": msg, "path": "spec.disruption.consolidationPolicy"} if {
	msg := sprintf("training NodePool consolidates with %s%s: Karpenter moves pods off underutilized nodes and restarts training runs; set spec.disruption.consolidationPolicy to WhenEmpty", [
		_policy, _defaulted("consolidationPolicy"),
	])
}

_budget_finding := {"msg": msg, "path": "spec.disruption.budgets"} if {
	msg := sprintf("training NodePool has no zero-node disruption budget%s: drift replaces nodes in the middle of training runs; add {nodes: \"0\"} to spec.disruption.budgets, scheduled over the training window or always", [
		_budget_note,
	])
}

_budget_note := "" if _disruption.budgets

_budget_note := " (without budgets Karpenter disrupts up to 10% of nodes at a time)" if not _disruption.budgets

_defaulted(field) := "" if _disruption[field]

_defaulted(field) := " (the default)" if not _disruption[field]
