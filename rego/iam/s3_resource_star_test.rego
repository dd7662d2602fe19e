package tollgate.iam.s3_resource_star_test

import data.tollgate.iam.lib_test as t
import data.tollgate.iam.s3_resource_star

prefix := `role arn:aws:iam::123456789012:role/vllm-pod-role: inline policy "vllm-models", statement 3: allows `

detail := "; S3 object and bucket actions must name the buckets they act on"

finding(grant) := {"msg": concat("", [prefix, grant, detail]), "path": "spec.serviceAccountName"}

test_seed_policy_passes if {
	s3_resource_star.violation == set() with input as t.seed_pod
}

test_fail_object_action_on_star if {
	s3_resource_star.violation == {finding("s3:GetObject on *")} with input as t.seed_with([t.allow(["s3:GetObject"], ["*"])])
}

test_fail_every_bucket_patterns if {
	review := t.seed_with([t.allow(["s3:ListBucket", "s3:GetObject"], ["arn:aws:s3:::*", "arn:aws:s3:::*/*"])])
	s3_resource_star.violation == {
		finding("s3:ListBucket on arn:aws:s3:::*"),
		finding("s3:ListBucket on arn:aws:s3:::*/*"),
		finding("s3:GetObject on arn:aws:s3:::*"),
		finding("s3:GetObject on arn:aws:s3:::*/*"),
	} with input as review
}

test_fail_broad_action_patterns if {
	s3_resource_star.violation == {finding("* on *"), finding("*Object on *")} with input as t.seed_with([t.allow(["*", "*Object"], ["*"])])
}

test_fail_not_resource if {
	review := t.seed_with([t.extend(t.allow(["s3:GetObject"], []), {"NotResource": ["arn:aws:s3:::secrets/*"]})])
	s3_resource_star.violation == {finding("s3:GetObject on every resource but arn:aws:s3:::secrets/*")} with input as review
}

test_fail_bucket_name_starting_with_a_wildcard if {
	s3_resource_star.violation == {finding("s3:GetObject on arn:aws:s3:::*-models/*")} with input as t.seed_with([t.allow(["s3:GetObject"], ["arn:aws:s3:::*-models/*"])])
}

test_pass_account_level_actions_and_scoped_buckets if {
	review := t.seed_with([
		t.allow(["s3:ListAllMyBuckets", "s3:GetAccountPublicAccessBlock"], ["*"]),
		t.allow(["s3:GetObject"], ["arn:aws:s3:::agentic-*/*"]),
		t.allow(["kms:DescribeKey"], ["*"]),
	])
	s3_resource_star.violation == set() with input as review
}
