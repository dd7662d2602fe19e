# METADATA
# title: Training NodePools are on-demand, never disrupted mid-run, and give idle nodes back
# description: |-
#   A training NodePool (template label workload=ml-training, or the taint
#   workload-type=training; see params.nodepool.trainingLabels and
#   trainingTaints) must launch only on-demand (or reserved) capacity, and
#   Karpenter must not take busy nodes away from a distributed run that
#   cannot lose a rank: a zero-node disruption budget must apply to Drifted
#   and, unless consolidationPolicy is WhenEmpty, to Underutilized (a
#   scheduled one counts: it can cover the training window). A zero budget
#   that is always active and applies to Empty (one without reasons, which
#   applies to every reason, or one listing Empty) is refused: it keeps
#   idle GPU nodes forever. expireAfter must be Never or no shorter than
#   params.nodepool.trainingMaxRunHours (default 168): expiration is
#   forceful in Karpenter v1, and an absent expireAfter is 720h (336h on
#   EKS Auto Mode).
# custom:
#   id: nodepool.training
#   severity: high
#   action: deny
#   targets: [nodepool]
#   remediation: 'Require karpenter.sh/capacity-type In [on-demand]; set spec.disruption.budgets to [{nodes: "0", reasons: [Drifted, Underutilized]}] (with schedule and duration to cover only the training window, if you like), so that Empty consolidation still reclaims idle nodes; and set spec.template.spec.expireAfter: Never, or a duration no shorter than the longest run.'
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

# Karpenter v1's disruption semantics, from its documentation
# (https://karpenter.sh/docs/concepts/disruption/, aws/karpenter-provider-aws
# website/content/en/docs/concepts/disruption.md):
#   - "When a budget has no reasons, it's assumed that it applies to all
#     reasons" (Drifted, Underutilized, Empty), so {nodes: "0"} alone stops
#     Empty consolidation too, and Karpenter takes the minimum of the
#     budgets that list a reason or list none;
#   - budgets "only block Karpenter from disrupting nodes voluntarily
#     through drift, emptiness, and consolidation"; expiration is an
#     automated forceful method that begins draining "as soon as the
#     condition is met" and does not wait for budgets;
#   - terminationGracePeriod bounds the drain: the node "will be forcibly
#     terminated once the terminationGracePeriod has elapsed", deleting pods
#     with blocking PDBs or karpenter.sh/do-not-disrupt, so that the longest
#     node lifetime is expireAfter plus terminationGracePeriod;
#   - the defaults are consolidationPolicy WhenEmptyOrUnderutilized,
#     expireAfter 720h and one budget of 10%; EKS Auto Mode terminates
#     instances after 336 hours by default
#     (https://docs.aws.amazon.com/eks/latest/userguide/create-node-pool.html#_disruption).

import data.tollgate.nodepool.lib
import data.tollgate.params.nodepool as params

violation contains _spot_finding if {
	lib.spot
	lib.training
}

violation contains _blanket_finding(i) if {
	some i in _blanket
	lib.training
}

violation contains _busy_finding if {
	count(_unguarded) > 0
	lib.training
}

violation contains _expiry_finding if {
	_expire_ns < _max_run_ns
	lib.training
}

_disruption := object.get(input.object, ["spec", "disruption"], {})

# Karpenter's defaults (the CRD's): WhenEmptyOrUnderutilized, one 10% budget.
_policy := object.get(_disruption, "consolidationPolicy", "WhenEmptyOrUnderutilized")

_budgets := object.get(_disruption, "budgets", [{"nodes": "10%"}])

_zero(b) if b.nodes in {"0", "0%"}

# _applies(b, reason): a budget without reasons applies to every reason.
_applies(b, _) if count(object.get(b, "reasons", [])) == 0

_applies(b, reason) if reason in b.reasons

# _blanket are the indexes of the zero budgets, always active, that keep
# empty nodes: idle GPU nodes are never reclaimed.
_blanket contains i if {
	some i, b in object.get(_disruption, "budgets", [])
	_zero(b)
	not b.schedule
	_applies(b, "Empty")
}

# _unguarded are the voluntary disruptions of busy nodes that no zero
# budget stops (a scheduled one counts: it can cover the training window).
_unguarded contains "Drifted" if not _zero_for("Drifted")

_unguarded contains "Underutilized" if {
	_policy != "WhenEmpty"
	not _zero_for("Underutilized")
}

_zero_for(reason) if {
	some b in _budgets
	_zero(b)
	_applies(b, reason)
}

_recommended := `{nodes: "0", reasons: [Drifted, Underutilized]}`

_spot_finding := {"msg": msg, "path": lib.requirement_path(lib.capacity_type)} if {
	r := [r | some r in lib.requirements; r.key == lib.capacity_type][0]
	msg := sprintf("training NodePool allows Spot capacity (%s %s): an interruption stops every rank of a distributed run; allow only on-demand or reserved capacity", [
		lib.capacity_type, lib.describe(r),
	])
}

_blanket_finding(i) := {"msg": msg, "path": path} if {
	path := sprintf("spec.disruption.budgets[%d]", [i])
	msg := sprintf("training NodePool's zero-node budget %s %s, so it also stops Empty consolidation: idle GPU nodes are never reclaimed; limit it to reasons: [Drifted, Underutilized], as in %s, which still lets Karpenter remove empty nodes", [
		path, _blanket_why(_disruption.budgets[i]), _recommended,
	])
}

_blanket_why(b) := "has no reasons (a budget without reasons applies to every reason)" if count(object.get(b, "reasons", [])) == 0

_blanket_why(b) := "lists Empty" if count(object.get(b, "reasons", [])) > 0

_busy_finding := {"msg": msg, "path": "spec.disruption.budgets"} if {
	msg := sprintf("training NodePool lets Karpenter disrupt nodes that run training pods for %s, which no zero-node budget covers%s: drift replacement and consolidation evict the ranks of a running job; add %s to spec.disruption.budgets, scheduled over the training window or always", [
		concat(" and ", sort(_unguarded)), _busy_note, _recommended,
	])
}

_busy_note := sprintf(" (%s)", [concat("; ", _notes)]) if count(_notes) > 0

_busy_note := "" if count(_notes) == 0

_notes := [n | some n in [_policy_note, _budget_note]; n != ""]

_policy_note := sprintf("consolidationPolicy is %s%s", [_policy, _defaulted("consolidationPolicy")]) if "Underutilized" in _unguarded

_policy_note := "" if not "Underutilized" in _unguarded

_budget_note := "" if _disruption.budgets

_budget_note := "without budgets Karpenter disrupts up to 10% of nodes at a time" if not _disruption.budgets

_defaulted(field) := "" if _disruption[field]

_defaulted(field) := ", the default" if not _disruption[field]

# --- expiration -----------------------------------------------------------------

_expire_after := input.object.spec.template.spec.expireAfter

# _expire is expireAfter as written, or the default; Never, or a value the
# API server refuses (nodepool.disruption reports it), leaves it undefined.
_expire := _expire_after if {
	is_string(_expire_after)
	regex.match(`^([0-9]+(s|m|h))+$`, _expire_after)
}

_expire := "720h" if {
	not _expire_after
	not lib.auto_mode
}

_expire := "336h" if {
	not _expire_after
	lib.auto_mode
}

_expire_ns := time.parse_duration_ns(_expire)

_max_run_hours := params.trainingMaxRunHours if {
	is_number(params.trainingMaxRunHours)
	params.trainingMaxRunHours > 0
}

_max_run_ns := _max_run_hours * 3600000000000

_expire_note := "" if _expire_after

_expire_note := " (the default)" if {
	not _expire_after
	not lib.auto_mode
}

_expire_note := " (EKS Auto Mode's default)" if {
	not _expire_after
	lib.auto_mode
}

_expiry_finding := {"msg": msg, "path": "spec.template.spec.expireAfter"} if {
	msg := sprintf("training NodePool expires nodes after %s%s, shorter than the longest training run (params.nodepool.trainingMaxRunHours: %vh): expiration is forceful in Karpenter v1, disruption budgets do not hold it back and terminationGracePeriod ends it even for do-not-disrupt pods, so a run is cut mid-way; set spec.template.spec.expireAfter to Never, or to at least %vh", [
		_expire, _expire_note, _max_run_hours, _max_run_hours,
	])
}
