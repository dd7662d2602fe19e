# METADATA
# title: Spot capacity helpers
# description: |-
#   Whether the pod under evaluation (a Pod, or a workload's pod template)
#   can land on Spot capacity, detected as the preStop drain mutator
#   detects it: its node selector or its required or preferred node
#   affinity allows karpenter.sh/capacity-type=spot, it tolerates a Spot
#   taint (params.spot.taints, which Tollgate sets from
#   mutators.drain.spotTaints), its namespace is annotated
#   tollgate.dev/capacity-type=spot, or the NodePool its node selector names
#   (karpenter.sh/nodepool) allows Spot. A node selector,
#   required node affinity or NodePool that keeps the pod off Spot wins over
#   all of these. DaemonSet pods run on every node and are not judged, and
#   pods are judged when they are created and when they are updated while
#   they still have scheduling gates: until the last gate is removed, a
#   pod's node selector, affinity and tolerations can still change
#   (Kubernetes "Mutable Pod scheduling directives"); afterwards they
#   cannot, while a workload's template can. When Tollgate knows where the
#   pod can run (input.state.placement: NodePools or Nodes in the state, and
#   at least one of them can host the pod), that decides instead: the pod
#   is Spot-capable when a reachable NodePool or Node allows Spot, whatever
#   its selectors say, and not when every reachable one is on-demand. The
#   preStop drain mutator makes the same decision (mutators.SpotCapable).
package tollgate.spot.lib

import data.tollgate.nodepool.lib as nodepool
import data.tollgate.params.spot as params

capacity_type := "karpenter.sh/capacity-type"

# spot is true when the pod can land on Spot capacity and is judged.
spot if {
	_spot_capable
	not daemonset
	not pod_update
}

_placement := input.state.placement

# _placement_decides: placement is known and something can host the pod (a
# pod that fits nowhere keeps the judgement of its selectors; schedule.fit
# reports it).
_placement_decides if {
	_placement.known
	_placement.fits
}

_spot_capable if {
	_placement_decides
	_placement.spot
}

_spot_capable if {
	not _placement_decides
	count(reasons) > 0
	not excluded
}

# reason says why the pod can land on Spot, for messages.
reason := concat("; ", sort(_placement_reasons)) if {
	_placement_decides
} else := concat("; ", sort(reasons))

_placement_reasons contains sprintf("%s %s allows Spot", [c.kind, c.name]) if {
	some c in _placement.reachable
	"spot" in c.capacityTypes
}

reasons contains "nodeSelector karpenter.sh/capacity-type=spot" if {
	input.pod.spec.nodeSelector[capacity_type] == "spot"
}

reasons contains "required node affinity allows karpenter.sh/capacity-type=spot" if {
	some term in input.pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms
	_term_names_spot(term)
}

reasons contains "preferred node affinity allows karpenter.sh/capacity-type=spot" if {
	some p in input.pod.spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution
	_term_names_spot(p.preference)
}

reasons contains sprintf("tolerates the %s=%s taint", [taint.key, object.get(taint, "value", "")]) if {
	some taint in params.taints
	some t in input.pod.spec.tolerations
	_tolerates(t, taint)
}

reasons contains "namespace annotation tollgate.dev/capacity-type=spot" if {
	input.namespace.annotations["tollgate.dev/capacity-type"] == "spot"
}

reasons contains sprintf("NodePool %s allows Spot", [pool.metadata.name]) if {
	some pool in _selected_nodepools
	nodepool.allows_spot(pool)
}

# _tolerates is the scheduler's match of toleration t to taint for the Equal
# and Exists operators (Spot taints are not numeric): an empty effect
# matches every effect, and Exists with an empty key matches every taint.
_tolerates(t, taint) if {
	_effect_matches(t, taint)
	_key_matches(t, taint)
	_value_matches(t, taint)
}

_effect_matches(t, _) if object.get(t, "effect", "") == ""

_effect_matches(t, taint) if t.effect == taint.effect

_key_matches(t, _) if {
	object.get(t, "key", "") == ""
	t.operator == "Exists"
}

_key_matches(t, taint) if t.key == taint.key

_value_matches(t, _) if t.operator == "Exists"

_value_matches(t, taint) if {
	object.get(t, "operator", "Equal") == "Equal"
	object.get(t, "value", "") == object.get(taint, "value", "")
}

_selected_nodepools contains pool if {
	name := input.pod.spec.nodeSelector["karpenter.sh/nodepool"]
	some pool in input.state.nodepools
	pool.metadata.name == name
}

# excluded is true when a required constraint keeps the pod off Spot.
excluded if {
	v := input.pod.spec.nodeSelector[capacity_type]
	v != "spot"
}

excluded if {
	terms := input.pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms
	count(terms) > 0
	every term in terms {
		_term_excludes_spot(term)
	}
}

excluded if {
	some pool in _selected_nodepools
	not nodepool.allows_spot(pool)
}

# _term_names_spot is true for a node selector term that constrains
# karpenter.sh/capacity-type and lets Spot through.
_term_names_spot(term) if {
	some e in term.matchExpressions
	e.key == capacity_type
	not _term_excludes_spot(term)
}

_term_excludes_spot(term) if {
	some e in term.matchExpressions
	e.key == capacity_type
	not nodepool.admits(e, "spot")
}

daemonset if input.workload.kind == "DaemonSet"

daemonset if owner.kind == "DaemonSet"

# pod_update is an update of a pod whose placement can no longer change
# (it had no scheduling gate left).
pod_update if {
	input.kind.kind == "Pod"
	input.request.operation == "UPDATE"
	not _gated_update
}

_gated_update if count(input.oldObject.spec.schedulingGates) > 0

# owner is the pod's controller owner reference; undefined for bare pods
# and for templates.
owner := [ref | some ref in input.pod.metadata.ownerReferences; ref.controller == true][0]

# training is true for pods and templates labelled as training
# (params.spot.trainingLabels).
training if {
	some key, values in params.trainingLabels
	input.pod.metadata.labels[key] in values
}

# prestop_sleep is how long a container's preStop hook sleeps: the native
# sleep action, or the sum of the sleep commands of an exec hook.
prestop_sleep(c) := c.lifecycle.preStop.sleep.seconds

prestop_sleep(c) := s if {
	command := concat(" ", c.lifecycle.preStop.exec.command)
	sleeps := regex.find_all_string_submatch_n(`(?:^|[\s;&|(/])sleep\s+([0-9]+)`, command, -1)
	count(sleeps) > 0
	s := sum([to_number(m[1]) | some m in sleeps])
}

# grace is the pod's termination grace period (the API server's default is 30s).
grace := object.get(input.pod.spec, "terminationGracePeriodSeconds", 30)

# app_containers lists [field path, container] for the app containers.
app_containers := [[input.pod.containerPaths[i], c] |
	some i, c in input.pod.containers
	startswith(input.pod.containerPaths[i], "spec.containers[")
]

# join_quote renders names as "a", "b".
join_quote(names) := concat(", ", [sprintf("%q", [n]) | some n in names])

plural(singular, _, 1) := singular

plural(_, plural, n) := plural if n != 1
