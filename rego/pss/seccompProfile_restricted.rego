# METADATA
# title: Seccomp profile (restricted)
# description: |-
#   A seccomp profile must be set, to RuntimeDefault or Localhost.
#   Restricted fields: spec.securityContext.seccompProfile.type and the same
#   field of every container; container-level fields may be undefined when
#   the pod level is set. From v1.25 pods with spec.os.name=windows are
#   exempt.
# custom:
#   id: pss.restricted.seccompProfile_restricted
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: 'Set spec.securityContext.seccompProfile.type: RuntimeDefault on the pod.'
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm-no-seccomp
#       namespace: ai-inference
#     spec:
#       securityContext:
#         runAsNonRoot: true
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
#         securityContext:
#           allowPrivilegeEscalation: false
#           capabilities:
#             drop: ["ALL"]
#   pss:
#     level: restricted
#     since: "1.19"
#     overrides: [pss.baseline.seccompProfile_baseline]
package tollgate.pss.seccompProfile_restricted

import data.tollgate.lib.pss

_pod_set if {
	p := input.pod.spec.securityContext.seccompProfile
	object.get(p, "type", "") in {"RuntimeDefault", "Localhost"}
}

violation contains _explicit if pss.seccomp_pod_bad

violation contains _explicit if {
	some c in input.pod.containers
	p := c.securityContext.seccompProfile
	not object.get(p, "type", "") in {"RuntimeDefault", "Localhost"}
}

# A container that sets no profile and inherits no valid pod-level one.
violation contains _implicit if {
	some c in input.pod.containers
	not c.securityContext.seccompProfile
	not _pod_set
}

_explicit := pss.seccomp_explicit_violation if not pss.windows_exempt

_implicit := {"msg": msg, "path": "spec.securityContext.seccompProfile"} if {
	not pss.seccomp_explicit_violated
	not pss.windows_exempt
	bad := [[p, c] | some [p, c] in pss.containers; not c.securityContext.seccompProfile]
	msg := sprintf(`seccompProfile (pod or %s %s must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`, [
		pss.pluralize("container", "containers", count(bad)),
		pss.join_quote(pss.names(bad)),
	])
}
