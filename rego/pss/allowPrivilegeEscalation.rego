# METADATA
# title: Privilege escalation
# description: |-
#   Privilege escalation (such as via set-user-ID or set-group-ID file mode)
#   must not be allowed. Restricted fields:
#   spec.containers[*].securityContext.allowPrivilegeEscalation and the same
#   field of init and ephemeral containers. Allowed value: false. From v1.25
#   pods with spec.os.name=windows are exempt.
# custom:
#   id: pss.restricted.allowPrivilegeEscalation
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Set securityContext.allowPrivilegeEscalation to false on every container, init container and ephemeral container.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm-escalation
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
#           allowPrivilegeEscalation: true
#           capabilities:
#             drop: ["ALL"]
#   pss:
#     level: restricted
#     since: "1.8"
package tollgate.pss.allowPrivilegeEscalation

import data.tollgate.lib.pss

violation contains _finding if {
	some c in input.pod.containers
	not c.securityContext.allowPrivilegeEscalation == false
}

_finding := {"msg": msg, "path": path} if {
	not pss.windows_exempt
	bad := [[p, c] | some [p, c] in pss.containers; not c.securityContext.allowPrivilegeEscalation == false]
	msg := sprintf("allowPrivilegeEscalation != false (%s %s must set securityContext.allowPrivilegeEscalation=false)", [
		pss.pluralize("container", "containers", count(bad)),
		pss.join_quote(pss.names(bad)),
	])
	path := concat("", [bad[0][0], ".securityContext.allowPrivilegeEscalation"])
}
