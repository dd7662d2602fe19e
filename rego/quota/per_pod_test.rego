package tollgate.quota.per_pod_test

import data.tollgate.quota.lib_test as t
import data.tollgate.quota.per_pod

test_at_maximum_passes if {
	per_pod.violation == set() with input as t.pod({"requested": 8, "declared": true})
}

test_over_maximum_fails if {
	per_pod.violation == {{"msg": "pod requests 16 GPUs, more than the per-pod maximum of 8", "path": "spec.containers"}} with input as t.pod({"requested": 16, "declared": true})
}

test_maximum_is_a_parameter if {
	count(per_pod.violation) == 1 with input as t.pod({"requested": 2.5}) with data.tollgate.params.quota.maxGPUsPerPod as 2
	per_pod.violation == set() with input as t.pod({"requested": 64}) with data.tollgate.params.quota.maxGPUsPerPod as 0
}
