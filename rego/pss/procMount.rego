# METADATA
# title: /proc mount type (baseline)
# description: |-
#   The default /proc masks reduce the attack surface and are required.
#   Restricted field: spec.containers[*].securityContext.procMount and the
#   same field of init and ephemeral containers. Allowed values: undefined,
#   Default; from v1.35 any value for pods in a user namespace
#   (hostUsers: false). At the restricted level from v1.35 this check is
#   replaced by pss.restricted.procMount_restricted.
# custom:
#   id: pss.baseline.procMount
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Remove securityContext.procMount or set it to Default, or run the pod in a user namespace (hostUsers false).
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: nested-runtime
#     spec:
#       containers:
#       - name: builder
#         image: quay.io/buildah/stable:v1.37
#         securityContext:
#           procMount: Unmasked
#   pss:
#     level: baseline
#     since: "1.0"
package tollgate.pss.procMount

import data.tollgate.lib.pss

violation contains pss.proc_mount_violation if {
	some c in input.pod.containers
	c.securityContext.procMount != "Default"
	not pss.user_namespace_relaxed
}
