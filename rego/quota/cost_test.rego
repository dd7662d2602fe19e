package tollgate.quota.cost_test

import data.tollgate.quota.cost
import data.tollgate.quota.lib_test as t

# p5.48xlarge costs 55.04 an hour for 8 GPUs: 6.88 per GPU-hour; g5.xlarge
# 1.006 for one.
_state(requested, types, used, limit) := {
	"requested": requested, "declared": true, "used": 0,
	"cost": {"limit": limit, "requested": {"gpus": requested, "instanceTypes": types}, "used": used},
}

test_within_budget_passes if {
	cost.violation == set() with input as t.pod(_state(1, ["p5.48xlarge"], [{"gpus": 4, "instanceTypes": ["g5.xlarge"]}], 50))
}

test_over_budget_fails if {
	used := [{"gpus": 6, "instanceTypes": ["p5.48xlarge"]}]
	cost.violation == {{"msg": `GPU cost of namespace "tenant-a" over budget: $41.28/h in use + $13.76/h requested (2 GPUs at $6.88 per GPU-hour on p5.48xlarge) = $55.04/h, over the limit of $50.00/h (namespace annotation tollgate.dev/gpu-cost-per-hour)`}} with input as t.pod(_state(2, ["p5.48xlarge"], used, 50))
}

test_highest_candidate_price_counts if {
	used := [{"gpus": 1, "instanceTypes": ["g5.xlarge", "p5.48xlarge"]}]
	count(cost.violation) == 1 with input as t.pod(_state(1, ["g5.xlarge"], used, 7.5))
	cost.violation == set() with input as t.pod(_state(1, ["g5.xlarge"], [{"gpus": 1, "instanceTypes": ["g5.xlarge"]}], 7.5))
}

# A pod that names no instance type is priced at the most expensive GPU in
# the table (p6-b200: 113.93 for 8, 14.24 per GPU-hour), or the default.
test_unplaced_pods_use_the_default_price if {
	cost.violation == {{"msg": `GPU cost of namespace "tenant-a" over budget: $0.00/h in use + $14.24/h requested (1 GPU at $14.24 per GPU-hour, the default for pods that name no instance type) = $14.24/h, over the limit of $10.00/h (namespace annotation tollgate.dev/gpu-cost-per-hour)`}} with input as t.pod(_state(1, [], [], 10))
	cost.violation == set() with input as t.pod(_state(1, [], [], 10)) with data.tollgate.params.quota.defaultGPUHourPrice as 2
}

test_unpriced_instance_type_uses_the_default if {
	count(cost.violation) == 1 with input as t.pod(_state(1, ["g6f.xlarge"], [], 10))
}

test_invalid_budget_is_reported if {
	state := {"requested": 1, "declared": true, "used": 0, "cost": {"problem": `annotation tollgate.dev/gpu-cost-per-hour "fifty" is not an amount of dollars per hour`, "requested": {"gpus": 1, "instanceTypes": []}, "used": []}}
	cost.violation == {{"msg": `namespace "tenant-a": annotation tollgate.dev/gpu-cost-per-hour "fifty" is not an amount of dollars per hour`}} with input as t.pod(state)
}

test_no_budget_passes if {
	cost.violation == set() with input as t.pod({"requested": 8, "declared": true})
}
