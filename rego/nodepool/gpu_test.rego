package tollgate.nodepool.gpu_test

import data.tollgate.nodepool.gpu
import data.tollgate.nodepool.lib_test as t

test_tainted_bounded_pool_passes if {
	gpu.violation == set() with input as t.good_gpu_pool({}, [t.types(["p5.48xlarge"])])
}

test_cpu_pool_passes if {
	gpu.violation == set() with input as t.pool(t.template({}, [t.types(["m7i.large", "c7i.xlarge"])], []))
}

test_untainted_unbounded_gpu_pool_fails if {
	gpu.violation == {
		{
			"msg": "GPU NodePool (instance types g5.xlarge, p4d.24xlarge; karpenter.k8s.aws/instance-gpu-count Gt 0) has no nvidia.com/gpu:NoSchedule taint: pods that request no GPU can be scheduled onto its GPU nodes and hold them; add the taint to spec.template.spec.taints",
			"path": "spec.template.spec.taints",
		},
		{
			"msg": `GPU NodePool (instance types g5.xlarge, p4d.24xlarge; karpenter.k8s.aws/instance-gpu-count Gt 0) sets no limit on nvidia.com/gpu: nothing bounds how many GPUs it launches; set spec.limits["nvidia.com/gpu"]`,
			"path": "spec.limits",
		},
	} with input as t.pool(t.template({}, [t.types(["g5.xlarge", "p4d.24xlarge"]), t.gpu_count_gt("0")], []))
}

test_no_execute_taint_is_not_the_gpu_taint if {
	taint := {"key": "nvidia.com/gpu", "effect": "NoExecute"}
	count(gpu.violation) == 1 with input as t.pool(object.union(t.template({}, [t.gpu_count_gt("0")], [taint]), t.gpu_limits))
}

test_static_pool_needs_no_limit if {
	spec := object.union(t.template({}, [t.families(["p5"])], [t.gpu_taint]), {"replicas": 2})
	gpu.violation == set() with input as t.pool(spec)
}

test_other_limits_do_not_bound_gpus if {
	spec := object.union(t.template({}, [t.families(["g6e"])], [t.gpu_taint]), {"limits": {"cpu": 1000}})
	gpu.violation == {{
		"msg": `GPU NodePool (instance families g6e) sets no limit on nvidia.com/gpu: nothing bounds how many GPUs it launches; set spec.limits["nvidia.com/gpu"]`,
		"path": "spec.limits",
	}} with input as t.pool(spec)
}

# An EKS Auto Mode GPU pool (eks.amazonaws.com labels, the built-in
# NodeClass) with no GPU taint and no limits is reported like a
# self-managed one.
test_auto_mode_gpu_pool_is_judged_alike if {
	gpu.violation == {
		{
			"msg": "GPU NodePool (eks.amazonaws.com/instance-gpu-count Gt 0; instance families g5, g6e) has no nvidia.com/gpu:NoSchedule taint: pods that request no GPU can be scheduled onto its GPU nodes and hold them; add the taint to spec.template.spec.taints",
			"path": "spec.template.spec.taints",
		},
		{
			"msg": `GPU NodePool (eks.amazonaws.com/instance-gpu-count Gt 0; instance families g5, g6e) sets no limit on nvidia.com/gpu: nothing bounds how many GPUs it launches; set spec.limits["nvidia.com/gpu"]`,
			"path": "spec.limits",
		},
	} with input as t.pool(t.auto_template({}, [t.auto_families(["g5", "g6e"]), t.auto_gpu_count_gt("0")], []))
	gpu.violation == set() with input as t.pool(object.union(t.auto_template({}, [t.auto_families(["g5", "g6e"])], [t.gpu_taint]), t.gpu_limits))
}
