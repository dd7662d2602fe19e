package tollgate.gpu.mixed_resources_test

import data.tollgate.gpu.mixed_resources

review(containers) := {"pod": {
	"metadata": {"name": "p"},
	"spec": {"containers": containers},
	"containers": containers,
	"containerPaths": [sprintf("spec.containers[%d]", [i]) | some i, _ in containers],
}}

container(name, requests, limits) := {"name": name, "resources": {"requests": requests, "limits": limits}}

test_gpu_only_passes if {
	mixed_resources.violation == set() with input as review([container("a", {"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "1"})])
}

test_mig_only_passes if {
	mixed_resources.violation == set() with input as review([container("a", {}, {"nvidia.com/mig-1g.10gb": "2"})])
}

test_different_containers_pass if {
	mixed_resources.violation == set() with input as review([
		container("a", {}, {"nvidia.com/gpu": "1"}),
		container("b", {}, {"nvidia.com/mig-1g.10gb": "1"}),
	])
}

test_no_resources_passes if {
	mixed_resources.violation == set() with input as review([{"name": "a"}])
}

test_both_in_limits if {
	mixed_resources.violation == {{
		"msg": `container "a" requests both nvidia.com/gpu and nvidia.com/mig-1g.10gb; a container gets whole GPUs or MIG slices, not both`,
		"path": "spec.containers[0].resources",
	}} with input as review([container("a", {}, {"nvidia.com/gpu": "1", "nvidia.com/mig-1g.10gb": "1"})])
}

test_across_requests_and_limits_each_container_reported if {
	mixed_resources.violation == {
		{
			"msg": `container "a" requests both nvidia.com/gpu and nvidia.com/mig-2g.20gb, nvidia.com/mig-3g.40gb; a container gets whole GPUs or MIG slices, not both`,
			"path": "spec.containers[0].resources",
		},
		{
			"msg": `container "c" requests both nvidia.com/gpu and nvidia.com/mig-1g.10gb; a container gets whole GPUs or MIG slices, not both`,
			"path": "spec.containers[2].resources",
		},
	} with input as review([
		container("a", {"nvidia.com/gpu": "1", "nvidia.com/mig-3g.40gb": "1"}, {"nvidia.com/mig-2g.20gb": "1"}),
		container("b", {"cpu": "1"}, {}),
		container("c", {"nvidia.com/mig-1g.10gb": "1"}, {"nvidia.com/gpu": "1"}),
	])
}
