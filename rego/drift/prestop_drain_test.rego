package tollgate.drift.prestop_drain_test

import data.tollgate.drift.lib_test as t
import data.tollgate.drift.prestop_drain

test_missing_drain_is_reported if {
	ops := [
		t.op("add", "/spec/containers/0/lifecycle", "spec.containers[0].lifecycle", {"preStop": {"sleep": {"seconds": 30}}}),
		t.op("replace", "/spec/terminationGracePeriodSeconds", "spec.terminationGracePeriodSeconds", 90),
	]
	prestop_drain.violation == {{
		"msg": `can run on Spot capacity but lacks the drain the prestop-drain mutator adds today (container "app": add lifecycle: preStop sleep 30s; replace terminationGracePeriodSeconds: 90)`,
		"path": "spec.containers[0].lifecycle",
	}} with input as t.input_of(ops)
}

test_exec_drain_into_existing_lifecycle if {
	ops := [t.op("add", "/spec/containers/0/lifecycle/preStop", "spec.containers[0].lifecycle.preStop", {"exec": {"command": ["sleep", "30"]}})]
	prestop_drain.violation == {{
		"msg": `can run on Spot capacity but lacks the drain the prestop-drain mutator adds today (container "app": add lifecycle.preStop: exec sleep 30)`,
		"path": "spec.containers[0].lifecycle.preStop",
	}} with input as t.input_of(ops)
}

test_init_container_lifecycle_is_not_a_drain if {
	ops := [t.op("add", "/spec/initContainers/0/lifecycle", "spec.initContainers[0].lifecycle", {})]
	prestop_drain.violation == set() with input as t.input_of(ops)
}
