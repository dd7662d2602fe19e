package tollgate.iam.s3_write_unencrypted_test

import data.tollgate.iam.lib_test as t
import data.tollgate.iam.s3_write_unencrypted

prefix := `role arn:aws:iam::123456789012:role/vllm-pod-role: inline policy "vllm-models", statement 3: allows `

detail := ", and the statement does not require SSE-KMS (condition StringEquals s3:x-amz-server-side-encryption: aws:kms)"

finding(grant, why) := {"msg": concat("", [prefix, grant, "; ", why, detail]), "path": "spec.serviceAccountName"}

put := t.allow(["s3:PutObject"], ["arn:aws:s3:::agentic-ai-models/checkpoints/*"])

kms_condition := {"StringEquals": {"s3:x-amz-server-side-encryption": ["aws:kms"]}}

test_seed_policy_passes if {
	s3_write_unencrypted.violation == set() with input as t.seed_pod
}

test_fail_put_without_condition if {
	s3_write_unencrypted.violation == {finding(
		"s3:PutObject on arn:aws:s3:::agentic-ai-models/checkpoints/*",
		"agentic-ai-models is a model bucket",
	)} with input as t.seed_with([put])
}

test_fail_put_requiring_sse_s3 if {
	review := t.seed_with([t.extend(put, {"Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": ["AES256"]}}})])
	count(s3_write_unencrypted.violation) == 1 with input as review
}

test_fail_write_wildcards_and_every_bucket if {
	review := t.seed_with([t.allow(["s3:Put*"], ["*"])])
	s3_write_unencrypted.violation == {finding("s3:Put* on *", "writes reach every bucket, model buckets included")} with input as review
}

test_fail_checkpoint_bucket if {
	review := t.seed_with([t.allow(["s3:*"], ["arn:aws:s3:::nemo-checkpoints-prod/*"])])
	s3_write_unencrypted.violation == {finding(
		"s3:* on arn:aws:s3:::nemo-checkpoints-prod/*",
		"nemo-checkpoints-prod is a model bucket",
	)} with input as review
}

test_pass_with_kms_condition if {
	s3_write_unencrypted.violation == set() with input as t.seed_with([t.extend(put, {"Condition": kms_condition})])
	dsse := {"StringEqualsIgnoreCase": {"S3:X-Amz-Server-Side-Encryption": ["AWS:KMS:DSSE"]}}
	s3_write_unencrypted.violation == set() with input as t.seed_with([t.extend(put, {"Condition": dsse})])
}

test_pass_with_deny_on_unencrypted_uploads if {
	deny := t.extend(t.deny(["s3:PutObject"], ["arn:aws:s3:::agentic-ai-models/*"]), {"Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": ["aws:kms"]}}})
	s3_write_unencrypted.violation == set() with input as t.seed_with([put, deny])
	s3_write_unencrypted.violation == set() with input as t.bounded(t.seed_with([put]), [t.allow(["*"], ["*"]), deny])
}

test_fail_deny_that_misses_the_missing_header if {
	deny := t.extend(t.deny(["s3:PutObject"], ["arn:aws:s3:::agentic-ai-models/*"]), {"Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": ["aws:kms"]}}})
	count(s3_write_unencrypted.violation) == 1 with input as t.seed_with([put, deny])
}

test_pass_other_buckets_and_params if {
	logs := t.seed_with([t.allow(["s3:PutObject"], ["arn:aws:s3:::vllm-access-logs/*"])])
	s3_write_unencrypted.violation == set() with input as logs
	count(s3_write_unencrypted.violation) == 1 with input as logs with data.tollgate.params.iam.modelBuckets as ["vllm-*"]
}
