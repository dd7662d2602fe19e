# METADATA
# title: Namespaces that run GPU pods declare a GPU limit
# description: |-
#   A namespace in which a pod requests GPUs (nvidia.com/gpu, MIG slices
#   nvidia.com/mig-*, or other resources configured in
#   validators.gpuResources) must declare how many GPUs it may use: a
#   ResourceQuota on requests.nvidia.com/gpu (or limits.nvidia.com/gpu), or
#   the namespace annotation tollgate.dev/gpu-quota with a number of GPUs.
#   An annotation that is not a number is reported too, since it declares
#   nothing.
# custom:
#   id: quota.declared
#   severity: medium
#   action: warn
#   targets: [pod]
#   remediation: 'Add a ResourceQuota with spec.hard requests.nvidia.com/gpu to the namespace, or annotate the namespace tollgate.dev/gpu-quota: "N" (MIG slices count as their fraction of a GPU).'
#   example: |
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm-0
#       namespace: team-without-quota
#     spec:
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
#         resources:
#           limits:
#             nvidia.com/gpu: 1
package tollgate.quota.declared

import data.tollgate.quota.lib

violation contains _undeclared if {
	not lib.quota.declared
	lib.quota
}

violation contains {"msg": msg} if {
	some problem in lib.quota.problems
	msg := sprintf("namespace %q: %s", [input.namespace.name, problem])
}

_undeclared := {"msg": msg} if {
	msg := sprintf("namespace %q runs GPU pods but declares no GPU limit: add a ResourceQuota on requests.nvidia.com/gpu or the namespace annotation tollgate.dev/gpu-quota", [input.namespace.name])
}
