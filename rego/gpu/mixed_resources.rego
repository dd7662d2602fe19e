# METADATA
# title: Whole GPUs and MIG slices in one container
# description: |-
#   A container gets whole GPUs (nvidia.com/gpu) or MIG slices
#   (nvidia.com/mig-<profile>), never both: no node offers both to one
#   container, so such a pod never schedules. Tollgate's MIG mutator leaves
#   such pods unchanged and this policy reports them.
# custom:
#   id: gpu.mixed-resources
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Request either nvidia.com/gpu (with the tollgate.dev/mig-profile annotation to get a MIG slice) or nvidia.com/mig-<profile> in each container, not both.
#   example: |
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: mixed
#     spec:
#       containers:
#       - name: trainer
#         image: nvcr.io/nvidia/pytorch:24.12-py3
#         resources:
#           limits:
#             nvidia.com/gpu: 1
#             nvidia.com/mig-1g.10gb: 1
package tollgate.gpu.mixed_resources

violation contains finding if {
	some i, c in input.pod.containers
	_requests_gpu(c)
	migs := _mig_resources(c)
	count(migs) > 0
	finding := {
		"msg": sprintf("container %q requests both nvidia.com/gpu and %s; a container gets whole GPUs or MIG slices, not both", [c.name, concat(", ", sort(migs))]),
		"path": concat("", [input.pod.containerPaths[i], ".resources"]),
	}
}

_requests_gpu(c) if c.resources.requests["nvidia.com/gpu"]

_requests_gpu(c) if c.resources.limits["nvidia.com/gpu"]

_mig_resources(c) := {n |
	some rl in [object.get(c.resources, "requests", {}), object.get(c.resources, "limits", {})]
	some n, _ in rl
	startswith(n, "nvidia.com/mig-")
}
