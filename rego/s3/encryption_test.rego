package tollgate.s3.encryption_test

import data.tollgate.s3.encryption

bucket(encryption) := {"object": {
	"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
	"metadata": {"name": "agentic-ai-models", "namespace": "ai-platform"},
	"spec": object.union({"name": "agentic-ai-models-prod"}, encryption),
}}

kms(extra) := {"encryption": {"rules": [{"applyServerSideEncryptionByDefault": object.union({"sseAlgorithm": "aws:kms"}, extra)}]}}

test_seed_bucket_passes if {
	encryption.violation == set() with input as bucket(kms({}))
}

test_dsse_and_several_rules_pass if {
	encryption.violation == set() with input as bucket(kms({"sseAlgorithm": "aws:kms:dsse"}))
	two := {"encryption": {"rules": [
		{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}},
		{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}, "bucketKeyEnabled": true},
	]}}
	encryption.violation == set() with input as bucket(two)
}

test_fail_no_encryption if {
	encryption.violation == {{
		"msg": `bucket "agentic-ai-models-prod" has no default encryption (spec.encryption): S3 would encrypt with SSE-S3; set sseAlgorithm aws:kms`,
		"path": "spec.encryption",
	}} with input as bucket({})
	count(encryption.violation) == 1 with input as bucket({"encryption": {"rules": []}})
}

test_fail_sse_s3 if {
	encryption.violation == {{
		"msg": `bucket "agentic-ai-models-prod" encrypts with AES256, which is not among the allowed KMS algorithms: set sseAlgorithm to aws:kms or aws:kms:dsse`,
		"path": "spec.encryption.rules",
	}} with input as bucket({"encryption": {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}})
}

test_fail_rule_without_default_names_metadata if {
	review := {"object": {"metadata": {"name": "scratch"}, "spec": {"encryption": {"rules": [{"bucketKeyEnabled": true}]}}}}
	encryption.violation == {{
		"msg": `bucket "scratch" (metadata.name) encrypts with none, which is not among the allowed KMS algorithms: set sseAlgorithm to aws:kms or aws:kms:dsse`,
		"path": "spec.encryption.rules",
	}} with input as review
}

test_require_key_id if {
	encryption.violation == set() with input as bucket(kms({}))
	encryption.violation == {{
		"msg": `bucket "agentic-ai-models-prod" encrypts with aws:kms under the AWS managed key aws/s3: name a customer managed key in kmsMasterKeyID or kmsMasterKeyRef`,
		"path": "spec.encryption.rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyID",
	}} with input as bucket(kms({})) with data.tollgate.params.s3.requireKeyId as true
	encryption.violation == set() with input as bucket(kms({"kmsMasterKeyID": "arn:aws:kms:us-west-2:123456789012:key/model-encryption-key"})) with data.tollgate.params.s3.requireKeyId as true
	encryption.violation == set() with input as bucket(kms({"kmsMasterKeyRef": {"from": {"name": "models-key"}}})) with data.tollgate.params.s3.requireKeyId as true
}
