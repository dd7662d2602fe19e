# METADATA
# title: Sysctls
# description: |-
#   Sysctls can disable security mechanisms or affect every container on a
#   host; only a safe, namespaced subset is allowed. Restricted field:
#   spec.securityContext.sysctls[*].name. Allowed values: the safe set of the
#   policy version (kernel.shm_rmid_forced, net.ipv4.ip_local_port_range,
#   net.ipv4.tcp_syncookies, net.ipv4.ping_group_range,
#   net.ipv4.ip_unprivileged_port_start; from v1.27
#   net.ipv4.ip_local_reserved_ports; from v1.29 net.ipv4.tcp_keepalive_time,
#   net.ipv4.tcp_fin_timeout, net.ipv4.tcp_keepalive_intvl,
#   net.ipv4.tcp_keepalive_probes; from v1.32 net.ipv4.tcp_rmem,
#   net.ipv4.tcp_wmem; from v1.37 net.ipv4.tcp_slow_start_after_idle,
#   net.ipv4.tcp_notsent_lowat).
# custom:
#   id: pss.baseline.sysctls
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Remove the unsafe sysctls; tune the node through its launch template or EC2NodeClass userData instead.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: tuned
#     spec:
#       securityContext:
#         sysctls:
#         - name: net.core.somaxconn
#           value: "65535"
#       containers:
#       - name: api
#         image: nginx:1.27
#   pss:
#     level: baseline
#     since: "1.0"
package tollgate.pss.sysctls

# The safe set grows with the policy version: [first version, names].
_safe := [
	[0, {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"}],
	[27, {"net.ipv4.ip_local_reserved_ports"}],
	[29, {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}],
	[32, {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}],
	[37, {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}],
]

_allowed(name) if {
	some [since, names] in _safe
	input.pss.version >= since
	name in names
}

violation contains _finding if {
	some s in input.pod.spec.securityContext.sysctls
	not _allowed(s.name)
}

_finding := {"msg": msg, "path": path} if {
	bad := [[i, s.name] | some i, s in input.pod.spec.securityContext.sysctls; not _allowed(s.name)]
	msg := sprintf("forbidden sysctls (%s)", [concat(", ", [n | some [_, n] in bad])])
	path := sprintf("spec.securityContext.sysctls[%d]", [bad[0][0]])
}
