package tollgate.drift.mig_test

import data.tollgate.drift.lib_test as t
import data.tollgate.drift.mig

test_mixed_strategy_rewrite_is_reported if {
	ops := [
		t.op("add", "/spec/containers/0/resources/limits/nvidia.com~1mig-3g.40gb", `spec.containers[0].resources.limits["nvidia.com/mig-3g.40gb"]`, "1"),
		t.remove("/spec/containers/0/resources/limits/nvidia.com~1gpu", `spec.containers[0].resources.limits["nvidia.com/gpu"]`),
	]
	mig.violation == {{
		"msg": `is not on the MIG slice its tollgate.dev/mig-profile names; the mig mutator would change it today (container "app": add resources.limits["nvidia.com/mig-3g.40gb"]: 1; container "app": remove resources.limits["nvidia.com/gpu"])`,
		"path": `spec.containers[0].resources.limits["nvidia.com/mig-3g.40gb"]`,
	}} with input as t.input_of(ops)
}

test_single_strategy_node_selection_is_reported if {
	ops := [t.op("add", "/spec/nodeSelector", "spec.nodeSelector", {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3-MIG-3g.40gb"})]
	count(mig.violation) == 1 with input as t.input_of(ops)
	ops2 := [t.op("add", "/spec/affinity", "spec.affinity", {"nodeAffinity": {}})]
	count(mig.violation) == 1 with input as t.input_of(ops2)
}

test_env_is_not if {
	ops := [t.op("add", "/spec/containers/0/env", "spec.containers[0].env", [])]
	mig.violation == set() with input as t.input_of(ops)
}
