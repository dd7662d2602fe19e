# METADATA
# title: Running as non-root
# description: |-
#   Containers must be required to run as non-root users. Restricted fields:
#   spec.securityContext.runAsNonRoot and the same field of every container.
#   Allowed values: true; undefined at container level when the pod level is
#   true; from v1.35 any value for pods in a user namespace (hostUsers: false).
# custom:
#   id: pss.restricted.runAsNonRoot
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: 'Set spec.securityContext.runAsNonRoot: true and run the image as a non-zero UID (runAsUser, or a USER in the image). CUDA and vLLM images run fine as a non-root user.'
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm-root
#       namespace: ai-inference
#     spec:
#       securityContext:
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
#     since: "1.0"
package tollgate.pss.runAsNonRoot

import data.tollgate.lib.pss

default _pod_bad := false

_pod_bad if input.pod.spec.securityContext.runAsNonRoot == false

_sets(c) if is_boolean(c.securityContext.runAsNonRoot)

_explicit_violated if _pod_bad

_explicit_violated if {
	some c in input.pod.containers
	c.securityContext.runAsNonRoot == false
}

violation contains _explicit if _pod_bad

violation contains _explicit if {
	some c in input.pod.containers
	c.securityContext.runAsNonRoot == false
}

violation contains _implicit if {
	not input.pod.spec.securityContext.runAsNonRoot == true
	some c in input.pod.containers
	not _sets(c)
}

_explicit := {"msg": msg, "path": path} if {
	not pss.user_namespace_relaxed
	bad := [[p, c] | some [p, c] in pss.containers; c.securityContext.runAsNonRoot == false]
	msg := sprintf("runAsNonRoot != true (%s must not set securityContext.runAsNonRoot=false)", [pss.setters(_pod_bad, pss.names(bad))])
	path := pss.first_path(_pod_bad, "securityContext.runAsNonRoot", bad)
}

_implicit := {"msg": msg, "path": "spec.securityContext.runAsNonRoot"} if {
	not _explicit_violated
	not pss.user_namespace_relaxed
	bad := [[p, c] | some [p, c] in pss.containers; not _sets(c)]
	msg := sprintf("runAsNonRoot != true (pod or %s %s must set securityContext.runAsNonRoot=true)", [
		pss.pluralize("container", "containers", count(bad)),
		pss.join_quote(pss.names(bad)),
	])
}
