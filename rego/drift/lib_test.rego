# Test helpers for the drift policies, and tests of tollgate.drift.lib. The
# policies' tests build their input with the functions here.
package tollgate.drift.lib_test

import data.tollgate.drift.lib

# input is the drift input of a pod with containers "app" and "init".
input_of(ops) := {"drift": {
	"patch": ops,
	"containers": {"spec.containers[0]": "app", "spec.initContainers[0]": "init"},
}}

op(o, path, field, value) := {"op": o, "path": path, "field": field, "value": value}

remove(path, field) := {"op": "remove", "path": path, "field": field}

test_changes_match_fields if {
	ops := [
		op("add", "/spec/tolerations", "spec.tolerations", []),
		op("add", "/spec/containers/0/env", "spec.containers[0].env", []),
	]
	lib.changes(`^spec\.tolerations`) == [ops[0]] with input as input_of(ops)
	lib.changes(`^spec\.volumes`) == [] with input as input_of(ops)
}

test_no_drift_input_matches_nothing if {
	lib.changes(`.*`) == [] with input as {"pod": {}}
}

test_describe_names_containers_and_lists if {
	ops := [
		op("add", "/spec/containers/0/env", "spec.containers[0].env", [{"name": "AWS_ROLE_ARN", "value": "arn"}, {"name": "AWS_REGION", "value": "eu-west-1"}]),
		op("add", "/spec/initContainers/0/volumeMounts/1", "spec.initContainers[0].volumeMounts[1]", {"name": "aws-iam-token", "mountPath": "/var/run"}),
		op("add", "/spec/volumes/-", "spec.volumes[2]", {"name": "aws-iam-token"}),
	]
	lib.summary(ops) == `container "app": add env: AWS_ROLE_ARN, AWS_REGION; container "init": add volumeMounts: aws-iam-token; add volumes: aws-iam-token` with input as input_of(ops)
}

test_unknown_container_index_is_not_named if {
	o := op("add", "/spec/containers/3/env", "spec.containers[3].env", [{"name": "X"}])
	lib.describe(o) == "add containers[3].env: X" with input as input_of([o])
}

test_labels if {
	lib.label({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}) == "nvidia.com/gpu:NoSchedule"
	lib.label({"key": "workload-type", "operator": "Equal", "value": "training", "effect": "NoSchedule"}) == "workload-type=training:NoSchedule"
	lib.label({"key": "dedicated", "operator": "Exists"}) == "dedicated"
	lib.label({"key": "nvidia.com/gpu.product", "operator": "In", "values": ["A", "B"]}) == "nvidia.com/gpu.product In (A, B)"
	lib.label({"preStop": {"sleep": {"seconds": 30}}}) == "preStop sleep 30s"
	lib.label({"exec": {"command": ["sleep", "20"]}}) == "exec sleep 20"
	lib.label({"sleep": {"seconds": 5}}) == "sleep 5s"
	lib.label({"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB-MIG-3g.40gb"}) == "nvidia.com/gpu.product=NVIDIA-A100-SXM4-80GB-MIG-3g.40gb"
	lib.label(90) == "90"
	lib.label("1") == "1"
}

test_remove_has_no_value if {
	o := remove(`/spec/containers/0/resources/limits/nvidia.com~1gpu`, `spec.containers[0].resources.limits["nvidia.com/gpu"]`)
	lib.describe(o) == `container "app": remove resources.limits["nvidia.com/gpu"]` with input as input_of([o])
}

test_path_drops_the_list_index if {
	lib.path([op("add", "/spec/volumes/2", "spec.volumes[2]", {})]) == "spec.volumes"
	lib.path([op("add", "/spec/containers/0/env", "spec.containers[0].env", [])]) == "spec.containers[0].env"
}

test_operations_on_one_field_are_grouped if {
	ops := [
		op("add", "/spec/containers/0/env/1", "spec.containers[0].env[1]", {"name": "AWS_ROLE_ARN"}),
		op("add", "/spec/containers/0/env/2", "spec.containers[0].env[2]", {"name": "AWS_WEB_IDENTITY_TOKEN_FILE"}),
		op("add", "/spec/volumes/0", "spec.volumes[0]", {"name": "aws-iam-token"}),
		op("add", "/spec/containers/0/env/3", "spec.containers[0].env[3]", {"name": "AWS_REGION"}),
	]
	lib.summary(ops) == `container "app": add env: AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_REGION; add volumes: aws-iam-token` with input as input_of(ops)
}

test_summary_of_no_operations_is_empty if {
	lib.summary([]) == "" with input as input_of([])
}

test_summary_groups_a_key_that_comes_back if {
	ops := [
		op("add", "/spec/tolerations/-", "spec.tolerations[0]", {"key": "a", "operator": "Exists"}),
		op("remove", "/spec/containers/0/lifecycle", "spec.containers[0].lifecycle", null),
		op("add", "/spec/tolerations/-", "spec.tolerations[1]", {"key": "b", "operator": "Exists"}),
		op("remove", "/spec/containers/0/lifecycle", "spec.containers[0].lifecycle", null),
	]
	lib.summary(ops) == `add tolerations: a, b; container "app": remove lifecycle` with input as input_of(ops)
}
