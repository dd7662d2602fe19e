# METADATA
# title: Spot pods drain before they stop
# description: |-
#   Every app container of a pod that can land on Spot capacity needs a
#   preStop hook, so that it stops taking work and drains in-flight requests
#   (or checkpoints) within the interruption notice instead of being cut off
#   by SIGTERM. Pods are checked after Tollgate's mutators ran, so the drain
#   hook the preStop mutator adds counts. Workload templates are not
#   checked while params.spot.drainByMutator is true (the default), since
#   their pods get the mutator's hook when they are created.
# custom:
#   id: spot.drain
#   severity: medium
#   action: warn
#   targets: [pod, template]
#   remediation: Add a preStop hook to each container (lifecycle.preStop.sleep on Kubernetes 1.30 and later, or an exec hook that drains the server), or enable Tollgate's preStop drain mutator.
#   example: |
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm-0
#       ownerReferences:
#       - {apiVersion: apps/v1, kind: ReplicaSet, name: vllm-5d9c, uid: 0c4b2f6e-0000-4000-8000-000000000001, controller: true}
#     spec:
#       nodeSelector:
#         karpenter.sh/capacity-type: spot
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
package tollgate.spot.drain

import data.tollgate.params.spot as params
import data.tollgate.spot.lib

violation contains _finding if {
	some c in input.pod.spec.containers
	not c.lifecycle.preStop
	_checked
	lib.spot
}

_checked if input.kind.kind == "Pod"

_checked if {
	input.kind.kind != "Pod"
	not params.drainByMutator
}

_finding := {"msg": msg, "path": concat("", [bad[0][0], ".lifecycle"])} if {
	bad := [[p, c] | some [p, c] in lib.app_containers; not c.lifecycle.preStop]
	names := [c.name | some [_, c] in bad]
	msg := sprintf("%s %s on Spot capacity (%s) %s no preStop hook: an interruption stops %s with SIGTERM and no time to drain in-flight work", [
		lib.plural("container", "containers", count(names)),
		lib.join_quote(names),
		lib.reason,
		lib.plural("has", "have", count(names)),
		lib.plural("it", "them", count(names)),
	])
}
