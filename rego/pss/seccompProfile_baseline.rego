# METADATA
# title: Seccomp profile (baseline)
# description: |-
#   If a seccomp profile is set, only RuntimeDefault and Localhost are
#   allowed. Restricted fields (v1.19+): spec.securityContext.seccompProfile.type
#   and the same field of every container; allowed values: RuntimeDefault,
#   Localhost, undefined. Before v1.19: the annotations
#   seccomp.security.alpha.kubernetes.io/pod and
#   container.seccomp.security.alpha.kubernetes.io/*; allowed values:
#   runtime/default, docker/default, localhost/*, undefined. At the
#   restricted level this check is replaced by
#   pss.restricted.seccompProfile_restricted.
# custom:
#   id: pss.baseline.seccompProfile_baseline
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Set seccompProfile.type to RuntimeDefault (or Localhost with a profile) instead of Unconfined.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: no-seccomp
#     spec:
#       containers:
#       - name: app
#         image: python:3.12-slim
#         securityContext:
#           seccompProfile:
#             type: Unconfined
#   pss:
#     level: baseline
#     since: "1.0"
package tollgate.pss.seccompProfile_baseline

import data.tollgate.lib.pss

violation contains _explicit if pss.seccomp_pod_bad

violation contains _explicit if {
	some c in input.pod.containers
	p := c.securityContext.seccompProfile
	not object.get(p, "type", "") in {"RuntimeDefault", "Localhost"}
}

_explicit := pss.seccomp_explicit_violation if input.pss.version >= 19

violation contains {"msg": msg, "path": "metadata.annotations"} if {
	input.pss.version < 19
	count(_forbidden_annotations) > 0
	msg := sprintf("seccompProfile (forbidden %s %s)", [
		pss.pluralize("annotation", "annotations", count(_forbidden_annotations)),
		concat(", ", sort(_forbidden_annotations)),
	])
}

_forbidden_annotations contains sprintf("%s=%q", [k, v]) if {
	k := "seccomp.security.alpha.kubernetes.io/pod"
	v := input.pod.metadata.annotations[k]
	not _valid_annotation(v)
}

_forbidden_annotations contains sprintf("%s=%q", [k, v]) if {
	some c in input.pod.containers
	k := concat("", ["container.seccomp.security.alpha.kubernetes.io/", c.name])
	v := input.pod.metadata.annotations[k]
	not _valid_annotation(v)
}

_valid_annotation("runtime/default")

_valid_annotation("docker/default")

_valid_annotation(v) if startswith(v, "localhost/")
