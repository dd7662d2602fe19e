package tollgate.iam.passrole_star_test

import data.tollgate.iam.lib_test as t
import data.tollgate.iam.passrole_star

prefix := `role arn:aws:iam::123456789012:role/vllm-pod-role: inline policy "vllm-models", statement 3: allows `

finding(grant) := {"msg": concat("", [prefix, grant, "; name the roles the workload may pass"]), "path": "spec.serviceAccountName"}

test_seed_policy_passes if {
	passrole_star.violation == set() with input as t.seed_pod
}

test_fail_passrole_on_star if {
	passrole_star.violation == {finding("iam:PassRole on *")} with input as t.seed_with([t.allow(["iam:PassRole"], ["*"])])
}

test_fail_every_role_of_an_account if {
	review := t.seed_with([t.allow(["iam:Pass*"], ["arn:aws:iam::123456789012:role/*"])])
	passrole_star.violation == {finding("iam:Pass* on arn:aws:iam::123456789012:role/*")} with input as review
}

test_fail_star_action if {
	passrole_star.violation == {finding("* on *")} with input as t.seed_with([t.allow(["*"], ["*"])])
}

test_pass_named_roles if {
	review := t.seed_with([t.allow(["iam:PassRole"], [
		"arn:aws:iam::123456789012:role/sagemaker-training",
		"arn:aws:iam::123456789012:role/ml/training-*",
	])])
	passrole_star.violation == set() with input as review
}
