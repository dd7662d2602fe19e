package tollgate.iam.unknown_test

import data.tollgate.iam.lib_test as t
import data.tollgate.iam.unknown

test_known_documents_pass if {
	unknown.violation == set() with input as t.seed_pod
	unknown.violation == set() with input as {"state": {}}
}

test_fail_pod_role if {
	review := {"state": {"iam": {
		"status": "unknown", "role": t.role, "source": "ServiceAccount ai-inference/vllm-sa",
		"path": "spec.serviceAccountName", "reason": "IAM did not answer within 2s; the documents are being fetched in the background",
	}}}
	unknown.violation == {{
		"msg": "role arn:aws:iam::123456789012:role/vllm-pod-role (from ServiceAccount ai-inference/vllm-sa): the IAM policy documents are unknown, so the iam rules did not run: IAM did not answer within 2s; the documents are being fetched in the background",
		"path": "spec.serviceAccountName",
	}} with input as review
}

test_fail_ack_document if {
	review := {"state": {"iam": {"status": "unknown", "path": "spec.policyDocument", "reason": `spec.policyDocument: Statement[0].Effect: want "Allow" or "Deny", got "allow"`}}}
	unknown.violation == {{
		"msg": `the IAM policy documents are unknown, so the iam rules did not run: spec.policyDocument: Statement[0].Effect: want "Allow" or "Deny", got "allow"`,
		"path": "spec.policyDocument",
	}} with input as review
}
