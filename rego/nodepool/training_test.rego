package tollgate.nodepool.training_test

import data.tollgate.nodepool.lib_test as t
import data.tollgate.nodepool.training

_labels := {"workload": "ml-training"}

_training(rs, disruption) := object.union(t.good_gpu_pool(_labels, rs), {"object": {"spec": {"disruption": disruption}}})

_expiring(doc, expire_after) := object.union(doc, {"object": {"spec": {"template": {"spec": {"expireAfter": expire_after}}}}})

# The recommended lifecycle: drift and consolidation of busy nodes stopped,
# Empty consolidation free to reclaim idle ones, no expiry.
_safe := {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "1h", "budgets": [{"nodes": "0", "reasons": ["Drifted", "Underutilized"]}]}

_p5 := [t.types(["p5.48xlarge"])]

_busy_msg(reasons, note) := sprintf(`training NodePool lets Karpenter disrupt nodes that run training pods for %s, which no zero-node budget covers%s: drift replacement and consolidation evict the ranks of a running job; add {nodes: "0", reasons: [Drifted, Underutilized]} to spec.disruption.budgets, scheduled over the training window or always`, [reasons, note])

test_recommended_lifecycle_passes if {
	training.violation == set() with input as _training([t.capacity(["on-demand"]), t.types(["p5.48xlarge"])], _safe)
	training.violation == set() with input as _training(_p5, _safe)
	training.violation == set() with input as _training([t.capacity(["on-demand", "reserved"])], _safe)
	training.violation == set() with input as _expiring(_training(_p5, _safe), "Never")
	training.violation == set() with input as _expiring(_training(_p5, _safe), "168h")
}

test_when_empty_needs_a_zero_budget_on_drift_only if {
	d := {"consolidationPolicy": "WhenEmpty", "budgets": [{"nodes": "0", "reasons": ["Drifted"]}]}
	training.violation == set() with input as _training(_p5, d)
}

test_scheduled_zero_budget_counts if {
	d := object.union(_safe, {"budgets": [{"nodes": "20%"}, {"nodes": "0", "reasons": ["Drifted", "Underutilized"], "schedule": "0 0 * * *", "duration": "24h"}]})
	training.violation == set() with input as _training(_p5, d)
}

# A budget without reasons applies to every reason, Empty included: the
# idle p5 nodes of a finished run are never reclaimed.
test_blanket_zero_budget_fails if {
	d := {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "1h", "budgets": [{"nodes": "10%", "reasons": ["Empty"]}, {"nodes": "0"}]}
	training.violation == {{
		"msg": `training NodePool's zero-node budget spec.disruption.budgets[1] has no reasons (a budget without reasons applies to every reason), so it also stops Empty consolidation: idle GPU nodes are never reclaimed; limit it to reasons: [Drifted, Underutilized], as in {nodes: "0", reasons: [Drifted, Underutilized]}, which still lets Karpenter remove empty nodes`,
		"path": "spec.disruption.budgets[1]",
	}} with input as _training(_p5, d)
	training.violation == {{
		"msg": `training NodePool's zero-node budget spec.disruption.budgets[0] lists Empty, so it also stops Empty consolidation: idle GPU nodes are never reclaimed; limit it to reasons: [Drifted, Underutilized], as in {nodes: "0", reasons: [Drifted, Underutilized]}, which still lets Karpenter remove empty nodes`,
		"path": "spec.disruption.budgets[0]",
	}} with input as _training(_p5, {"budgets": [{"nodes": "0%", "reasons": ["Drifted", "Underutilized", "Empty"]}]})
	training.violation == set() with input as _training(_p5, {"budgets": [{"nodes": "0", "schedule": "0 8 * * 1-5", "duration": "10h"}]})
	training.violation == set() with input as _training(_p5, {"budgets": [{"nodes": "0", "reasons": ["Drifted", "Underutilized"]}, {"nodes": "1", "reasons": ["Empty"]}]})
}

test_tainted_training_pool_is_judged_too if {
	taints := [t.gpu_taint, {"key": "workload-type", "value": "training", "effect": "NoSchedule"}]
	doc := t.pool(object.union(t.template({}, [t.capacity(["spot"])], taints), {"disruption": _safe}))
	count(training.violation) == 1 with input as doc
}

test_unsafe_training_pool_fails_twice if {
	training.violation == {
		{
			"msg": "training NodePool allows Spot capacity (karpenter.sh/capacity-type In [on-demand, spot]): an interruption stops every rank of a distributed run; allow only on-demand or reserved capacity",
			"path": "spec.template.spec.requirements[0]",
		},
		{
			"msg": _busy_msg("Drifted and Underutilized", " (consolidationPolicy is WhenEmptyOrUnderutilized, the default; without budgets Karpenter disrupts up to 10% of nodes at a time)"),
			"path": "spec.disruption.budgets",
		},
	} with input as _training([t.capacity(["on-demand", "spot"]), t.types(["p5.48xlarge"])], {})
}

test_zero_budget_must_cover_drift_and_underutilized if {
	training.violation == {{
		"msg": _busy_msg("Drifted", ""),
		"path": "spec.disruption.budgets",
	}} with input as _training(_p5, object.union(_safe, {"budgets": [{"nodes": "0", "reasons": ["Underutilized"]}]}))
	training.violation == {{
		"msg": _busy_msg("Underutilized", " (consolidationPolicy is Balanced)"),
		"path": "spec.disruption.budgets",
	}} with input as _training(_p5, {"consolidationPolicy": "Balanced", "budgets": [{"nodes": "0", "reasons": ["Drifted"]}]})
	training.violation == {{
		"msg": _busy_msg("Drifted and Underutilized", " (consolidationPolicy is WhenEmptyOrUnderutilized)"),
		"path": "spec.disruption.budgets",
	}} with input as _training(_p5, {"consolidationPolicy": "WhenEmptyOrUnderutilized", "budgets": [{"nodes": "1", "reasons": ["Drifted", "Underutilized"]}]})
}

# Expiration is forceful: budgets do not stop it.
test_expire_after_shorter_than_a_run_fails if {
	training.violation == {{
		"msg": "training NodePool expires nodes after 72h, shorter than the longest training run (params.nodepool.trainingMaxRunHours: 168h): expiration is forceful in Karpenter v1, disruption budgets do not hold it back and terminationGracePeriod ends it even for do-not-disrupt pods, so a run is cut mid-way; set spec.template.spec.expireAfter to Never, or to at least 168h",
		"path": "spec.template.spec.expireAfter",
	}} with input as _expiring(_training(_p5, _safe), "72h")
	count(training.violation) == 1 with input as _expiring(_training(_p5, _safe), "167h59m")
	training.violation == set() with input as _expiring(_training(_p5, _safe), "10080m")
}

test_expire_after_defaults if {
	# 720h, Karpenter's default, is longer than 168h; 336h, Auto Mode's, too.
	training.violation == set() with input as _training(_p5, _safe)
	training.violation == {{
		"msg": "training NodePool expires nodes after 720h (the default), shorter than the longest training run (params.nodepool.trainingMaxRunHours: 1000h): expiration is forceful in Karpenter v1, disruption budgets do not hold it back and terminationGracePeriod ends it even for do-not-disrupt pods, so a run is cut mid-way; set spec.template.spec.expireAfter to Never, or to at least 1000h",
		"path": "spec.template.spec.expireAfter",
	}} with input as _training(_p5, _safe) with data.tollgate.params.nodepool.trainingMaxRunHours as 1000
	auto := object.union(t.good_auto_gpu_pool(_labels, _p5), {"object": {"spec": {"disruption": _safe}}})
	training.violation == set() with input as auto
	training.violation == {{
		"msg": "training NodePool expires nodes after 336h (EKS Auto Mode's default), shorter than the longest training run (params.nodepool.trainingMaxRunHours: 400h): expiration is forceful in Karpenter v1, disruption budgets do not hold it back and terminationGracePeriod ends it even for do-not-disrupt pods, so a run is cut mid-way; set spec.template.spec.expireAfter to Never, or to at least 400h",
		"path": "spec.template.spec.expireAfter",
	}} with input as auto with data.tollgate.params.nodepool.trainingMaxRunHours as 400
}

test_invalid_expire_after_is_left_to_nodepool_disruption if {
	training.violation == set() with input as _expiring(_training(_p5, _safe), "1.5h")
	training.violation == set() with input as _expiring(_training(_p5, _safe), 72)
	training.violation == set() with input as _expiring(_training(_p5, _safe), "72h") with data.tollgate.params.nodepool.trainingMaxRunHours as 0
}

test_inference_pools_are_not_training_pools if {
	training.violation == set() with input as t.good_gpu_pool({"workload": "genai"}, [t.capacity(["spot"])])
	training.violation == set() with input as _expiring(t.good_gpu_pool({"workload": "genai"}, _p5), "1h")
}
