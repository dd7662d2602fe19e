# METADATA
# title: Wildcard IAM actions
# description: |-
#   The IAM role a pod will assume, and ACK Role and Policy documents, must
#   not allow every action ("*", or a NotAction statement) nor every action
#   of a sensitive service ("s3:*", "kms:*"; the list is
#   params.iam.wildcardServices). Effective permissions count: an Allow
#   statement removed by an unconditional Deny or outside the permissions
#   boundary is not reported.
# custom:
#   id: iam.wildcard-action
#   severity: critical
#   action: deny
#   targets: [pod, template, iamrole, iampolicy]
#   reads: [state.iam]
#   remediation: Replace the wildcard with the actions the workload calls, e.g. s3:GetObject and s3:ListBucket to read model weights, kms:Decrypt for the key that encrypts them.
#   example: |
#     apiVersion: iam.services.k8s.aws/v1alpha1
#     kind: Policy
#     metadata:
#       name: vllm-models
#       namespace: ai-inference
#     spec:
#       name: vllm-models
#       policyDocument: |
#         {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
#           "Action": "s3:*", "Resource": "arn:aws:s3:::agentic-ai-models/*"}]}
package tollgate.iam.wildcard_action

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

_detail := "name the actions the workload needs"

wide(g) if {
	g.action.pattern in _wildcards
}

_wildcards := {"*", "*:*"} | {concat("", [lower(svc), ":*"]) | some svc in lib.params.wildcardServices}
