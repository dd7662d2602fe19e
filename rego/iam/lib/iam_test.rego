package tollgate.iam.lib_test

import data.tollgate.iam.lib

# Builders for input.state.iam, in the normalised shape internal/iam
# produces, shared by the iam policy tests.

role := "arn:aws:iam::123456789012:role/vllm-pod-role"

key := "arn:aws:kms:us-west-2:123456789012:key/model-encryption-key"

secret := "arn:aws:secretsmanager:us-west-2:123456789012:secret:vllm-api-keys-*"

stmt(effect, actions, resources) := {
	"Effect": effect, "Action": actions, "NotAction": [],
	"Resource": resources, "NotResource": [], "Condition": {},
}

allow(actions, resources) := stmt("Allow", actions, resources)

deny(actions, resources) := stmt("Deny", actions, resources)

extend(s, fields) := object.union(s, fields)

inline(name, statements) := {
	"kind": "inline", "name": name, "path": "spec.serviceAccountName",
	"document": {"Version": "2012-10-17", "Statement": statements},
}

managed(arn, statements) := {
	"kind": "managed", "arn": arn, "name": "models", "version": "v2", "path": "spec.serviceAccountName",
	"document": {"Version": "2012-10-17", "Statement": statements},
}

pod(policies) := {"state": {"iam": {
	"status": "ok", "role": role, "source": "ServiceAccount ai-inference/vllm-sa",
	"path": "spec.serviceAccountName", "policies": policies, "grants": grants_of(policies),
}}}

# grants_of is input.state.iam.grants for documents without Deny
# statements, boundary or session policy: one grant per action and
# resource of each Allow statement. The effective-permission evaluation
# itself (denies, boundaries, session policies, conditions) is Go's
# (internal/iam/effective) and tested there; these tests judge its output.
grants_of(policies) := [g |
	some pi, p in policies
	some i, s in p.document.Statement
	s.Effect == "Allow"
	some a in lib.actions(s)
	some r in lib.resources(s)
	g := {
		"pi": pi, "index": i, "action": a, "resource": r,
		"statement": sprintf("%s on %s", [a.text, r.text]),
		"limited": false, "limited_by": [], "conditions": [], "conditional": false, "deny_notes": [],
	}
]

# with_grants replaces a review's grants.
with_grants(review, grants) := object.union(review, {"state": {"iam": {"grants": grants}}})

bounded(review, statements) := object.union(review, {"state": {"iam": {"boundary": {
	"kind": "boundary", "arn": "arn:aws:iam::123456789012:policy/ml-boundary",
	"document": {"Version": "2012-10-17", "Statement": statements},
}}}})

# The vLLM pod's policy from the design's source document.
seed := [
	allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::agentic-ai-models/*", "arn:aws:s3:::agentic-ai-models"]),
	allow(["kms:Decrypt", "kms:DescribeKey"], [key]),
	allow(["secretsmanager:GetSecretValue"], [secret]),
]

seed_pod := pod([inline("vllm-models", seed)])

# seed_with adds statements to the seed policy.
seed_with(statements) := pod([inline("vllm-models", array.concat(seed, statements))])

grant_texts(review) := texts if {
	texts := {[g.index, g.action.text, g.resource.text] | some g in lib.grants} with input as review
}

test_seed_grants_every_action_on_every_resource if {
	grant_texts(seed_pod) == {
		[0, "s3:GetObject", "arn:aws:s3:::agentic-ai-models/*"],
		[0, "s3:GetObject", "arn:aws:s3:::agentic-ai-models"],
		[0, "s3:ListBucket", "arn:aws:s3:::agentic-ai-models/*"],
		[0, "s3:ListBucket", "arn:aws:s3:::agentic-ai-models"],
		[1, "kms:Decrypt", key],
		[1, "kms:DescribeKey", key],
		[2, "secretsmanager:GetSecretValue", secret],
	}
}

test_no_grants_unless_ok if {
	count(lib.grants) == 0 with input as {"state": {"iam": {"status": "unknown", "reason": "x"}}}
	count(lib.grants) == 0 with input as {}
}

test_not_action_allow_is_every_action_but if {
	review := pod([inline("p", [extend(allow([], ["*"]), {"NotAction": ["iam:*"]})])])
	some g in lib.grants with input as review
	g.action.text == "every action but iam:*"
	lib.may(g.action, "s3:getobject")
	not lib.may(g.action, "iam:passrole")
}

resource_item(r) := lib.resources(allow([], [r]))[0]

test_unscoped_resources if {
	probe := "arn:aws:s3:::tollgate-any-bucket"
	name_re := lib.s3_name_regex
	lib.unscoped(resource_item("*"), probe, name_re)
	lib.unscoped(resource_item("arn:aws:s3:::*"), probe, name_re)
	lib.unscoped(resource_item("arn:aws:s3:::*-models/*"), probe, name_re)
	lib.unscoped(lib.resources(extend(allow([], []), {"NotResource": ["arn:aws:s3:::b/*"]}))[0], probe, name_re)
	not lib.unscoped(resource_item("arn:aws:s3:::agentic-ai-models/*"), probe, name_re)
	not lib.unscoped(resource_item("arn:aws:s3:::agentic-*"), probe, name_re)
}

test_service_may if {
	items := lib.actions(allow(["kms:Decrypt", "s3:GetObject", "*", "*:Get*", "Kms:*"], []))
	[x | some item in items; x := lib.service_may(item, "kms")] == [true, true, true, true]
	not lib.service_may(items[1], "kms")
}

test_labels if {
	lib.policy_label({"kind": "managed", "arn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"}) == "managed policy arn:aws:iam::aws:policy/AmazonS3FullAccess"
	lib.policy_label({"kind": "inline", "name": "models"}) == `inline policy "models"`
	lib.policy_label({"kind": "managed", "name": "models"}) == `policy "models"`
	lib.statement_label(2, {"Sid": "Read"}) == `statement 2 (Sid "Read")`
	lib.statement_label(0, {}) == "statement 0"
	lib.subject == "" with input as {"state": {"iam": {"status": "ok", "role": ""}}}
}
