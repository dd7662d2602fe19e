# METADATA
# title: Replicated Spot workloads have a PodDisruptionBudget
# description: |-
#   A Deployment, StatefulSet or ReplicaSet with more than one replica whose
#   pods can land on Spot capacity needs a PodDisruptionBudget that selects
#   its pods, so that Karpenter's consolidation and the draining of
#   interrupted or rebalanced nodes never take every replica at once. Pods
#   are checked too when params.spot.pdbForPods is true (off by default):
#   then a Spot pod owned by a ReplicaSet or StatefulSet needs one. The
#   PodDisruptionBudgets come from the cluster state (input.state.pdbs).
# custom:
#   id: spot.pdb
#   severity: medium
#   action: warn
#   targets: [pod, template]
#   remediation: Add a PodDisruptionBudget in the same namespace whose selector matches the pod template's labels, for example minAvailable of one less than the replicas.
#   example: |
#     apiVersion: apps/v1
#     kind: Deployment
#     metadata:
#       name: vllm
#     spec:
#       replicas: 3
#       selector:
#         matchLabels: {app: vllm}
#       template:
#         metadata:
#           labels: {app: vllm}
#         spec:
#           nodeSelector:
#             karpenter.sh/capacity-type: spot
#           containers:
#           - name: vllm
#             image: vllm/vllm-openai:v0.6.3
package tollgate.spot.pdb

import data.tollgate.params.spot as params
import data.tollgate.spot.lib

violation contains _finding if {
	_replicated
	count(object.get(input.state, "pdbs", [])) == 0
	lib.spot
}

_replicated if {
	input.workload.kind in {"Deployment", "StatefulSet", "ReplicaSet"}
	input.workload.replicas > 1
}

_replicated if {
	input.kind.kind == "Pod"
	params.pdbForPods
	lib.owner.kind in {"ReplicaSet", "StatefulSet"}
}

_subject := sprintf("%s with %d replicas", [input.workload.kind, input.workload.replicas]) if input.workload

_subject := sprintf("pod owned by %s %s", [lib.owner.kind, lib.owner.name]) if not input.workload

_labels := concat(", ", sort([sprintf("%s=%s", [k, v]) | some k, v in object.get(input.pod.metadata, "labels", {})]))

_finding := {"msg": msg, "path": "metadata.labels"} if {
	msg := sprintf("%s can run on Spot capacity (%s) but no PodDisruptionBudget selects its pods (labels %s): consolidation and interruption draining can take every replica at once; add a PodDisruptionBudget", [
		_subject, lib.reason, _labels,
	])
}
