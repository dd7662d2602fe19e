package tollgate.drift.gpu_tolerations_test

import data.tollgate.drift.gpu_tolerations
import data.tollgate.drift.lib_test as t

test_missing_toleration_is_reported if {
	ops := [t.op("add", "/spec/tolerations", "spec.tolerations", [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])]
	gpu_tolerations.violation == {{
		"msg": "lacks the tolerations the gpu-tolerations mutator gives accelerator pods today (add tolerations: nvidia.com/gpu:NoSchedule)",
		"path": "spec.tolerations",
	}} with input as t.input_of(ops)
}

test_appended_toleration_is_reported if {
	ops := [t.op("add", "/spec/tolerations/1", "spec.tolerations[1]", {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})]
	count(gpu_tolerations.violation) == 1 with input as t.input_of(ops)
}

test_other_changes_are_not if {
	ops := [t.op("add", "/spec/volumes", "spec.volumes", [{"name": "v"}])]
	gpu_tolerations.violation == set() with input as t.input_of(ops)
}

test_admission_input_reports_nothing if {
	gpu_tolerations.violation == set() with input as {"pod": {"spec": {}}}
}
