# METADATA
# title: GPUs per pod stay within the maximum
# description: |-
#   A pod may request at most params.quota.maxGPUsPerPod GPUs (default 8,
#   the most one EC2 instance carries, so a larger pod could never be
#   scheduled; 0 turns the check off). MIG slices count as their fraction of
#   a GPU.
# custom:
#   id: quota.per-pod
#   severity: medium
#   action: deny
#   targets: [pod]
#   remediation: Split the work across pods (one per node for distributed training) or request fewer GPUs.
#   example: |
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: train-16
#     spec:
#       containers:
#       - name: train
#         image: nvcr.io/nvidia/pytorch:25.01-py3
#         resources:
#           limits:
#             nvidia.com/gpu: 16
package tollgate.quota.per_pod

import data.tollgate.params.quota as params
import data.tollgate.quota.lib

violation contains _finding if {
	params.maxGPUsPerPod > 0
	lib.quota.requested > params.maxGPUsPerPod + lib.epsilon
}

_finding := {"msg": msg, "path": "spec.containers"} if {
	msg := sprintf("pod requests %s GPUs, more than the per-pod maximum of %d", [lib.gpus(lib.quota.requested), params.maxGPUsPerPod])
}
