package tollgate.quota.gpu_test

import data.tollgate.quota.gpu
import data.tollgate.quota.lib_test as t

_state(used, requested, limit) := {
	"requested": requested, "used": used, "limit": limit, "declared": true,
	"source": "ResourceQuota gpu-quota, requests.nvidia.com/gpu",
}

test_fits_passes if {
	gpu.violation == set() with input as t.pod(_state(15, 1, 16))
}

# Seven 1g slices of one GPU use exactly one GPU.
test_mig_fractions_add_up_exactly if {
	gpu.violation == set() with input as t.pod(_state(6 / 7, 1 / 7, 1))
}

test_over_quota_fails if {
	gpu.violation == {{"msg": `GPU quota of namespace "tenant-a" exceeded: 15.43 GPUs in use + 1 requested = 16.43, over the limit of 16 (ResourceQuota gpu-quota, requests.nvidia.com/gpu); MIG slices count as their fraction of a GPU`}} with input as t.pod(_state(15 + (3 / 7), 1, 16))
}

test_mig_slice_over_annotation_quota_fails if {
	state := object.union(_state(2, 3 / 7, 2), {"source": "namespace annotation tollgate.dev/gpu-quota"})
	gpu.violation == {{"msg": `GPU quota of namespace "tenant-a" exceeded: 2 GPUs in use + 0.43 requested = 2.43, over the limit of 2 (namespace annotation tollgate.dev/gpu-quota); MIG slices count as their fraction of a GPU`}} with input as t.pod(state)
}

test_no_limit_passes if {
	gpu.violation == set() with input as t.pod({"requested": 8, "declared": false})
}

test_update_is_not_judged if {
	gpu.violation == set() with input as t.update(_state(16, 1, 16))
}
