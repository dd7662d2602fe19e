package tollgate.iam.kms_key_star_test

import data.tollgate.iam.kms_key_star
import data.tollgate.iam.lib_test as t

prefix := `role arn:aws:iam::123456789012:role/vllm-pod-role: inline policy "vllm-models", statement 3: allows `

finding(grant) := {"msg": concat("", [prefix, grant, "; name the KMS keys the workload uses"]), "path": "spec.serviceAccountName"}

test_seed_policy_passes if {
	kms_key_star.violation == set() with input as t.seed_pod
}

test_fail_decrypt_on_star if {
	kms_key_star.violation == {finding("kms:Decrypt on *")} with input as t.seed_with([t.allow(["kms:Decrypt"], ["*"])])
}

test_fail_every_key_of_an_account if {
	review := t.seed_with([t.allow(["kms:GenerateDataKey", "kms:Encrypt"], ["arn:aws:kms:us-west-2:123456789012:key/*"])])
	kms_key_star.violation == {
		finding("kms:GenerateDataKey on arn:aws:kms:us-west-2:123456789012:key/*"),
		finding("kms:Encrypt on arn:aws:kms:us-west-2:123456789012:key/*"),
	} with input as review
}

test_fail_wildcard_action_reported_once if {
	kms_key_star.violation == {finding("kms:* on arn:aws:kms:*:*:*")} with input as t.seed_with([t.allow(["kms:*"], ["arn:aws:kms:*:*:*"])])
}

test_pass_named_keys_aliases_and_other_actions if {
	review := t.seed_with([
		t.allow(["kms:GenerateDataKey"], ["arn:aws:kms:*:123456789012:key/mrk-1234abcd"]),
		t.allow(["kms:Decrypt"], ["arn:aws:kms:us-west-2:123456789012:alias/models"]),
		t.allow(["kms:DescribeKey", "kms:ListAliases"], ["*"]),
	])
	kms_key_star.violation == set() with input as review
}
