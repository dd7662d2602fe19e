# METADATA
# title: KMS keys not named
# description: |-
#   KMS data-key and cryptographic actions (kms:Decrypt, kms:Encrypt,
#   kms:GenerateDataKey and the others in params.iam.kmsKeyActions) must name
#   the keys they use: a key or alias ARN without wildcards, not "*" or
#   arn:aws:kms:region:account:key/*.
# custom:
#   id: iam.kms-key-star
#   severity: high
#   action: deny
#   targets: [pod, template, iamrole, iampolicy]
#   reads: [state.iam]
#   remediation: 'Name the key ARN: arn:aws:kms:us-west-2:123456789012:key/<key-id> of the key that encrypts the model bucket.'
#   example: |
#     apiVersion: iam.services.k8s.aws/v1alpha1
#     kind: Policy
#     metadata:
#       name: vllm-kms
#       namespace: ai-inference
#     spec:
#       name: vllm-kms
#       policyDocument: |
#         {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
#           "Action": "kms:Decrypt", "Resource": "*"}]}
package tollgate.iam.kms_key_star

import data.tollgate.iam.lib

violation contains lib.finding(g, _detail) if {
	some g in lib.grants
	wide(g)
}

# conditional holds the grants this rule would report were they not
# narrowed by a condition (iam.conditional-wildcard reports them).
conditional contains {"grant": g, "detail": _detail} if {
	some g in lib.conditional_grants
	wide(g)
}

_detail := "name the KMS keys the workload uses"

wide(g) if {
	lib.service_may(g.action, "kms")
	not _named_key(g.resource)
	some name in _key_actions
	lib.may(g.action, name)
}

_key_actions := {lower(a) | some a in lib.params.kmsKeyActions}

_named_key(res) if {
	count(res.except) == 0
	regex.match(`^arn:[^:]+:kms:[^:]*:[^:]*:(key|alias)/[^*?]+$`, res.pattern)
}
