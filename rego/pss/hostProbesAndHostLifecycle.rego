# METADATA
# title: Probe and lifecycle hosts
# description: |-
#   The host field of probes and lifecycle handlers can point the kubelet at
#   other hosts and must not be set. Restricted fields: the httpGet.host and
#   tcpSocket.host of livenessProbe, readinessProbe, startupProbe,
#   lifecycle.postStart and lifecycle.preStop of every container. Allowed
#   values: undefined, "".
# custom:
#   id: pss.baseline.hostProbesAndHostLifecycle
#   severity: medium
#   action: deny
#   targets: [pod, template]
#   remediation: Remove the host field from httpGet and tcpSocket probes and lifecycle handlers; the kubelet then uses the pod IP.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: probe-elsewhere
#     spec:
#       containers:
#       - name: api
#         image: nginx:1.27
#         livenessProbe:
#           httpGet:
#             host: 169.254.169.254
#             path: /latest/meta-data/
#             port: 80
#   pss:
#     level: baseline
#     since: "1.34"
package tollgate.pss.hostProbesAndHostLifecycle

import data.tollgate.lib.pss

_probes := ["livenessProbe", "readinessProbe", "startupProbe"]

_hooks := ["postStart", "preStop"]

violation contains _finding if {
	some c in input.pod.containers
	some h in _probes
	c[h][_].host != ""
}

violation contains _finding if {
	some c in input.pod.containers
	some h in _hooks
	c.lifecycle[h][_].host != ""
}

# _hosts lists [field path, host] for every probe or lifecycle host a
# container sets (httpGet.host and tcpSocket.host).
_hosts(p, c) := array.concat(
	[[sprintf("%s.%s.%s.host", [p, h, k]), c[h][k].host] |
		some h in _probes
		some k in ["httpGet", "tcpSocket"]
		c[h][k].host != ""
	],
	[[sprintf("%s.lifecycle.%s.%s.host", [p, h, k]), c.lifecycle[h][k].host] |
		some h in _hooks
		some k in ["httpGet", "tcpSocket"]
		c.lifecycle[h][k].host != ""
	],
)

_finding := {"msg": msg, "path": path} if {
	bad := [[p, c, hosts] | some [p, c] in pss.containers; hosts := _hosts(p, c); count(hosts) > 0]
	names := sort({c.name | some [_, c, _] in bad})
	hosts := sort({h | some [_, _, hs] in bad; some [_, h] in hs})
	msg := sprintf("probe or lifecycle host (%s %s %s %s %s)", [
		pss.pluralize("container", "containers", count(names)),
		pss.join_quote(names),
		pss.pluralize("uses", "use", count(names)),
		pss.pluralize("probe or lifecycle host", "probe or lifecycle hosts", count(hosts)),
		pss.join_quote(hosts),
	])
	path := bad[0][2][0][0]
}
