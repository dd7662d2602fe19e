# METADATA
# title: GPU cost fits the namespace's hourly budget
# description: |-
#   A namespace annotated tollgate.dev/gpu-cost-per-hour (dollars per hour)
#   may not run GPU pods that cost more than that. A pod's cost is its GPUs
#   times the price per GPU-hour of the instance types it can land on
#   (params.quota.prices, hourly per instance type, divided by the type's
#   GPUs; the highest of the candidates), taken from its node selector and
#   required node affinity on node.kubernetes.io/instance-type,
#   karpenter.k8s.aws/instance-family or karpenter.sh/nodepool. A pod that
#   names none is priced at params.quota.defaultGPUHourPrice, by default the
#   highest price per GPU-hour in the table. The namespace's other running
#   and pending pods are priced the same way.
# custom:
#   id: quota.cost
#   severity: medium
#   action: deny
#   targets: [pod]
#   remediation: Wait for GPU pods of the namespace to finish, run on cheaper instance types (name them in the pod's node selector or node affinity), or ask the platform team to raise the namespace's tollgate.dev/gpu-cost-per-hour.
#   example: |
#     apiVersion: v1
#     kind: Namespace
#     metadata:
#       name: tenant-a
#       annotations:
#         tollgate.dev/gpu-cost-per-hour: "20"
#     ---
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: big-train
#       namespace: tenant-a
#     spec:
#       nodeSelector:
#         node.kubernetes.io/instance-type: p5.48xlarge
#       containers:
#       - name: train
#         image: nvcr.io/nvidia/pytorch:25.01-py3
#         resources:
#           limits:
#             nvidia.com/gpu: 8
package tollgate.quota.cost

import data.tollgate.catalog
import data.tollgate.params.quota as params
import data.tollgate.quota.lib

violation contains _finding if {
	c := lib.quota.cost
	_used + _requested > c.limit + lib.epsilon
}

violation contains {"msg": msg} if {
	problem := lib.quota.cost.problem
	msg := sprintf("namespace %q: %s", [input.namespace.name, problem])
}

# _per_gpu is an instance type's price per GPU-hour.
_per_gpu(t) := params.prices[t] / catalog.instanceTypes[t].gpus

_table_max := max({_per_gpu(t) | some t, _ in params.prices})

_default := object.get(params, "defaultGPUHourPrice", _table_max)

# _rate prices GPUs that can land on any of the instance types: the
# highest price among them, the default for unknown types or none.
_rate(types) := max((({_per_gpu(t) | some t in types} | {_default | some t in types; not _per_gpu(t)}) | {_default | count(types) == 0}))

_types(p) := object.get(p, "instanceTypes", [])

_used := sum([v | some u in lib.quota.cost.used; v := u.gpus * _rate(_types(u))])

_requested := lib.quota.requested * _rate(_types(lib.quota.cost.requested))

_finding := {"msg": msg} if {
	c := lib.quota.cost
	msg := sprintf("GPU cost of namespace %q over budget: %s/h in use + %s/h requested (%s at %s per GPU-hour%s) = %s/h, over the limit of %s/h (namespace annotation tollgate.dev/gpu-cost-per-hour)", [
		input.namespace.name,
		lib.dollars(_used), lib.dollars(_requested),
		lib.gpus_noun(lib.quota.requested), lib.dollars(_rate(_types(c.requested))), _on(_types(c.requested)),
		lib.dollars(_used + _requested), lib.dollars(c.limit),
	])
}

_on(types) := sprintf(" on %s", [concat(", ", types)]) if count(types) > 0

_on(types) := ", the default for pods that name no instance type" if count(types) == 0
