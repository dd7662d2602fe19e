# METADATA
# title: Capabilities (restricted)
# description: |-
#   Containers must drop ALL capabilities, and may only add back
#   NET_BIND_SERVICE. Restricted fields:
#   spec.containers[*].securityContext.capabilities.drop (must include ALL)
#   and .add (undefined, empty or NET_BIND_SERVICE), for every container.
#   From v1.25 pods with spec.os.name=windows are exempt.
# custom:
#   id: pss.restricted.capabilities_restricted
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: 'Set securityContext.capabilities.drop: ["ALL"] on every container and add back only NET_BIND_SERVICE if the process binds a port below 1024.'
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm-caps
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
#           allowPrivilegeEscalation: false
#           capabilities:
#             drop: ["NET_RAW"]
#   pss:
#     level: restricted
#     since: "1.22"
#     overrides: [pss.baseline.capabilities_baseline]
package tollgate.pss.capabilities_restricted

import data.tollgate.lib.pss

_drops_all(c) if "ALL" in c.securityContext.capabilities.drop

_adds_forbidden(c) if {
	some a in c.securityContext.capabilities.add
	a != "NET_BIND_SERVICE"
}

violation contains _finding if {
	some c in input.pod.containers
	not _drops_all(c)
}

violation contains _finding if {
	some c in input.pod.containers
	_adds_forbidden(c)
}

_finding := {"msg": msg, "path": path} if {
	not pss.windows_exempt
	missing := [[p, c] | some [p, c] in pss.containers; not _drops_all(c)]
	adding := [[p, c] | some [p, c] in pss.containers; _adds_forbidden(c)]
	details := array.concat(
		[sprintf(`%s %s must set securityContext.capabilities.drop=["ALL"]`, [
			pss.pluralize("container", "containers", count(missing)),
			pss.join_quote(pss.names(missing)),
		]) |
			count(missing) > 0
		],
		[sprintf("%s %s must not include %s in securityContext.capabilities.add", [
			pss.pluralize("container", "containers", count(adding)),
			pss.join_quote(pss.names(adding)),
			pss.join_quote(sort({a | some [_, c] in adding; some a in c.securityContext.capabilities.add; a != "NET_BIND_SERVICE"})),
		]) |
			count(adding) > 0
		],
	)
	msg := sprintf("unrestricted capabilities (%s)", [concat("; ", details)])
	first := array.concat(
		[concat("", [p, ".securityContext.capabilities.drop"]) | some [p, _] in missing],
		[concat("", [p, ".securityContext.capabilities.add"]) | some [p, _] in adding],
	)
	path := first[0]
}
