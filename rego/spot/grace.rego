# METADATA
# title: Shutdown fits inside the Spot interruption notice
# description: |-
#   A pod that can land on Spot capacity gets a two-minute notice
#   (params.spot.noticeSeconds) before its node is reclaimed. Its
#   terminationGracePeriodSeconds must fit inside the notice, and a preStop
#   hook that sleeps (the sleep action, or sleep in an exec hook) must end
#   before both the grace period and the notice do, or the kubelet kills the
#   container before the application receives SIGTERM.
# custom:
#   id: spot.grace
#   severity: medium
#   action: warn
#   targets: [pod, template]
#   remediation: Set terminationGracePeriodSeconds to 120 or less, and make preStop sleeps shorter than the grace period so that the application has time to stop after SIGTERM.
#   example: |
#     apiVersion: apps/v1
#     kind: Deployment
#     metadata:
#       name: vllm
#     spec:
#       selector:
#         matchLabels: {app: vllm}
#       template:
#         metadata:
#           labels: {app: vllm}
#         spec:
#           nodeSelector:
#             karpenter.sh/capacity-type: spot
#           terminationGracePeriodSeconds: 300
#           containers:
#           - name: vllm
#             image: vllm/vllm-openai:v0.6.3
#             lifecycle:
#               preStop:
#                 exec:
#                   command: ["/bin/sh", "-c", "sleep 120"]
package tollgate.spot.grace

import data.tollgate.params.spot as params
import data.tollgate.spot.lib

violation contains _grace_finding if {
	lib.grace > params.noticeSeconds
	lib.spot
}

violation contains {"msg": msg, "path": path} if {
	some i, c in input.pod.containers
	s := lib.prestop_sleep(c)
	s >= min([lib.grace, params.noticeSeconds])
	lib.spot
	path := concat("", [input.pod.containerPaths[i], ".lifecycle.preStop"])
	msg := sprintf("container %q preStop hook sleeps %ds, which does not end within %s: the kubelet kills the container before the application gets SIGTERM; sleep less, leaving time to stop", [
		c.name, s, _window,
	])
}

_grace_finding := {"msg": msg, "path": "spec.terminationGracePeriodSeconds"} if {
	msg := sprintf("terminationGracePeriodSeconds %d exceeds the %ds Spot interruption notice (%s): the node is reclaimed before the pod finishes shutting down; set it to %d or less", [
		lib.grace, params.noticeSeconds, lib.reason, params.noticeSeconds,
	])
}

_window := sprintf("terminationGracePeriodSeconds %d", [lib.grace]) if lib.grace < params.noticeSeconds

_window := sprintf("the %ds Spot interruption notice", [params.noticeSeconds]) if lib.grace >= params.noticeSeconds
