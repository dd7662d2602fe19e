# METADATA
# title: /proc mount type (restricted)
# description: |-
#   The default /proc masks are required at the restricted level, even for
#   pods in a user namespace. Restricted field:
#   spec.containers[*].securityContext.procMount and the same field of init
#   and ephemeral containers. Allowed values: undefined, Default.
# custom:
#   id: pss.restricted.procMount_restricted
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Remove securityContext.procMount or set it to Default.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm-procmount
#       namespace: ai-inference
#     spec:
#       securityContext:
#         runAsNonRoot: true
#         seccompProfile:
#           type: RuntimeDefault
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
#         securityContext:
#           allowPrivilegeEscalation: false
#           capabilities:
#             drop: ["ALL"]
#           procMount: Unmasked
#   pss:
#     level: restricted
#     since: "1.35"
#     overrides: [pss.baseline.procMount]
package tollgate.pss.procMount_restricted

import data.tollgate.lib.pss

violation contains pss.proc_mount_violation if {
	some c in input.pod.containers
	c.securityContext.procMount != "Default"
}
