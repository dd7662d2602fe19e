package tollgate.iam.wildcard_action_test

import data.tollgate.iam.lib_test as t
import data.tollgate.iam.wildcard_action

prefix := `role arn:aws:iam::123456789012:role/vllm-pod-role: inline policy "vllm-models"`

test_seed_policy_passes if {
	wildcard_action.violation == set() with input as t.seed_pod
}

test_unknown_documents_report_nothing_here if {
	wildcard_action.violation == set() with input as {"state": {"iam": {"status": "unknown", "reason": "x"}}}
}

test_fail_star if {
	wildcard_action.violation == {{
		"msg": concat("", [prefix, ", statement 3: allows * on *; name the actions the workload needs"]),
		"path": "spec.serviceAccountName",
	}} with input as t.seed_with([t.allow(["*"], ["*"])])
}

test_fail_service_wildcards_any_case if {
	review := t.seed_with([
		t.allow(["s3:*"], ["arn:aws:s3:::agentic-ai-models/*"]),
		t.extend(t.allow(["KMS:*"], [t.key]), {"Sid": "Keys"}),
	])
	wildcard_action.violation == {
		{
			"msg": concat("", [prefix, ", statement 3: allows s3:* on arn:aws:s3:::agentic-ai-models/*; name the actions the workload needs"]),
			"path": "spec.serviceAccountName",
		},
		{
			"msg": concat("", [prefix, `, statement 4 (Sid "Keys"): allows KMS:* on arn:aws:kms:us-west-2:123456789012:key/model-encryption-key; name the actions the workload needs`]),
			"path": "spec.serviceAccountName",
		},
	} with input as review
}

test_fail_not_action if {
	review := t.pod([t.managed("arn:aws:iam::123456789012:policy/ml/everything-but-iam", [t.extend(t.allow([], ["*"]), {"NotAction": ["iam:*", "organizations:*"]})])])
	wildcard_action.violation == {{
		"msg": "role arn:aws:iam::123456789012:role/vllm-pod-role: managed policy arn:aws:iam::123456789012:policy/ml/everything-but-iam, statement 0: allows every action but iam:*, organizations:* on *; name the actions the workload needs",
		"path": "spec.serviceAccountName",
	}} with input as review
}

test_other_services_follow_params if {
	review := t.seed_with([t.allow(["iam:*"], ["*"])])
	wildcard_action.violation == set() with input as review
	count(wildcard_action.violation) == 1 with input as review with data.tollgate.params.iam.wildcardServices as ["iam"]
}

test_fail_ack_policy if {
	policies := [{
		"kind": "managed", "name": "vllm-models", "path": "spec.policyDocument",
		"document": {"Statement": [t.allow(["s3:*"], ["arn:aws:s3:::agentic-ai-models/*"])]},
	}]
	review := {"state": {"iam": {"status": "ok", "policies": policies, "grants": t.grants_of(policies)}}}
	wildcard_action.violation == {{
		"msg": `policy "vllm-models", statement 0: allows s3:* on arn:aws:s3:::agentic-ai-models/*; name the actions the workload needs`,
		"path": "spec.policyDocument",
	}} with input as review
}
