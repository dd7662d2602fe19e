# METADATA
# title: Running as a non-zero UID
# description: |-
#   Containers must not set runAsUser to 0. Restricted fields:
#   spec.securityContext.runAsUser and the same field of every container.
#   Allowed values: any non-zero value, undefined; from v1.35 any value for
#   pods in a user namespace (hostUsers: false).
# custom:
#   id: pss.restricted.runAsUser
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Set runAsUser to a non-zero UID (for example 1000) or remove it and rely on runAsNonRoot with a non-root image user.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm-uid0
#       namespace: ai-inference
#     spec:
#       securityContext:
#         runAsNonRoot: true
#         runAsUser: 0
#         seccompProfile:
#           type: RuntimeDefault
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
#         securityContext:
#           allowPrivilegeEscalation: false
#           capabilities:
#             drop: ["ALL"]
#   pss:
#     level: restricted
#     since: "1.23"
package tollgate.pss.runAsUser

import data.tollgate.lib.pss

default _pod_bad := false

_pod_bad if input.pod.spec.securityContext.runAsUser == 0

violation contains _finding if _pod_bad

violation contains _finding if {
	some c in input.pod.containers
	c.securityContext.runAsUser == 0
}

_finding := {"msg": msg, "path": path} if {
	not pss.user_namespace_relaxed
	bad := [[p, c] | some [p, c] in pss.containers; c.securityContext.runAsUser == 0]
	msg := sprintf("runAsUser=0 (%s must not set runAsUser=0)", [pss.setters(_pod_bad, pss.names(bad))])
	path := pss.first_path(_pod_bad, "securityContext.runAsUser", bad)
}
