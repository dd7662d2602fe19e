# METADATA
# title: Spot-capable pod without a drain
# description: |-
#   A running pod that can land on Spot capacity lacks the preStop drain
#   the prestop-drain mutator adds at admission today, or the termination
#   grace period that covers it: on a Spot interruption it is killed with
#   requests in flight or without a checkpoint. Only audits report drift;
#   admission applies the mutation instead.
# custom:
#   id: drift.prestop-drain
#   severity: medium
#   action: audit
#   targets: [drift]
#   remediation: Recreate the pod (roll out its workload again) so that admission adds the drain, or add a preStop hook and terminationGracePeriodSeconds to the pod template.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: embed-0
#       namespace: batch
#     spec:
#       nodeSelector:
#         karpenter.sh/capacity-type: spot
#       containers:
#       - name: embed
#         image: python:3.12-slim
package tollgate.drift.prestop_drain

import data.tollgate.drift.lib

violation contains {"msg": msg, "path": lib.path(ops)} if {
	ops := lib.changes(`^spec\.(containers\[[0-9]+\]\.lifecycle|terminationGracePeriodSeconds)(\.|\[|$)`)
	count(ops) > 0
	msg := sprintf("can run on Spot capacity but lacks the drain the prestop-drain mutator adds today (%s)", [lib.summary(ops)])
}
