# METADATA
# title: The pod fits a NodePool or a Node
# description: |-
#   A pod that no Karpenter NodePool can launch a node for and no existing
#   Node can take stays Pending: the Karpenter log then says "incompatible
#   with nodepool ... did not tolerate taint" minutes later, where its owner
#   does not look. Tollgate places the pod at admission (input.state.placement,
#   computed in Go from the NodePools, the Nodes and the instance catalog,
#   after the mutators ran) and names every candidate NodePool with the first
#   reason it cannot be used: a requirement or label the pod's node selector
#   or required affinity contradicts, a taint the pod does not tolerate
#   (startupTaints do not count, as in Karpenter), requests larger than every
#   instance type it allows, or limits its nodes already reach. A cluster
#   without NodePools (no Karpenter) is not judged, nor are DaemonSet pods
#   (they run on the nodes they select, where there are any) or pods already
#   bound to a node. When the state lists no Nodes (an eval of manifests
#   without Node objects), only pods that ask for what only some capacity
#   has are judged: GPUs, or a label Karpenter publishes; other pods run on
#   the cluster's general nodes, which such a state does not show.
# custom:
#   id: schedule.fit
#   severity: medium
#   action: warn
#   targets: [pod, template]
#   remediation: Change the pod's node selector, affinity, tolerations or requests to what a NodePool offers (the message names each NodePool with what blocks it), or add a NodePool that offers it.
#   example: |
#     apiVersion: karpenter.sh/v1
#     kind: NodePool
#     metadata:
#       name: gpu-inference
#     spec:
#       template:
#         spec:
#           nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: gpu}
#           requirements:
#           - {key: karpenter.k8s.aws/instance-family, operator: In, values: [g5, g6e]}
#           taints:
#           - {key: nvidia.com/gpu, value: "true", effect: NoSchedule}
#     ---
#     apiVersion: apps/v1
#     kind: Deployment
#     metadata:
#       name: vllm-h100
#       namespace: inference
#     spec:
#       selector:
#         matchLabels: {app: vllm-h100}
#       template:
#         metadata:
#           labels: {app: vllm-h100}
#         spec:
#           nodeSelector:
#             karpenter.k8s.aws/instance-family: p5
#           containers:
#           - name: vllm
#             image: vllm/vllm-openai:v0.6.3
#             resources:
#               limits:
#                 nvidia.com/gpu: 8
package tollgate.schedule.fit

_placement := input.state.placement

violation contains {"msg": msg, "path": "spec"} if {
	_placement.karpenter
	not _placement.fits
	_judged
	not _daemonset
	msg := sprintf("no NodePool and no Node can host the pod, so it would stay Pending: %s", [concat("; ", _reasons)])
}

_judged if _placement.nodes > 0

_judged if _placement.targeted

_daemonset if input.workload.kind == "DaemonSet"

_daemonset if {
	some ref in input.pod.metadata.ownerReferences
	ref.controller == true
	ref.kind == "DaemonSet"
}

_reasons := array.concat(array.concat(_missing, _pools), _nodes)

_missing := [sprintf("%s names no NodePool", [_placement.missingNodePool])] if {
	_placement.missingNodePool
} else := []

_pools := [sprintf("NodePool %q: %s", [c.name, c.reason]) | some c in _placement.blocked; c.kind == "NodePool"]

_nodes := [] if {
	_placement.blockedNodes == 0
} else := [sprintf("none of %d %s (%s)", [_placement.blockedNodes, _plural(_placement.blockedNodes), concat(", ", _node_examples)])]

_node_examples := [sprintf("%s: %s", [c.name, c.reason]) |
	some i, c in [c | some c in _placement.blocked; c.kind == "Node"]
	i < 3
]

_plural(1) := "Node"

_plural(n) := "Nodes" if n != 1
