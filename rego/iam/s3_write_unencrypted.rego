# METADATA
# title: Unencrypted writes to model buckets
# description: |-
#   s3:PutObject to a model bucket (params.iam.modelBuckets, bucket name
#   patterns) must require SSE-KMS: the statement carries the condition
#   StringEquals s3:x-amz-server-side-encryption aws:kms (or aws:kms:dsse),
#   or an unconditional-on-anything-else Deny refuses PutObject when
#   StringNotEquals s3:x-amz-server-side-encryption aws:kms. Otherwise model
#   weights and checkpoints can be written with SSE-S3 or the bucket default.
# custom:
#   id: iam.s3-write-unencrypted
#   severity: medium
#   action: warn
#   targets: [pod, template, iamrole, iampolicy]
#   reads: [state.iam]
#   remediation: 'Add "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}} to the statement that allows s3:PutObject, and give the role kms:GenerateDataKey on the bucket key.'
#   example: |
#     apiVersion: iam.services.k8s.aws/v1alpha1
#     kind: Policy
#     metadata:
#       name: checkpoint-writer
#       namespace: ai-training
#     spec:
#       name: checkpoint-writer
#       policyDocument: |
#         {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
#           "Action": "s3:PutObject", "Resource": "arn:aws:s3:::agentic-ai-models/checkpoints/*"}]}
package tollgate.iam.s3_write_unencrypted

import data.tollgate.iam.lib

violation contains lib.finding(g, sprintf("%s, and the statement does not require SSE-KMS (condition StringEquals s3:x-amz-server-side-encryption: aws:kms)", [where])) if {
	input.state.iam.status == "ok"
	some g in lib.all_grants
	lib.service_may(g.action, "s3")
	lib.may(g.action, "s3:putobject")
	some where in _model_bucket(g.resource)
	not _requires_kms(lib.statement(g))
	not _denied_unencrypted(g.resource)
}

# _model_bucket names the model buckets a resource reaches.
_model_bucket(res) := {"writes reach every bucket, model buckets included"} if lib.any_bucket(res)

_model_bucket(res) := {sprintf("%s is a model bucket", [bucket]) |
	parts := split(res.pattern, ":")
	count(parts) >= 6
	parts[2] == "s3"
	bucket := split(concat(":", array.slice(parts, 5, count(parts))), "/")[0]
	some pattern in lib.params.modelBuckets
	lib.overlap(pattern, bucket)
} if not lib.any_bucket(res)

_kms_values := {lower(v) | some v in lib.params.sseKmsValues}

_is_sse_key(k) := lower(k) == "s3:x-amz-server-side-encryption"

_requires_kms(s) if {
	some op in ["StringEquals", "StringEqualsIgnoreCase"]
	some k, vals in s.Condition[op]
	_is_sse_key(k)
	count(vals) > 0
	every v in vals {
		lower(v) in _kms_values
	}
}

# A Deny of s3:PutObject whose only condition is StringNotEquals on the
# encryption header refuses every write that does not ask for SSE-KMS
# (a missing header does not equal aws:kms).
_denied_unencrypted(res) if {
	some p in _sources
	some s in p.document.Statement
	s.Effect == "Deny"
	object.keys(s.Condition) == {"StringNotEquals"}
	some k, vals in s.Condition.StringNotEquals
	_is_sse_key(k)
	count(vals) > 0
	every v in vals {
		lower(v) in _kms_values
	}
	some da in lib.actions(s)
	lib.may(da, "s3:putobject")
	some dr in lib.resources(s)
	lib.covers(dr, res)
}

_sources contains p if some p in input.state.iam.policies

_sources contains input.state.iam.boundary if input.state.iam.boundary
