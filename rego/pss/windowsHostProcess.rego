# METADATA
# title: HostProcess containers
# description: |-
#   Windows HostProcess containers have privileged access to the Windows
#   node and must be disallowed. Restricted fields:
#   spec.securityContext.windowsOptions.hostProcess and the same field of
#   every container. Allowed values: undefined, false.
# custom:
#   id: pss.baseline.windowsHostProcess
#   severity: critical
#   action: deny
#   targets: [pod, template]
#   remediation: Remove windowsOptions.hostProcess or set it to false.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: node-agent
#     spec:
#       securityContext:
#         windowsOptions:
#           hostProcess: true
#       hostNetwork: true
#       containers:
#       - name: agent
#         image: mcr.microsoft.com/windows/nanoserver:ltsc2022
#   pss:
#     level: baseline
#     since: "1.0"
package tollgate.pss.windowsHostProcess

import data.tollgate.lib.pss

default _pod := false

_pod if input.pod.spec.securityContext.windowsOptions.hostProcess == true

violation contains _finding if _pod

violation contains _finding if {
	some c in input.pod.containers
	c.securityContext.windowsOptions.hostProcess == true
}

_finding := {"msg": msg, "path": path} if {
	bad := [[p, c] | some [p, c] in pss.containers; c.securityContext.windowsOptions.hostProcess == true]
	msg := sprintf("hostProcess (%s must not set securityContext.windowsOptions.hostProcess=true)", [pss.setters(_pod, pss.names(bad))])
	path := pss.first_path(_pod, "securityContext.windowsOptions.hostProcess", bad)
}
