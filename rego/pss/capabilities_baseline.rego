# METADATA
# title: Capabilities (baseline)
# description: |-
#   Adding capabilities beyond the default set must be disallowed.
#   Restricted fields: spec.containers[*].securityContext.capabilities.add and
#   the same field of init and ephemeral containers. Allowed values:
#   undefined, empty, or AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
#   KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID,
#   SYS_CHROOT. At the restricted level this check is replaced by
#   pss.restricted.capabilities_restricted.
# custom:
#   id: pss.baseline.capabilities_baseline
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Remove the added capabilities that are not in the default set, such as NET_RAW, SYS_ADMIN or IPC_LOCK.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: rdma-client
#     spec:
#       containers:
#       - name: nccl-tests
#         image: nvcr.io/nvidia/pytorch:24.08-py3
#         securityContext:
#           capabilities:
#             add: ["IPC_LOCK", "SYS_ADMIN"]
#   pss:
#     level: baseline
#     since: "1.0"
package tollgate.pss.capabilities_baseline

import data.tollgate.lib.pss

_allowed := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

violation contains _finding if {
	some c in input.pod.containers
	some a in c.securityContext.capabilities.add
	not a in _allowed
}

_finding := {"msg": msg, "path": path} if {
	bad := [[p, c] |
		some [p, c] in pss.containers
		some a in c.securityContext.capabilities.add
		not a in _allowed
	]
	names := pss.unique(pss.names(bad))
	caps := sort({a |
		some c in input.pod.containers
		some a in c.securityContext.capabilities.add
		not a in _allowed
	})
	msg := sprintf("non-default capabilities (%s %s must not include %s in securityContext.capabilities.add)", [
		pss.pluralize("container", "containers", count(names)),
		pss.join_quote(names),
		pss.join_quote(caps),
	])
	path := concat("", [bad[0][0], ".securityContext.capabilities.add"])
}
