package tollgate.schedule.fit_test

import data.tollgate.schedule.fit

_blocked := {
	"karpenter": true, "known": true, "fits": false,
	"blocked": [
		{"kind": "NodePool", "name": "gpu-inference", "reason": "instance families [g5 g6e] do not include p5 (nodeSelector karpenter.k8s.aws/instance-family=p5)"},
		{"kind": "NodePool", "name": "dedicated", "reason": "taint dedicated=true:NoSchedule not tolerated"},
		{"kind": "Node", "name": "ng-1", "reason": "insufficient nvidia.com/gpu"},
	],
	"blockedNodes": 1,
	"nodes": 1,
}

test_names_every_nodepool_and_the_nodes if {
	v := fit.violation with input as {"pod": {"metadata": {}}, "state": {"placement": _blocked}}
	v == {{"path": "spec", "msg": concat("", [
		"no NodePool and no Node can host the pod, so it would stay Pending: ",
		`NodePool "gpu-inference": instance families [g5 g6e] do not include p5 (nodeSelector karpenter.k8s.aws/instance-family=p5); `,
		`NodePool "dedicated": taint dedicated=true:NoSchedule not tolerated; `,
		"none of 1 Node (ng-1: insufficient nvidia.com/gpu)",
	])}}
}

test_missing_nodepool_comes_first if {
	p := object.union(_blocked, {"blocked": [], "blockedNodes": 0, "missingNodePool": "nodeSelector karpenter.sh/nodepool=gpu-training"})
	v := fit.violation with input as {"pod": {"metadata": {}}, "state": {"placement": p}}
	v == {{"path": "spec", "msg": "no NodePool and no Node can host the pod, so it would stay Pending: nodeSelector karpenter.sh/nodepool=gpu-training names no NodePool"}}
}

test_fits if {
	count(fit.violation) == 0 with input as {"pod": {"metadata": {}}, "state": {"placement": object.union(_blocked, {"fits": true})}}
}

test_no_karpenter_no_warning if {
	count(fit.violation) == 0 with input as {"pod": {"metadata": {}}, "state": {"placement": object.union(_blocked, {"karpenter": false})}}
}

test_no_placement_no_warning if {
	count(fit.violation) == 0 with input as {"pod": {"metadata": {}}, "state": {}}
}

test_daemonsets_are_not_judged if {
	count(fit.violation) == 0 with input as {"pod": {"metadata": {}}, "workload": {"kind": "DaemonSet"}, "state": {"placement": _blocked}}
	count(fit.violation) == 0 with input as {"pod": {"metadata": {"ownerReferences": [{"kind": "DaemonSet", "controller": true}]}}, "state": {"placement": _blocked}}
}

test_without_nodes_only_targeted_pods_are_judged if {
	p := object.union(_blocked, {"blocked": [_blocked.blocked[0]], "blockedNodes": 0, "nodes": 0, "targeted": false})
	count(fit.violation) == 0 with input as {"pod": {"metadata": {}}, "state": {"placement": p}}
	count(fit.violation) == 1 with input as {"pod": {"metadata": {}}, "state": {"placement": object.union(p, {"targeted": true})}}
}
