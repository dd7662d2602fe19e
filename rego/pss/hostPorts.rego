# METADATA
# title: Host ports
# description: |-
#   HostPorts must be disallowed entirely. Restricted fields:
#   spec.containers[*].ports[*].hostPort and the same field of init and
#   ephemeral containers. Allowed values: undefined, 0.
# custom:
#   id: pss.baseline.hostPorts
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Remove hostPort from the container ports and expose the port through a Service.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: triton
#     spec:
#       containers:
#       - name: triton
#         image: nvcr.io/nvidia/tritonserver:24.08-py3
#         ports:
#         - containerPort: 8000
#           hostPort: 8000
#   pss:
#     level: baseline
#     since: "1.0"
package tollgate.pss.hostPorts

import data.tollgate.lib.pss

violation contains _finding if {
	some c in input.pod.containers
	some port in c.ports
	port.hostPort != 0
}

_finding := {"msg": msg, "path": path} if {
	bad := [[p, c, j] |
		some [p, c] in pss.containers
		some j, port in c.ports
		port.hostPort != 0
	]
	names := pss.unique(pss.names(bad))
	ports := sort({sprintf("%d", [port.hostPort]) |
		some c in input.pod.containers
		some port in c.ports
		port.hostPort != 0
	})
	msg := sprintf("hostPort (%s %s %s %s %s)", [
		pss.pluralize("container", "containers", count(names)),
		pss.join_quote(names),
		pss.pluralize("uses", "use", count(names)),
		pss.pluralize("hostPort", "hostPorts", count(ports)),
		concat(", ", ports),
	])
	path := sprintf("%s.ports[%d].hostPort", [bad[0][0], bad[0][2]])
}
