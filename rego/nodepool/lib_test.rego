# Test helpers for the nodepool policies, and tests of tollgate.nodepool.lib.
package tollgate.nodepool.lib_test

import data.tollgate.nodepool.lib

# pool is the input document of a NodePool being created.
pool(spec) := {
	"kind": {"group": "karpenter.sh", "version": "v1", "kind": "NodePool"},
	"request": {"operation": "CREATE", "userInfo": {"username": "platform", "groups": []}},
	"namespace": {"name": "", "labels": {}, "annotations": {}},
	"object": {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "np"}, "spec": spec},
	"state": {},
}

# template is a NodePool spec with template labels, requirements and taints.
template(labels, requirements, taints) := {"template": {
	"metadata": {"labels": labels},
	"spec": {
		"requirements": requirements,
		"taints": taints,
		"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
	},
}}

req(key, op, values) := {"key": key, "operator": op, "values": values}

types(values) := req("node.kubernetes.io/instance-type", "In", values)

families(values) := req("karpenter.k8s.aws/instance-family", "In", values)

capacity(values) := req("karpenter.sh/capacity-type", "In", values)

gpu_count_gt(n) := req("karpenter.k8s.aws/instance-gpu-count", "Gt", [n])

gpu_taint := {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}

gpu_limits := {"limits": {"nvidia.com/gpu": 16}}

# good_gpu_pool is a GPU pool that every policy accepts: tainted, bounded,
# on-demand.
good_gpu_pool(labels, requirements) := pool(object.union(template(labels, requirements, [gpu_taint]), gpu_limits))

_reqs(rs) := pool(template({}, rs, []))

test_listed_intersects_in_and_removes_not_in if {
	lib.listed("k") == {"b"} with input as _reqs([req("k", "In", ["a", "b", "c"]), req("k", "In", ["b", "c"]), req("k", "NotIn", ["c"])])
	not lib.listed("k") with input as _reqs([req("k", "NotIn", ["c"])])
}

test_allows_spot if {
	not lib.spot with input as _reqs([types(["p5.48xlarge"])])
	lib.spot with input as _reqs([capacity(["spot"])])
	lib.spot with input as _reqs([req("karpenter.sh/capacity-type", "NotIn", ["on-demand"])])
	lib.spot with input as _reqs([req("karpenter.sh/capacity-type", "Exists", [])])
	not lib.spot with input as _reqs([capacity(["spot", "on-demand"]), req("karpenter.sh/capacity-type", "NotIn", ["spot"])])
	not lib.spot with input as _reqs([capacity(["on-demand", "reserved"])])
}

test_props if {
	lib.props("p4d.24xlarge") == {
		"node.kubernetes.io/instance-type": "p4d.24xlarge",
		"karpenter.k8s.aws/instance-family": "p4d",
		"karpenter.k8s.aws/instance-category": "p",
		"karpenter.k8s.aws/instance-generation": 4,
		"karpenter.k8s.aws/instance-gpu-count": 8,
		"karpenter.k8s.aws/instance-gpu-name": "a100",
		"karpenter.k8s.aws/instance-gpu-manufacturer": "nvidia",
	}
	lib.props("m5.large")["karpenter.k8s.aws/instance-gpu-count"] == null
	not lib.props("g6f.xlarge")["karpenter.k8s.aws/instance-gpu-count"]
	lib.props("p6-b200.48xlarge")["karpenter.k8s.aws/instance-gpu-name"] == "b200"
	lib.props("g6e.xlarge")["karpenter.k8s.aws/instance-gpu-name"] == "l40s"
}

test_rejections if {
	lib.rejections("m5.large") == {"karpenter.k8s.aws/instance-gpu-count is none; required Gt 0"} with input as _reqs([gpu_count_gt("0")])
	lib.rejections("p5.48xlarge") == set() with input as _reqs([gpu_count_gt("0")])
	lib.rejections("g5.xlarge") == {
		"karpenter.k8s.aws/instance-family is g5; required In [p5]",
		"karpenter.k8s.aws/instance-gpu-count is 1; required Gte 2",
	} with input as _reqs([families(["p5"]), req("karpenter.k8s.aws/instance-gpu-count", "Gte", ["2"])])
	lib.rejections("g6f.xlarge") == set() with input as _reqs([gpu_count_gt("0")])
}

test_gpu_reasons if {
	lib.gpu_reason == "instance types p4d.24xlarge" with input as _reqs([types(["m5.large", "p4d.24xlarge"])])
	lib.gpu_reason == "instance families g6" with input as _reqs([families(["g6", "c7i"])])
	lib.gpu_reason == "karpenter.k8s.aws/instance-gpu-count Gt 0" with input as _reqs([gpu_count_gt("0")])
	lib.gpu_reason == "karpenter.k8s.aws/instance-category In [g, p]" with input as _reqs([req("karpenter.k8s.aws/instance-category", "In", ["g", "p"])])
	lib.gpu_reason == "label nvidia.com/gpu.present" with input as pool(template({"nvidia.com/gpu.present": "true"}, [], []))
	lib.gpu_reason == "label mig-enabled=true; label nvidia.com/mig.config=all-1g.10gb" with input as pool(template({"mig-enabled": "true", "nvidia.com/mig.config": "all-1g.10gb"}, [], []))
	not lib.gpu with input as _reqs([types(["m7i.large"]), req("karpenter.k8s.aws/instance-gpu-count", "Gte", ["0"])])
}

test_training_and_mig_pools if {
	lib.training with input as pool(template({"workload": "ml-training"}, [], []))
	lib.training with input as pool(template({}, [], [{"key": "workload-type", "value": "training", "effect": "NoSchedule"}]))
	not lib.training with input as pool(template({"workload": "genai"}, [], []))
	lib.mig with input as pool(template({"mig-enabled": "true"}, [], []))
	lib.mig with input as pool(template({"nvidia.com/mig.config": "all-1g.10gb"}, [], []))
	not lib.mig with input as pool(template({"mig-enabled": "false"}, [], []))
}

# --- EKS Auto Mode -----------------------------------------------------------------

# auto_template is a NodePool spec of EKS Auto Mode: its built-in NodeClass.
auto_template(labels, requirements, taints) := {"template": {
	"metadata": {"labels": labels},
	"spec": {
		"requirements": requirements,
		"taints": taints,
		"nodeClassRef": {"group": "eks.amazonaws.com", "kind": "NodeClass", "name": "default"},
	},
}}

auto_families(values) := req("eks.amazonaws.com/instance-family", "In", values)

auto_gpu_count_gt(n) := req("eks.amazonaws.com/instance-gpu-count", "Gt", [n])

_auto_reqs(rs) := pool(auto_template({}, rs, []))

test_canonical_keys if {
	lib.canonical("eks.amazonaws.com/instance-gpu-count") == "karpenter.k8s.aws/instance-gpu-count"
	lib.canonical("eks.amazonaws.com/instance-memory") == "karpenter.k8s.aws/instance-memory"
	lib.canonical("eks.amazonaws.com/compute-type") == "eks.amazonaws.com/compute-type"
	lib.canonical("karpenter.k8s.aws/instance-family") == "karpenter.k8s.aws/instance-family"
	lib.canonical("node.kubernetes.io/instance-type") == "node.kubernetes.io/instance-type"
	lib.auto_mode_key("eks.amazonaws.com/instance-cpu")
	not lib.auto_mode_key("eks.amazonaws.com/compute-type")
	lib.karpenter_key("karpenter.k8s.aws/instance-cpu")
	not lib.karpenter_key("karpenter.k8s.aws/ec2nodeclass")
}

test_auto_mode_requirements_are_read_like_karpenter_ones if {
	lib.auto_mode with input as _auto_reqs([])
	not lib.auto_mode with input as _reqs([])
	lib.named_families == {"p5"} with input as _auto_reqs([auto_families(["p5", "g5"]), families(["p5"])])
	lib.requirement_path("karpenter.k8s.aws/instance-family") == "spec.template.spec.requirements[1]" with input as _auto_reqs([types(["p5.48xlarge"]), auto_families(["p5"])])
	lib.written("karpenter.k8s.aws/instance-family") == "eks.amazonaws.com/instance-family" with input as _auto_reqs([auto_families(["p5"])])
	lib.rejections("m5.large") == {"eks.amazonaws.com/instance-gpu-count is none; required Gt 0"} with input as _auto_reqs([auto_gpu_count_gt("0")])
	lib.rejections("g5.xlarge") == {"eks.amazonaws.com/instance-family is g5; required In [p5]"} with input as _auto_reqs([auto_families(["p5"])])
}

test_auto_mode_gpu_reasons if {
	lib.gpu_reason == "eks.amazonaws.com/instance-gpu-count Gt 0" with input as _auto_reqs([auto_gpu_count_gt("0")])
	lib.gpu_reason == "instance families g6e" with input as _auto_reqs([auto_families(["g6e"])])
	lib.gpu_reason == "eks.amazonaws.com/instance-gpu-manufacturer In [nvidia]" with input as _auto_reqs([req("eks.amazonaws.com/instance-gpu-manufacturer", "In", ["nvidia"])])
	lib.gpu_reason == "eks.amazonaws.com/instance-category In [g]" with input as _auto_reqs([req("eks.amazonaws.com/instance-category", "In", ["g"])])
	not lib.gpu with input as _auto_reqs([req("eks.amazonaws.com/instance-category", "In", ["c", "m", "r"]), req("eks.amazonaws.com/instance-cpu", "In", ["4", "8"])])
}

# good_auto_gpu_pool is good_gpu_pool on EKS Auto Mode.
good_auto_gpu_pool(labels, requirements) := pool(object.union(auto_template(labels, requirements, [gpu_taint]), gpu_limits))
