package tollgate.drift.credentials_test

import data.tollgate.drift.credentials
import data.tollgate.drift.lib_test as t

test_missing_credentials_are_one_finding if {
	ops := [
		t.op("add", "/spec/containers/0/env", "spec.containers[0].env", [{"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::1:role/r"}]),
		t.op("add", "/spec/containers/0/volumeMounts", "spec.containers[0].volumeMounts", [{"name": "aws-iam-token", "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount"}]),
		t.op("add", "/spec/volumes/1", "spec.volumes[1]", {"name": "aws-iam-token"}),
	]
	credentials.violation == {{
		"msg": `lacks the AWS credentials the credentials mutator injects for its IAM role today (container "app": add env: AWS_ROLE_ARN; container "app": add volumeMounts: aws-iam-token; add volumes: aws-iam-token)`,
		"path": "spec.containers[0].env",
	}} with input as t.input_of(ops)
}

test_init_container_env_is_reported if {
	ops := [t.op("add", "/spec/initContainers/0/env/2", "spec.initContainers[0].env[2]", {"name": "AWS_REGION"})]
	count(credentials.violation) == 1 with input as t.input_of(ops)
}

test_tolerations_are_not if {
	ops := [t.op("add", "/spec/tolerations", "spec.tolerations", [])]
	credentials.violation == set() with input as t.input_of(ops)
}
