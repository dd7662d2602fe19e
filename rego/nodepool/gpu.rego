# METADATA
# title: GPU NodePools are tainted and bounded
# description: |-
#   A NodePool that can launch GPU nodes (it lists GPU instance types or
#   families, requires instance-gpu-count above zero or a GPU name or
#   manufacturer, or carries a GPU or MIG label) must taint its nodes
#   nvidia.com/gpu:NoSchedule, so that pods which request no GPU do not land
#   on them and hold them, and must set spec.limits on nvidia.com/gpu, so
#   that something bounds how many GPUs it launches. Static NodePools
#   (spec.replicas) are bounded by their replicas and may not set resource
#   limits. EKS Auto Mode NodePools are judged alike, with their
#   eks.amazonaws.com/instance-* labels.
# custom:
#   id: nodepool.gpu
#   severity: high
#   action: deny
#   targets: [nodepool]
#   remediation: Add the taint {key nvidia.com/gpu, effect NoSchedule} to spec.template.spec.taints (Tollgate's mutator gives GPU pods the matching toleration) and set spec.limits["nvidia.com/gpu"] to the most GPUs the pool may run.
#   example: |
#     apiVersion: karpenter.sh/v1
#     kind: NodePool
#     metadata:
#       name: gpu-inference-pool
#     spec:
#       template:
#         spec:
#           requirements:
#           - key: node.kubernetes.io/instance-type
#             operator: In
#             values: ["g5.xlarge", "g5.2xlarge", "p4d.24xlarge"]
#           nodeClassRef:
#             group: karpenter.k8s.aws
#             kind: EC2NodeClass
#             name: default
package tollgate.nodepool.gpu

import data.tollgate.nodepool.lib
import data.tollgate.params.nodepool as params

violation contains _taint_finding if {
	not _tainted
	lib.gpu
}

violation contains _limit_finding if {
	not input.object.spec.limits[params.gpuResource]
	not _static
	lib.gpu
}

_tainted if {
	some t in lib.taints
	t.key == params.gpuTaint.key
	t.effect == params.gpuTaint.effect
}

_static if input.object.spec.replicas != null

_taint_finding := {"msg": msg, "path": "spec.template.spec.taints"} if {
	msg := sprintf("GPU NodePool (%s) has no %s:%s taint: pods that request no GPU can be scheduled onto its GPU nodes and hold them; add the taint to spec.template.spec.taints", [
		lib.gpu_reason, params.gpuTaint.key, params.gpuTaint.effect,
	])
}

_limit_finding := {"msg": msg, "path": "spec.limits"} if {
	msg := sprintf("GPU NodePool (%s) sets no limit on %s: nothing bounds how many GPUs it launches; set spec.limits[%q]", [
		lib.gpu_reason, params.gpuResource, params.gpuResource,
	])
}
