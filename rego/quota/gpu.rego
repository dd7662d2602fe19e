# METADATA
# title: GPU use fits the namespace's quota
# description: |-
#   A pod is refused when the GPUs it requests, added to what the
#   namespace's other running and pending pods use, exceed the namespace's
#   GPU limit (the smallest of its ResourceQuotas on requests.nvidia.com/gpu
#   or limits.nvidia.com/gpu without scopes, and its tollgate.dev/gpu-quota
#   annotation). MIG slices count as their share of a GPU's compute
#   (3g.40gb is 3/7 of a GPU, 1g.10gb 1/7), which Kubernetes' own quota
#   cannot express.
# custom:
#   id: quota.gpu
#   severity: high
#   action: deny
#   targets: [pod]
#   remediation: Wait for GPU pods of the namespace to finish, request fewer GPUs or a smaller MIG slice, or ask the platform team to raise the namespace's GPU quota.
#   example: |
#     apiVersion: v1
#     kind: Namespace
#     metadata:
#       name: tenant-a
#       annotations:
#         tollgate.dev/gpu-quota: "2"
#     ---
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: tenant-a-train
#       namespace: tenant-a
#     spec:
#       containers:
#       - name: train
#         image: nvcr.io/nvidia/pytorch:25.01-py3
#         resources:
#           limits:
#             nvidia.com/gpu: 4
package tollgate.quota.gpu

import data.tollgate.quota.lib

violation contains _finding if {
	q := lib.quota
	q.used + q.requested > q.limit + lib.epsilon
}

_finding := {"msg": msg} if {
	q := lib.quota
	msg := sprintf("GPU quota of namespace %q exceeded: %s GPUs in use + %s requested = %s, over the limit of %s (%s); MIG slices count as their fraction of a GPU", [
		input.namespace.name,
		lib.gpus(q.used), lib.gpus(q.requested), lib.gpus(q.used + q.requested),
		lib.gpus(q.limit), q.source,
	])
}
