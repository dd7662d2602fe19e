package tollgate.gpu.mig_profile_test

import data.tollgate.gpu.mig_profile

gpu_container := {"name": "vllm", "resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}}

cpu_container := {"name": "proxy", "resources": {"limits": {"cpu": "1"}}}

# review builds the input document for a pod with the given annotations,
# spec additions (containers default to one GPU container), namespace
# annotations and NodePools.
review(annotations, spec, ns_annotations, nodepools) := {
	"pod": {
		"metadata": {"name": "p", "annotations": annotations},
		"spec": object.union({"containers": [gpu_container]}, spec),
		"containers": object.get(spec, "containers", [gpu_container]),
		"containerPaths": [sprintf("spec.containers[%d]", [i]) | some i, _ in object.get(spec, "containers", [gpu_container])],
	},
	"namespace": {"name": "tenant-a", "labels": {}, "annotations": ns_annotations},
	"state": {"nodepools": nodepools},
}

profile(p) := {"tollgate.dev/mig-profile": p}

nodepool(name, requirements) := {
	"apiVersion": "karpenter.sh/v1",
	"kind": "NodePool",
	"metadata": {"name": name},
	"spec": {"template": {"spec": {"requirements": requirements}}},
}

instance_types(op, values) := {"key": "node.kubernetes.io/instance-type", "operator": op, "values": values}

a100_40 := "1g.5gb, 1g.10gb, 2g.10gb, 3g.20gb, 4g.20gb, 7g.40gb"

test_no_profile_passes if {
	mig_profile.violation == set() with input as review({}, {}, {}, [])
}

test_no_gpu_request_passes if {
	mig_profile.violation == set() with input as review(profile("3g.41gb"), {"containers": [cpu_container]}, {}, [])
}

test_valid_profile_any_gpu_passes if {
	mig_profile.violation == set() with input as review(profile("3g.40gb"), {}, {}, [])
}

test_mig_slice_already_requested_passes if {
	c := {"name": "vllm", "resources": {"limits": {"nvidia.com/mig-3g.40gb": "1"}}}
	mig_profile.violation == set() with input as review(profile("3g.41gb"), {"containers": [c]}, {}, [])
}

test_unknown_profile if {
	mig_profile.violation == {{
		"msg": concat("", [
			`MIG profile "3g.41gb" (pod annotation tollgate.dev/mig-profile) is not a MIG profile of any GPU Tollgate knows; valid profiles: `,
			"1g.5gb, 1g.6gb, 1g.10gb, 1g.12gb, 1g.18gb, 1g.20gb, 1g.23gb, 1g.24gb, 1g.35gb, 1g.45gb, ",
			"2g.10gb, 2g.12gb, 2g.20gb, 2g.24gb, 2g.35gb, 2g.45gb, 3g.20gb, 3g.40gb, 3g.47gb, 3g.71gb, 3g.90gb, ",
			"4g.20gb, 4g.24gb, 4g.40gb, 4g.47gb, 4g.71gb, 4g.90gb, 7g.40gb, 7g.80gb, 7g.94gb, 7g.141gb, 7g.180gb",
		]),
		"path": "spec.containers[0].resources",
	}} with input as review(profile("3g.41gb"), {}, {}, [])
}

test_profile_not_on_selected_instance_type if {
	spec := {"nodeSelector": {"node.kubernetes.io/instance-type": "p4d.24xlarge"}}
	mig_profile.violation == {{
		"msg": sprintf(`MIG profile "3g.40gb" (pod annotation tollgate.dev/mig-profile) is not offered by the GPUs the pod can run on (A100-40GB); valid profiles: %s`, [a100_40]),
		"path": "spec.containers[0].resources",
	}} with input as review(profile("3g.40gb"), spec, {}, [])
}

test_namespace_default_and_path_of_first_gpu_container if {
	spec := {
		"nodeSelector": {"karpenter.k8s.aws/instance-family": "p4d"},
		"containers": [cpu_container, gpu_container],
	}
	mig_profile.violation == {{
		"msg": sprintf(`MIG profile "3g.40gb" (annotation tollgate.dev/mig-profile of namespace tenant-a) is not offered by the GPUs the pod can run on (A100-40GB); valid profiles: %s`, [a100_40]),
		"path": "spec.containers[1].resources",
	}} with input as review({}, spec, profile("3g.40gb"), [])
}

test_pod_annotation_wins_over_namespace if {
	spec := {"nodeSelector": {"node.kubernetes.io/instance-type": "p4d.24xlarge"}}
	mig_profile.violation == set() with input as review(profile("3g.20gb"), spec, profile("3g.40gb"), [])
}

test_nodepool_offering_profile_passes if {
	spec := {"nodeSelector": {"karpenter.sh/nodepool": "gpu-mig-pool"}}
	pools := [nodepool("gpu-mig-pool", [instance_types("In", ["p4de.24xlarge"])])]
	mig_profile.violation == set() with input as review(profile("3g.40gb"), spec, {}, pools)
}

test_nodepool_without_mig if {
	spec := {"nodeSelector": {"karpenter.sh/nodepool": "gpu-inference"}}
	pools := [
		nodepool("gpu-inference", [{"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5", "g6"]}]),
		nodepool("gpu-mig-pool", [instance_types("In", ["p4de.24xlarge"])]),
	]
	mig_profile.violation == {{
		"msg": `MIG profile "3g.40gb" (pod annotation tollgate.dev/mig-profile) is not offered by the GPUs the pod can run on (A10G, L4); valid profiles: none`,
		"path": "spec.containers[0].resources",
	}} with input as review(profile("3g.40gb"), spec, {}, pools)
}

test_nodepool_not_in_state_does_not_narrow if {
	spec := {"nodeSelector": {"karpenter.sh/nodepool": "elsewhere"}}
	pools := [nodepool("gpu-inference", [instance_types("In", ["g5.xlarge"])])]
	mig_profile.violation == set() with input as review(profile("3g.40gb"), spec, {}, pools)
}

test_affinity_terms_are_ored if {
	term := {"matchExpressions": [instance_types("In", ["p4d.24xlarge", "p5e.48xlarge"])]}
	spec := {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}}
	mig_profile.violation == {{
		"msg": concat("", [
			`MIG profile "3g.40gb" (pod annotation tollgate.dev/mig-profile) is not offered by the GPUs the pod can run on (A100-40GB, H200); valid profiles: `,
			"1g.5gb, 1g.10gb, 1g.18gb, 1g.35gb, 2g.10gb, 2g.35gb, 3g.20gb, 3g.71gb, 4g.20gb, 4g.71gb, 7g.40gb, 7g.141gb",
		]),
		"path": "spec.containers[0].resources",
	}} with input as review(profile("3g.40gb"), spec, {}, [])

	other := {"matchExpressions": [instance_types("In", ["p5.48xlarge"])]}
	two := {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term, other]}}}}
	mig_profile.violation == set() with input as review(profile("3g.40gb"), two, {}, [])
}

test_not_in_narrows if {
	spec := {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
		{"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["p4d", "p4de"]},
		instance_types("NotIn", ["p4de.24xlarge"]),
	]}]}}}}
	count(mig_profile.violation) == 1 with input as review(profile("3g.40gb"), spec, {}, [])
}

test_unknown_instance_type_does_not_narrow if {
	spec := {"nodeSelector": {"node.kubernetes.io/instance-type": "p9.96xlarge"}}
	mig_profile.violation == set() with input as review(profile("3g.40gb"), spec, {}, [])
}

test_no_state_nodepools if {
	spec := {"nodeSelector": {"karpenter.sh/nodepool": "gpu-mig-pool"}}
	doc := object.remove(review(profile("3g.40gb"), spec, {}, []), ["state"])
	mig_profile.violation == set() with input as doc
}

_mig_pod(profile) := {
	"pod": {
		"metadata": {},
		"spec": {},
		"containers": [{"name": "vllm", "resources": {"limits": {sprintf("nvidia.com/mig-%s", [profile]): 1}}}],
		"containerPaths": ["spec.containers[0]"],
	},
	"namespace": {"name": "ns", "annotations": {}},
	"state": {"placement": {"known": true, "fits": true, "gpusKnown": true, "gpus": ["A100-40GB"]}},
}

test_direct_mig_request_not_offered_by_the_placement if {
	mig_profile.violation == {{
		"msg": `nvidia.com/mig-3g.40gb: MIG profile "3g.40gb" is not offered by the GPUs of the NodePools and Nodes that can host the pod (A100-40GB); they offer: 1g.5gb, 1g.10gb, 2g.10gb, 3g.20gb, 4g.20gb, 7g.40gb`,
		"path": "spec.containers[0].resources",
	}} with input as _mig_pod("3g.40gb")
}

test_direct_mig_request_offered if {
	count(mig_profile.violation) == 0 with input as _mig_pod("3g.20gb")
}

test_direct_mig_request_without_narrowing_is_not_judged if {
	count(mig_profile.violation) == 0 with input as json.remove(_mig_pod("3g.40gb"), ["state/placement"])
}

test_placement_with_unknown_gpus_does_not_narrow if {
	p := {"known": true, "fits": true, "gpusKnown": false, "gpus": []}
	count(mig_profile.violation) == 0 with input as object.union(_mig_pod("3g.40gb"), {"state": {"placement": p}})
}
