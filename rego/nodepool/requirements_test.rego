package tollgate.nodepool.requirements_test

import data.tollgate.nodepool.lib_test as t
import data.tollgate.nodepool.requirements

_reqs(rs) := t.good_gpu_pool({}, rs)

test_satisfiable_requirements_pass if {
	requirements.violation == set() with input as _reqs([
		t.req("kubernetes.io/arch", "In", ["amd64"]),
		t.capacity(["on-demand", "spot"]),
		t.types(["p4d.24xlarge", "p5.48xlarge", "g5.48xlarge"]),
		t.gpu_count_gt("0"),
	])
	requirements.violation == set() with input as _reqs([t.families(["g5", "g6"]), t.gpu_count_gt("0"), t.req("karpenter.k8s.aws/instance-gpu-count", "Lt", ["8"])])
}

test_disjoint_in_sets_fail if {
	requirements.violation == {{
		"msg": "requirements on node.kubernetes.io/instance-type can never match: no value satisfies In [p4d.24xlarge] and In [g5.xlarge]",
		"path": "spec.template.spec.requirements[0]",
	}} with input as _reqs([t.types(["p4d.24xlarge"]), t.types(["g5.xlarge"])])
}

test_not_in_removing_every_value_fails if {
	requirements.violation == {{
		"msg": "requirements on topology.kubernetes.io/zone can never match: no value satisfies In [us-east-1a] and NotIn [us-east-1a, us-east-1b]",
		"path": "spec.template.spec.requirements[0]",
	}} with input as _reqs([t.req("topology.kubernetes.io/zone", "In", ["us-east-1a"]), t.req("topology.kubernetes.io/zone", "NotIn", ["us-east-1a", "us-east-1b"])])
}

test_does_not_exist_with_a_requirement_on_the_label_fails if {
	requirements.violation == {{
		"msg": "requirements on example.com/team can never match: DoesNotExist contradicts Exists",
		"path": "spec.template.spec.requirements[0]",
	}} with input as _reqs([t.req("example.com/team", "DoesNotExist", []), t.req("example.com/team", "Exists", [])])
}

test_empty_numeric_range_fails if {
	requirements.violation == {{
		"msg": "requirements on karpenter.k8s.aws/instance-gpu-count can never match: no integer satisfies Gt 4 and Lt 5",
		"path": "spec.template.spec.requirements[0]",
	}} with input as _reqs([t.gpu_count_gt("4"), t.req("karpenter.k8s.aws/instance-gpu-count", "Lt", ["5"])])
	requirements.violation == set() with input as _reqs([t.gpu_count_gt("4"), t.req("karpenter.k8s.aws/instance-gpu-count", "Lte", ["5"])])
}

test_unknown_capacity_type_fails if {
	requirements.violation == {{
		"msg": "requirements on karpenter.sh/capacity-type can never match: In [Spot] names no capacity type Karpenter offers (on-demand, reserved, spot)",
		"path": "spec.template.spec.requirements[0]",
	}} with input as _reqs([t.capacity(["Spot"])])
}

test_gpu_count_with_cpu_instance_types_fails if {
	requirements.violation == {{
		"msg": "no listed instance type satisfies the other requirements: c5.xlarge (karpenter.k8s.aws/instance-gpu-count is none; required Gt 0), m5.large (karpenter.k8s.aws/instance-gpu-count is none; required Gt 0)",
		"path": "spec.template.spec.requirements[0]",
	}} with input as _reqs([t.types(["m5.large", "c5.xlarge"]), t.gpu_count_gt("0")])
}

test_types_outside_the_listed_families_fail if {
	requirements.violation == {{
		"msg": "no listed instance type satisfies the other requirements: g5.xlarge (karpenter.k8s.aws/instance-family is g5; required In [p5, p5en])",
		"path": "spec.template.spec.requirements[0]",
	}} with input as _reqs([t.types(["g5.xlarge"]), t.families(["p5", "p5en"])])
}

test_one_matching_type_is_enough if {
	requirements.violation == set() with input as _reqs([t.types(["m5.large", "g6.xlarge"]), t.gpu_count_gt("0")])
}

test_unknown_gpu_types_are_assumed_to_match if {
	requirements.violation == set() with input as _reqs([t.types(["g6f.xlarge"]), t.gpu_count_gt("0")])
}

test_families_without_matching_instances_fail if {
	requirements.violation == {{
		"msg": "no instance of the listed families satisfies the other requirements: c7i (karpenter.k8s.aws/instance-gpu-count is none; required Gt 0), m7i (karpenter.k8s.aws/instance-gpu-count is none; required Gt 0)",
		"path": "spec.template.spec.requirements[0]",
	}} with input as _reqs([t.families(["m7i", "c7i"]), t.gpu_count_gt("0")])
	requirements.violation == {{
		"msg": "no instance of the listed families satisfies the other requirements: g5 (karpenter.k8s.aws/instance-gpu-count is 1; required Gt 8)",
		"path": "spec.template.spec.requirements[0]",
	}} with input as _reqs([t.families(["g5"]), t.gpu_count_gt("8")])
}

test_gpu_name_excluding_every_type_fails if {
	requirements.violation == {{
		"msg": "no listed instance type satisfies the other requirements: p4d.24xlarge (karpenter.k8s.aws/instance-gpu-name is a100; required In [h100])",
		"path": "spec.template.spec.requirements[0]",
	}} with input as _reqs([t.types(["p4d.24xlarge"]), t.req("karpenter.k8s.aws/instance-gpu-name", "In", ["h100"])])
}

# EKS Auto Mode's keys are judged like Karpenter's, and messages name them
# as written.
test_auto_mode_requirements if {
	requirements.violation == {{
		"msg": "no listed instance type satisfies the other requirements: c5.xlarge (eks.amazonaws.com/instance-gpu-count is none; required Gt 0), m5.large (eks.amazonaws.com/instance-gpu-count is none; required Gt 0)",
		"path": "spec.template.spec.requirements[0]",
	}} with input as t.good_auto_gpu_pool({}, [t.types(["m5.large", "c5.xlarge"]), t.auto_gpu_count_gt("0")])
	requirements.violation == {{
		"msg": "requirements on eks.amazonaws.com/instance-gpu-count can never match: no integer satisfies Gt 4 and Lt 5",
		"path": "spec.template.spec.requirements[0]",
	}} with input as t.good_auto_gpu_pool({}, [t.auto_gpu_count_gt("4"), t.req("eks.amazonaws.com/instance-gpu-count", "Lt", ["5"])])
	requirements.violation == {{
		"msg": "no instance of the listed families satisfies the other requirements: g5 (eks.amazonaws.com/instance-gpu-count is 1; required Gt 8)",
		"path": "spec.template.spec.requirements[0]",
	}} with input as t.good_auto_gpu_pool({}, [t.auto_families(["g5"]), t.auto_gpu_count_gt("8")])
	requirements.violation == {{
		"msg": "requirements on eks.amazonaws.com/instance-local-nvme can never match: DoesNotExist contradicts Exists",
		"path": "spec.template.spec.requirements[0]",
	}} with input as t.good_auto_gpu_pool({}, [t.req("eks.amazonaws.com/instance-local-nvme", "DoesNotExist", []), t.req("eks.amazonaws.com/instance-local-nvme", "Exists", [])])
	requirements.violation == set() with input as t.good_auto_gpu_pool({}, [t.types(["g5.xlarge", "p5.48xlarge"]), t.auto_gpu_count_gt("0"), t.auto_families(["g5"])])
}

# Both flavours of one label are one property: their In sets intersect.
test_both_flavours_of_a_key_are_anded if {
	requirements.violation == {{
		"msg": "requirements on eks.amazonaws.com/instance-family can never match: no value satisfies In [p5] and In [g5]",
		"path": "spec.template.spec.requirements[0]",
	}} with input as t.good_auto_gpu_pool({}, [t.auto_families(["p5"]), t.families(["g5"])])
}

test_malformed_requirements_are_reported_with_their_paths if {
	reqs := [
		{"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gt", "values": ["many"]},
		{"key": "karpenter.k8s.aws/instance-family", "operator": "Near", "values": ["g5"]},
		{"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gte", "values": ["1"]},
	]
	v := requirements.violation with input as {"object": {"spec": {"template": {"spec": {"requirements": reqs}}}}}
	{"msg": "requirement on karpenter.k8s.aws/instance-gpu-count with operator Gt needs exactly one integer value, not [\"many\"]", "path": "spec.template.spec.requirements[0].values"} in v
	{"msg": "requirement on karpenter.k8s.aws/instance-family has operator \"Near\", which Karpenter does not know (In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte or Lte)", "path": "spec.template.spec.requirements[1].operator"} in v
	every f in v {
		not contains(f.path, "requirements[2]")
	}
}
