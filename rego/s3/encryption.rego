# METADATA
# title: S3 bucket default encryption with KMS
# description: |-
#   An ACK s3.services.k8s.aws Bucket must set default encryption with a KMS
#   key: spec.encryption.rules[].applyServerSideEncryptionByDefault.sseAlgorithm
#   aws:kms (or aws:kms:dsse; params.s3.kmsAlgorithms). Without it S3
#   encrypts with SSE-S3 keys that no key policy or CloudTrail KMS event
#   controls. With params.s3.requireKeyId the rule must also name the key
#   (kmsMasterKeyID or kmsMasterKeyRef) instead of the AWS managed aws/s3 key.
# custom:
#   id: s3.encryption
#   severity: high
#   action: deny
#   targets: [s3bucket]
#   remediation: 'Set spec.encryption.rules: [{applyServerSideEncryptionByDefault: {sseAlgorithm: aws:kms, kmsMasterKeyID: <key ARN>}, bucketKeyEnabled: true}].'
#   example: |
#     apiVersion: s3.services.k8s.aws/v1alpha1
#     kind: Bucket
#     metadata:
#       name: agentic-ai-models
#       namespace: ai-platform
#     spec:
#       name: agentic-ai-models-prod
#       encryption:
#         rules:
#         - applyServerSideEncryptionByDefault:
#             sseAlgorithm: AES256
package tollgate.s3.encryption

violation contains {"msg": msg, "path": "spec.encryption"} if {
	count(object.get(input.object, ["spec", "encryption", "rules"], [])) == 0
	msg := sprintf("bucket %s has no default encryption (spec.encryption): S3 would encrypt with SSE-S3; set sseAlgorithm aws:kms", [_bucket])
}

violation contains {"msg": msg, "path": "spec.encryption.rules"} if {
	rules := input.object.spec.encryption.rules
	count(rules) > 0
	not _kms_rule(rules)
	algs := [object.get(r, ["applyServerSideEncryptionByDefault", "sseAlgorithm"], "none") | some r in rules]
	msg := sprintf("bucket %s encrypts with %s, which is not among the allowed KMS algorithms: set sseAlgorithm to %s", [
		_bucket, concat(", ", algs), concat(" or ", data.tollgate.params.s3.kmsAlgorithms),
	])
}

violation contains {"msg": msg, "path": path} if {
	data.tollgate.params.s3.requireKeyId
	some i, r in input.object.spec.encryption.rules
	d := r.applyServerSideEncryptionByDefault
	d.sseAlgorithm in data.tollgate.params.s3.kmsAlgorithms
	object.get(d, "kmsMasterKeyID", "") == ""
	not d.kmsMasterKeyRef
	path := sprintf("spec.encryption.rules[%d].applyServerSideEncryptionByDefault.kmsMasterKeyID", [i])
	msg := sprintf("bucket %s encrypts with %s under the AWS managed key aws/s3: name a customer managed key in kmsMasterKeyID or kmsMasterKeyRef", [_bucket, d.sseAlgorithm])
}

_kms_rule(rules) if {
	some r in rules
	r.applyServerSideEncryptionByDefault.sseAlgorithm in data.tollgate.params.s3.kmsAlgorithms
}

default _bucket := ""

_bucket := sprintf("%q", [input.object.spec.name]) if object.get(input.object, ["spec", "name"], "") != ""

_bucket := sprintf("%q (metadata.name)", [input.object.metadata.name]) if object.get(input.object, ["spec", "name"], "") == ""
