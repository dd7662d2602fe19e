# METADATA
# title: Spot pods have a controller
# description: |-
#   A pod that can land on Spot capacity must be owned by a controller (a
#   ReplicaSet, StatefulSet, Job, ...): a Spot interruption deletes the pod,
#   and only a controller creates it again. Pods only: a workload's pods
#   always have their workload as controller.
# custom:
#   id: spot.controller
#   severity: high
#   action: deny
#   targets: [pod]
#   remediation: Run the pod through a Deployment, StatefulSet or Job, or keep it off Spot capacity with the node selector karpenter.sh/capacity-type=on-demand.
#   example: |
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: notebook
#     spec:
#       nodeSelector:
#         karpenter.sh/capacity-type: spot
#       containers:
#       - name: jupyter
#         image: quay.io/jupyter/pytorch-notebook:2025-01-20
package tollgate.spot.controller

import data.tollgate.spot.lib

violation contains _finding if {
	not lib.owner
	lib.spot
}

_finding := {"msg": msg, "path": "metadata.ownerReferences"} if {
	msg := sprintf("bare pod on Spot capacity (%s): an interruption deletes it and nothing creates it again; run it under a Deployment, StatefulSet or Job", [lib.reason])
}
