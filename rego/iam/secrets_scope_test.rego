package tollgate.iam.secrets_scope_test

import data.tollgate.iam.lib_test as t
import data.tollgate.iam.secrets_scope

prefix := `role arn:aws:iam::123456789012:role/vllm-pod-role: inline policy "vllm-models", statement 3: allows `

finding(grant) := {"msg": concat("", [prefix, grant, "; name the secrets the workload reads"]), "path": "spec.serviceAccountName"}

test_seed_policy_passes if {
	secrets_scope.violation == set() with input as t.seed_pod
}

test_fail_star if {
	secrets_scope.violation == {finding("secretsmanager:GetSecretValue on *")} with input as t.seed_with([t.allow(["secretsmanager:GetSecretValue"], ["*"])])
}

test_fail_every_secret_of_an_account if {
	review := t.seed_with([t.allow(["secretsmanager:*"], ["arn:aws:secretsmanager:us-west-2:123456789012:secret:*"])])
	secrets_scope.violation == {finding("secretsmanager:* on arn:aws:secretsmanager:us-west-2:123456789012:secret:*")} with input as review
}

test_pass_named_secrets_and_other_actions if {
	review := t.seed_with([
		t.allow(["secretsmanager:GetSecretValue"], ["arn:aws:secretsmanager:us-west-2:123456789012:secret:hf-token-AbCdEf"]),
		t.allow(["secretsmanager:ListSecrets"], ["*"]),
	])
	secrets_scope.violation == set() with input as review
}
