# Test helpers for the quota policies, and tests of tollgate.quota.lib.
package tollgate.quota.lib_test

import data.tollgate.quota.lib

# pod is the input document of a GPU pod being created in namespace
# "tenant-a" with the given quota state.
pod(quota) := {
	"kind": {"group": "", "version": "v1", "kind": "Pod"},
	"request": {"operation": "CREATE", "userInfo": {"username": "dev", "groups": []}},
	"namespace": {"name": "tenant-a", "labels": {}, "annotations": {}},
	"pod": {"metadata": {"name": "p"}, "spec": {}, "containers": [], "containerPaths": []},
	"state": {"quota": quota},
}

update(quota) := object.union(pod(quota), {"request": {"operation": "UPDATE"}})

test_gpus_shows_whole_and_fractional if {
	lib.gpus(16) == "16"
	lib.gpus(3 / 7) == "0.43"
	lib.gpus(2.5) == "2.50"
}

test_dollars if {
	lib.dollars(12.288) == "$12.29"
	lib.dollars(50) == "$50.00"
	lib.dollars(0) == "$0.00"
	lib.dollars(0.5) == "$0.50"
}

test_gpus_noun if {
	lib.gpus_noun(1) == "1 GPU"
	lib.gpus_noun(2) == "2 GPUs"
	lib.gpus_noun(3 / 7) == "0.43 GPUs"
}

test_quota_only_on_create if {
	lib.quota == {"requested": 1} with input as pod({"requested": 1})
	not lib.quota with input as update({"requested": 1})
}
