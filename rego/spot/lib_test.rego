# Test helpers for the spot policies, and tests of tollgate.spot.lib. The
# policies' tests build their input with the functions here.
package tollgate.spot.lib_test

import data.tollgate.lib.pss_test
import data.tollgate.spot.lib

# pod is the input document of a Pod being created in namespace "ai".
pod(metadata, spec) := {
	"kind": {"group": "", "version": "v1", "kind": "Pod"},
	"request": {"operation": "CREATE", "userInfo": {"username": "dev", "groups": []}},
	"namespace": {"name": "ai", "labels": {}, "annotations": {}},
	"pod": pss_test.pod(metadata, spec),
	"state": {"pdbs": []},
}

# template is the input document of a workload of kind with replicas.
template(kind, replicas, metadata, spec) := {
	"kind": {"group": "apps", "version": "v1", "kind": kind},
	"request": {"operation": "CREATE", "userInfo": {"username": "dev", "groups": []}},
	"namespace": {"name": "ai", "labels": {}, "annotations": {}},
	"pod": pss_test.pod(metadata, spec),
	"workload": {"kind": kind, "replicas": replicas, "templatePath": "spec.template"},
	"state": {"pdbs": []},
}

# owned is pod metadata with a ReplicaSet controller.
owned := {"name": "vllm-0", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "vllm-5d9c", "uid": "u1", "controller": true}]}

spot_selector := {"karpenter.sh/capacity-type": "spot"}

# container is an app container; drained gives it a preStop sleep.
container(name) := {"name": name, "image": "vllm/vllm-openai:v0.6.3"}

drained(name, seconds) := object.union(container(name), {"lifecycle": {"preStop": {"sleep": {"seconds": seconds}}}})

# spot_spec is a pod spec selecting Spot with the given containers.
spot_spec(containers) := {"nodeSelector": spot_selector, "terminationGracePeriodSeconds": 30, "containers": containers}

_affinity(required, preferred) := {"nodeAffinity": object.union(
	{"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": required} | count(required) > 0},
	{"preferredDuringSchedulingIgnoredDuringExecution": preferred | count(preferred) > 0},
)}

_ct(op, values) := {"key": "karpenter.sh/capacity-type", "operator": op, "values": values}

_spot_pool := {"metadata": {"name": "spot-pool"}, "spec": {"template": {"spec": {"requirements": [_ct("In", ["spot", "on-demand"])]}}}}

_od_pool := {"metadata": {"name": "od-pool"}, "spec": {"template": {"spec": {"requirements": [_ct("In", ["on-demand"])]}}}}

_with_pools(doc, pools) := object.union(doc, {"state": {"nodepools": pools}})

test_node_selector_spot if {
	lib.reasons == {"nodeSelector karpenter.sh/capacity-type=spot"} with input as pod(owned, spot_spec([container("a")]))
	lib.spot with input as pod(owned, spot_spec([container("a")]))
}

test_no_capacity_constraint_is_not_spot if {
	not lib.spot with input as pod(owned, {"containers": [container("a")]})
}

test_required_affinity_allowing_spot if {
	spec := {"affinity": _affinity([{"matchExpressions": [_ct("In", ["spot", "on-demand"])]}], []), "containers": [container("a")]}
	lib.reason == "required node affinity allows karpenter.sh/capacity-type=spot" with input as pod(owned, spec)
	lib.spot with input as pod(owned, spec)
}

test_required_affinity_one_term_allows_spot if {
	spec := {
		"affinity": _affinity(
			[
				{"matchExpressions": [_ct("In", ["on-demand"])]},
				{"matchExpressions": [_ct("NotIn", ["on-demand"])]},
			],
			[],
		),
		"containers": [container("a")],
	}
	lib.spot with input as pod(owned, spec)
}

test_required_on_demand_wins_over_preference_and_toleration if {
	spec := {
		"affinity": _affinity(
			[{"matchExpressions": [_ct("In", ["on-demand"])]}],
			[{"weight": 1, "preference": {"matchExpressions": [_ct("In", ["spot"])]}}],
		),
		"tolerations": [{"key": "karpenter.sh/capacity-type", "operator": "Exists"}],
		"containers": [container("a")],
	}
	lib.excluded with input as pod(owned, spec)
	not lib.spot with input as pod(owned, spec)
}

test_node_selector_on_demand_wins if {
	spec := {
		"nodeSelector": {"karpenter.sh/capacity-type": "on-demand"},
		"tolerations": [{"key": "karpenter.sh/capacity-type", "operator": "Equal", "value": "spot", "effect": "NoSchedule"}],
		"containers": [container("a")],
	}
	not lib.spot with input as pod(owned, spec)
}

test_preferred_affinity_allows_spot if {
	spec := {"affinity": _affinity([], [{"weight": 1, "preference": {"matchExpressions": [_ct("Exists", [])]}}]), "containers": [container("a")]}
	lib.reason == "preferred node affinity allows karpenter.sh/capacity-type=spot" with input as pod(owned, spec)
}

test_spot_taint_tolerations if {
	exists := {"tolerations": [{"key": "karpenter.sh/capacity-type", "operator": "Exists"}], "containers": [container("a")]}
	lib.reason == "tolerates the karpenter.sh/capacity-type=spot taint" with input as pod(owned, exists)
	equal_spot := {"tolerations": [{"key": "karpenter.sh/capacity-type", "operator": "Equal", "value": "spot"}], "containers": [container("a")]}
	lib.spot with input as pod(owned, equal_spot)
	other := {"tolerations": [{"key": "karpenter.sh/capacity-type", "operator": "Equal", "value": "on-demand"}], "containers": [container("a")]}
	not lib.spot with input as pod(owned, other)
	gpu := {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}], "containers": [container("a")]}
	not lib.spot with input as pod(owned, gpu)
}

# Tolerations match taints as the scheduler matches them, like the drain
# mutator: a key-less Exists tolerates every taint, an effect must match.
_tolerating(t) := {"tolerations": [t], "containers": [container("a")]}

test_spot_taint_toleration_matching if {
	lib.spot with input as pod(owned, _tolerating({"operator": "Exists"}))
	lib.spot with input as pod(owned, _tolerating({"operator": "Exists", "effect": "NoSchedule"}))
	not lib.spot with input as pod(owned, _tolerating({"operator": "Exists", "effect": "NoExecute"}))
	not lib.spot with input as pod(owned, _tolerating({"key": "karpenter.sh/capacity-type", "operator": "Equal", "value": "spot", "effect": "NoExecute"}))
	lib.spot with input as pod(owned, _tolerating({"key": "karpenter.sh/capacity-type", "value": "spot"}))
	not lib.spot with input as pod(owned, _tolerating({"key": "karpenter.sh/capacity-type", "operator": "Equal"}))
}

test_spot_taints_from_params if {
	t := {"key": "example.com/spot", "operator": "Exists"}
	doc := pod(owned, {"tolerations": [t], "containers": [container("a")]})
	not lib.spot with input as doc
	taints := [{"key": "example.com/spot", "value": "true", "effect": "NoSchedule"}]
	lib.reason == "tolerates the example.com/spot=true taint" with input as doc with data.tollgate.params.spot.taints as taints
}

# A term naming capacity-type twice allows Spot only when both let it through.
test_required_term_all_expressions if {
	spec := {
		"affinity": _affinity([{"matchExpressions": [_ct("In", ["spot", "on-demand"]), _ct("NotIn", ["spot"])]}], []),
		"containers": [container("a")],
	}
	not lib.spot with input as pod(owned, spec)
}

test_namespace_annotation if {
	doc := object.union(pod(owned, {"containers": [container("a")]}), {"namespace": {"annotations": {"tollgate.dev/capacity-type": "spot"}}})
	lib.reason == "namespace annotation tollgate.dev/capacity-type=spot" with input as doc
}

test_selected_nodepool if {
	spec := {"nodeSelector": {"karpenter.sh/nodepool": "spot-pool"}, "containers": [container("a")]}
	lib.reason == "NodePool spot-pool allows Spot" with input as _with_pools(pod(owned, spec), [_od_pool, _spot_pool])
	not lib.spot with input as pod(owned, spec)
}

test_on_demand_nodepool_keeps_pod_off_spot if {
	spec := {"nodeSelector": {"karpenter.sh/nodepool": "od-pool"}, "containers": [container("a")]}
	doc := object.union(pod(owned, spec), {"namespace": {"annotations": {"tollgate.dev/capacity-type": "spot"}}})
	not lib.spot with input as _with_pools(doc, [_od_pool, _spot_pool])
}

test_daemonsets_are_not_judged if {
	not lib.spot with input as template("DaemonSet", -1, {}, spot_spec([container("a")]))
	ds := {"name": "agent-x", "ownerReferences": [{"kind": "DaemonSet", "name": "agent", "controller": true}]}
	not lib.spot with input as pod(ds, spot_spec([container("a")]))
}

test_pods_are_judged_on_create_templates_always if {
	update := object.union(pod(owned, spot_spec([container("a")])), {"request": {"operation": "UPDATE"}})
	not lib.spot with input as update
	t := object.union(template("Deployment", 2, {}, spot_spec([container("a")])), {"request": {"operation": "UPDATE"}})
	lib.spot with input as t
}

test_prestop_sleep if {
	lib.prestop_sleep(drained("a", 30)) == 30
	lib.prestop_sleep({"lifecycle": {"preStop": {"exec": {"command": ["sleep", "20"]}}}}) == 20
	lib.prestop_sleep({"lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 5 && /drain; sleep 10"]}}}}) == 15
	lib.prestop_sleep({"lifecycle": {"preStop": {"exec": {"command": ["/usr/bin/sleep", "7"]}}}}) == 7
	not lib.prestop_sleep({"lifecycle": {"preStop": {"exec": {"command": ["/drain", "--sleepy", "3"]}}}})
	not lib.prestop_sleep(container("a"))
}

test_training if {
	lib.training with input as pod({"labels": {"workload": "ml-training"}}, {})
	not lib.training with input as pod({"labels": {"workload": "inference"}}, {})
}

test_placement_decides_spot if {
	p := {"known": true, "fits": true, "spot": true, "reachable": [{"kind": "NodePool", "name": "gpu", "capacityTypes": ["on-demand", "spot"]}]}
	lib.spot with input as {"pod": {"metadata": {}, "spec": {}}, "state": {"placement": p}}
	lib.reason == "NodePool gpu allows Spot" with input as {"pod": {"metadata": {}, "spec": {}}, "state": {"placement": p}}
}

test_placement_on_demand_only_is_not_spot if {
	p := {"known": true, "fits": true, "spot": false, "reachable": [{"kind": "NodePool", "name": "gpu", "capacityTypes": ["on-demand"]}]}
	not lib.spot with input as {"pod": {"metadata": {}, "spec": {"nodeSelector": {"karpenter.sh/capacity-type": "spot"}}}, "state": {"placement": p}}
}

test_placement_that_fits_nowhere_keeps_the_selectors if {
	p := {"known": true, "fits": false, "spot": false, "reachable": []}
	lib.spot with input as {"pod": {"metadata": {}, "spec": {"nodeSelector": {"karpenter.sh/capacity-type": "spot"}}}, "state": {"placement": p}}
}
