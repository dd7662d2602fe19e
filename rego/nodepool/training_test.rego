package tollgate.nodepool.training_test

import data.tollgate.nodepool.lib_test as t
import data.tollgate.nodepool.training

_labels := {"workload": "ml-training"}

_training(rs, disruption) := object.union(t.good_gpu_pool(_labels, rs), {"object": {"spec": {"disruption": disruption}}})

_safe := {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "1h", "budgets": [{"nodes": "0"}]}

test_on_demand_when_empty_zero_budget_passes if {
	training.violation == set() with input as _training([t.capacity(["on-demand"]), t.types(["p5.48xlarge"])], _safe)
	training.violation == set() with input as _training([t.types(["p5.48xlarge"])], _safe)
	training.violation == set() with input as _training([t.capacity(["on-demand", "reserved"])], _safe)
}

test_scheduled_zero_budget_counts if {
	d := object.union(_safe, {"budgets": [{"nodes": "20%"}, {"nodes": "0", "schedule": "0 0 * * *", "duration": "24h"}]})
	training.violation == set() with input as _training([t.types(["p5.48xlarge"])], d)
}

test_tainted_training_pool_is_judged_too if {
	taints := [t.gpu_taint, {"key": "workload-type", "value": "training", "effect": "NoSchedule"}]
	doc := t.pool(object.union(t.template({}, [t.capacity(["spot"])], taints), {"disruption": _safe}))
	count(training.violation) == 1 with input as doc
}

test_unsafe_training_pool_fails_three_ways if {
	training.violation == {
		{
			"msg": "training NodePool allows Spot capacity (karpenter.sh/capacity-type In [on-demand, spot]): an interruption stops every rank of a distributed run; allow only on-demand or reserved capacity",
			"path": "spec.template.spec.requirements[0]",
		},
		{
			"msg": "training NodePool consolidates with WhenEmptyOrUnderutilized (the default): Karpenter moves pods off underutilized nodes and restarts training runs; set spec.disruption.consolidationPolicy to WhenEmpty",
			"path": "spec.disruption.consolidationPolicy",
		},
		{
			"msg": `training NodePool has no zero-node disruption budget (without budgets Karpenter disrupts up to 10% of nodes at a time): drift replaces nodes in the middle of training runs; add {nodes: "0"} to spec.disruption.budgets, scheduled over the training window or always`,
			"path": "spec.disruption.budgets",
		},
	} with input as _training([t.capacity(["on-demand", "spot"]), t.types(["p5.48xlarge"])], {})
}

test_zero_budget_must_cover_drift if {
	d := object.union(_safe, {"budgets": [{"nodes": "0", "reasons": ["Empty", "Underutilized"]}]})
	training.violation == {{
		"msg": `training NodePool has no zero-node disruption budget: drift replaces nodes in the middle of training runs; add {nodes: "0"} to spec.disruption.budgets, scheduled over the training window or always`,
		"path": "spec.disruption.budgets",
	}} with input as _training([t.types(["p5.48xlarge"])], d)
	training.violation == set() with input as _training([t.types(["p5.48xlarge"])], object.union(_safe, {"budgets": [{"nodes": "0%", "reasons": ["Drifted"]}]}))
}

test_balanced_consolidation_fails if {
	d := object.union(_safe, {"consolidationPolicy": "Balanced"})
	training.violation == {{
		"msg": "training NodePool consolidates with Balanced: Karpenter moves pods off underutilized nodes and restarts training runs; set spec.disruption.consolidationPolicy to WhenEmpty",
		"path": "spec.disruption.consolidationPolicy",
	}} with input as _training([t.types(["p5.48xlarge"])], d)
}

test_inference_pools_are_not_training_pools if {
	training.violation == set() with input as t.good_gpu_pool({"workload": "genai"}, [t.capacity(["spot"])])
}
