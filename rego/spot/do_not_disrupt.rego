# METADATA
# title: do-not-disrupt does not protect Spot pods
# description: |-
#   The annotation karpenter.sh/do-not-disrupt=true stops Karpenter's
#   voluntary disruption (consolidation and drift), but not a Spot
#   interruption: EC2 reclaims the node after the two-minute notice whatever
#   the pod says. On a pod that can land on Spot capacity it gives a false
#   sense of safety, so Tollgate warns.
# custom:
#   id: spot.do-not-disrupt
#   severity: low
#   action: warn
#   targets: [pod, template]
#   remediation: Run pods that must not be interrupted on on-demand capacity (node selector karpenter.sh/capacity-type=on-demand); on Spot, make them tolerate interruption (checkpoints, replicas, a preStop drain) instead.
#   example: |
#     apiVersion: batch/v1
#     kind: Job
#     metadata:
#       name: finetune
#     spec:
#       template:
#         metadata:
#           annotations:
#             karpenter.sh/do-not-disrupt: "true"
#         spec:
#           restartPolicy: OnFailure
#           nodeSelector:
#             karpenter.sh/capacity-type: spot
#           containers:
#           - name: train
#             image: nvcr.io/nvidia/nemo:25.02
package tollgate.spot.do_not_disrupt

import data.tollgate.params.spot as params
import data.tollgate.spot.lib

violation contains _finding if {
	input.pod.metadata.annotations["karpenter.sh/do-not-disrupt"] == "true"
	lib.spot
}

_finding := {"msg": msg, "path": "metadata.annotations"} if {
	msg := sprintf("karpenter.sh/do-not-disrupt does not protect a pod on Spot capacity (%s): it stops consolidation and drift, but a Spot interruption still reclaims the node %ds after its notice", [
		lib.reason, params.noticeSeconds,
	])
}
