package tollgate.nodepool.mig_test

import data.tollgate.nodepool.lib_test as t
import data.tollgate.nodepool.mig

_mig := {"mig-enabled": "true"}

test_mig_capable_types_pass if {
	mig.violation == set() with input as t.good_gpu_pool(_mig, [t.types(["p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge"])])
	mig.violation == set() with input as t.good_gpu_pool(_mig, [t.families(["p5", "p5en"])])
}

test_non_mig_types_fail if {
	mig.violation == {{
		"msg": "MIG NodePool lists instance types whose GPUs cannot be partitioned with MIG: g5.48xlarge (A10G), m5.large (no GPU); MIG needs the GPUs of p4d, p4de, p5, p5e, p5en, p6-b200",
		"path": "spec.template.spec.requirements[0]",
	}} with input as t.good_gpu_pool(_mig, [t.types(["p4de.24xlarge", "g5.48xlarge", "m5.large"])])
}

test_unknown_types_are_not_judged if {
	mig.violation == set() with input as t.good_gpu_pool(_mig, [t.types(["p6e-gb200.36xlarge"])])
}

test_non_mig_families_fail if {
	mig.violation == {{
		"msg": "MIG NodePool lists instance families whose GPUs cannot be partitioned with MIG: g6 (L4), g6e (L40S); MIG needs the GPUs of p4d, p4de, p5, p5e, p5en, p6-b200",
		"path": "spec.template.spec.requirements[0]",
	}} with input as t.good_gpu_pool(_mig, [t.families(["g6", "g6e", "p5"])])
}

test_open_mig_pool_fails if {
	mig.violation == {{
		"msg": "MIG NodePool does not restrict its instance types: Karpenter can launch GPUs without MIG (A10G, L4, L40S, T4, T4G, V100-16GB, V100-32GB) or CPU instances; list MIG-capable instance types or families (p4d, p4de, p5, p5e, p5en, p6-b200)",
		"path": "spec.template.spec.requirements",
	}} with input as t.good_gpu_pool(_mig, [t.gpu_count_gt("0")])
}

test_gpu_names if {
	names := t.req("karpenter.k8s.aws/instance-gpu-name", "In", ["a100", "h100"])
	mig.violation == set() with input as t.good_gpu_pool(_mig, [names])
	bad := t.req("karpenter.k8s.aws/instance-gpu-name", "In", ["a10g", "h100"])
	mig.violation == {{
		"msg": "MIG NodePool requires GPU names without MIG: a10g",
		"path": "spec.template.spec.requirements[0]",
	}} with input as t.good_gpu_pool(_mig, [bad])
}

# The seed document's MIG pool asks for 3g.40gb on p4d.24xlarge, whose A100
# 40GB offers 3g.20gb; with the configuration label, Tollgate says so.
test_mig_config_profile_must_exist if {
	labels := {"nvidia.com/mig.config": "all-3g.40gb"}
	mig.violation == {{
		"msg": "MIG configuration nvidia.com/mig.config=all-3g.40gb needs the profile 3g.40gb, which these instance types' GPUs do not offer: p4d.24xlarge (A100-40GB: 1g.5gb, 1g.10gb, 2g.10gb, 3g.20gb, 4g.20gb, 7g.40gb)",
		"path": "spec.template.metadata.labels",
	}} with input as t.good_gpu_pool(labels, [t.types(["p4d.24xlarge", "p4de.24xlarge"])])
	mig.violation == set() with input as t.good_gpu_pool(labels, [t.types(["p4de.24xlarge", "p5.48xlarge"])])
	mig.violation == set() with input as t.good_gpu_pool({"nvidia.com/mig.config": "all-balanced"}, [t.types(["p4d.24xlarge"])])
}

test_non_mig_pools_are_not_judged if {
	mig.violation == set() with input as t.good_gpu_pool({}, [t.types(["g5.48xlarge"])])
}

test_auto_mode_mig_pool if {
	mig.violation == {{
		"msg": "MIG NodePool lists instance families whose GPUs cannot be partitioned with MIG: g6e (L40S); MIG needs the GPUs of p4d, p4de, p5, p5e, p5en, p6-b200",
		"path": "spec.template.spec.requirements[0]",
	}} with input as t.good_auto_gpu_pool(_mig, [t.auto_families(["g6e", "p5"])])
	mig.violation == {{
		"msg": "MIG NodePool requires GPU names without MIG: l4",
		"path": "spec.template.spec.requirements[0]",
	}} with input as t.good_auto_gpu_pool(_mig, [t.req("eks.amazonaws.com/instance-gpu-name", "In", ["l4", "h100"])])
	mig.violation == set() with input as t.good_auto_gpu_pool(_mig, [t.auto_families(["p5", "p4de"])])
	count(mig.violation) == 1 with input as t.good_auto_gpu_pool({"nvidia.com/mig.config": "all-3g.40gb"}, [t.auto_families(["p4d"])])
}
