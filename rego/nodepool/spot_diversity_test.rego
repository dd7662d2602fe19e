package tollgate.nodepool.spot_diversity_test

import data.tollgate.nodepool.lib_test as t
import data.tollgate.nodepool.spot_diversity

_spot(rs) := t.good_gpu_pool({}, array.concat([t.capacity(["spot", "on-demand"])], rs))

test_three_types_pass if {
	spot_diversity.violation == set() with input as _spot([t.types(["p4d.24xlarge", "p5.48xlarge", "g5.48xlarge"])])
}

test_two_types_fail if {
	spot_diversity.violation == {{
		"msg": "Spot NodePool allows only 2 instance types (g5.48xlarge, p4d.24xlarge): when their Spot capacity runs out the pool cannot scale; allow at least 3 instance types or families",
		"path": "spec.template.spec.requirements[1]",
	}} with input as _spot([t.types(["p4d.24xlarge", "g5.48xlarge"])])
}

test_on_demand_pool_with_one_type_passes if {
	spot_diversity.violation == set() with input as t.good_gpu_pool({}, [t.types(["p5.48xlarge"])])
}

test_types_excluded_by_other_requirements_do_not_count if {
	spot_diversity.violation == {{
		"msg": "Spot NodePool allows only 1 instance type (g5.12xlarge): when their Spot capacity runs out the pool cannot scale; allow at least 3 instance types or families",
		"path": "spec.template.spec.requirements[1]",
	}} with input as _spot([t.types(["g5.xlarge", "g5.2xlarge", "g5.12xlarge"]), t.gpu_count_gt("1")])
}

test_families_count_their_instance_types if {
	spot_diversity.violation == set() with input as _spot([t.families(["g5"])])
	spot_diversity.violation == {{
		"msg": "Spot NodePool allows only 1 instance type (p4d.24xlarge): when their Spot capacity runs out the pool cannot scale; allow at least 3 instance types or families",
		"path": "spec.template.spec.requirements[1]",
	}} with input as _spot([t.families(["p4d"])])
}

test_open_or_unknown_families_pass if {
	spot_diversity.violation == set() with input as _spot([t.gpu_count_gt("0")])
	spot_diversity.violation == set() with input as _spot([t.families(["g6f"])])
}

test_minimum_is_a_parameter if {
	spot_diversity.violation == set() with input as _spot([t.types(["p4d.24xlarge", "g5.48xlarge"])]) with data.tollgate.params.nodepool.spotMinInstanceTypes as 2
}

test_auto_mode_spot_pool if {
	pool := t.good_auto_gpu_pool({}, [t.capacity(["spot"]), t.types(["g5.xlarge", "g5.2xlarge", "g5.12xlarge"]), t.auto_gpu_count_gt("1")])
	spot_diversity.violation == {{
		"msg": "Spot NodePool allows only 1 instance type (g5.12xlarge): when their Spot capacity runs out the pool cannot scale; allow at least 3 instance types or families",
		"path": "spec.template.spec.requirements[1]",
	}} with input as pool
	spot_diversity.violation == {{
		"msg": "Spot NodePool allows only 1 instance type (p4d.24xlarge): when their Spot capacity runs out the pool cannot scale; allow at least 3 instance types or families",
		"path": "spec.template.spec.requirements[1]",
	}} with input as t.good_auto_gpu_pool({}, [t.capacity(["spot"]), t.auto_families(["p4d"])])
	spot_diversity.violation == set() with input as t.good_auto_gpu_pool({}, [t.capacity(["spot"]), t.auto_families(["g5"])])
}
