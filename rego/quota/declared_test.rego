package tollgate.quota.declared_test

import data.tollgate.quota.declared
import data.tollgate.quota.lib_test as t

test_declared_passes if {
	declared.violation == set() with input as t.pod({"requested": 1, "declared": true, "limit": 4, "used": 0, "source": "ResourceQuota gpu-quota, requests.nvidia.com/gpu"})
}

test_no_gpu_pod_no_state_passes if {
	doc := object.remove(t.pod({}), ["state"])
	declared.violation == set() with input as doc
}

test_undeclared_fails if {
	declared.violation == {{"msg": `namespace "tenant-a" runs GPU pods but declares no GPU limit: add a ResourceQuota on requests.nvidia.com/gpu or the namespace annotation tollgate.dev/gpu-quota`}} with input as t.pod({"requested": 1, "declared": false})
}

test_invalid_annotation_is_reported if {
	state := {"requested": 1, "declared": false, "problems": [`annotation tollgate.dev/gpu-quota "lots" is not a number of GPUs`]}
	declared.violation == {
		{"msg": `namespace "tenant-a" runs GPU pods but declares no GPU limit: add a ResourceQuota on requests.nvidia.com/gpu or the namespace annotation tollgate.dev/gpu-quota`},
		{"msg": `namespace "tenant-a": annotation tollgate.dev/gpu-quota "lots" is not a number of GPUs`},
	} with input as t.pod(state)
}

test_update_is_not_judged if {
	declared.violation == set() with input as t.update({"requested": 1, "declared": false})
}
