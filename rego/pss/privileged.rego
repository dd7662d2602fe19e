# METADATA
# title: Privileged containers
# description: |-
#   Privileged Pods disable most security mechanisms and must be disallowed.
#   Restricted fields: spec.containers[*].securityContext.privileged,
#   spec.initContainers[*].securityContext.privileged,
#   spec.ephemeralContainers[*].securityContext.privileged.
#   Allowed values: false, undefined.
# custom:
#   id: pss.baseline.privileged
#   severity: critical
#   action: deny
#   targets: [pod, template]
#   remediation: Remove securityContext.privileged or set it to false. Grant the specific capability the workload needs instead; GPU access comes from the NVIDIA device plugin, not from privileged mode.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: gpu-debug
#     spec:
#       containers:
#       - name: nvidia-smi
#         image: nvidia/cuda:12.4.1-base-ubuntu22.04
#         securityContext:
#           privileged: true
#   pss:
#     level: baseline
#     since: "1.0"
package tollgate.pss.privileged

import data.tollgate.lib.pss

violation contains _finding if {
	some c in input.pod.containers
	c.securityContext.privileged == true
}

_finding := {"msg": msg, "path": path} if {
	bad := [[p, c] | some [p, c] in pss.containers; c.securityContext.privileged == true]
	msg := sprintf("privileged (%s %s must not set securityContext.privileged=true)", [
		pss.pluralize("container", "containers", count(bad)),
		pss.join_quote(pss.names(bad)),
	])
	path := concat("", [bad[0][0], ".securityContext.privileged"])
}
