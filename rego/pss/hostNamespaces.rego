# METADATA
# title: Host namespaces
# description: |-
#   Sharing the host network, PID and IPC namespaces must be disallowed.
#   Restricted fields: spec.hostNetwork, spec.hostPID, spec.hostIPC.
#   Allowed values: undefined, false.
# custom:
#   id: pss.baseline.hostNamespaces
#   severity: critical
#   action: deny
#   targets: [pod, template]
#   remediation: Remove hostNetwork, hostPID and hostIPC from the pod spec. Expose the workload through a Service; inference servers do not need the host network.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: inference-hostnet
#     spec:
#       hostNetwork: true
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
#   pss:
#     level: baseline
#     since: "1.0"
package tollgate.pss.hostNamespaces

violation contains _finding if input.pod.spec.hostNetwork == true

violation contains _finding if input.pod.spec.hostPID == true

violation contains _finding if input.pod.spec.hostIPC == true

_finding := {"msg": msg, "path": path} if {
	set := [f | some f in ["hostNetwork", "hostPID", "hostIPC"]; input.pod.spec[f] == true]
	msg := sprintf("host namespaces (%s)", [concat(", ", [sprintf("%s=true", [f]) | some f in set])])
	path := concat(".", ["spec", set[0]])
}
