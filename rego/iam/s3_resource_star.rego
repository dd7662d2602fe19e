# METADATA
# title: S3 actions on every bucket
# description: |-
#   S3 object and bucket actions must name the buckets (and prefixes) they
#   act on, not Resource "*", "arn:aws:s3:::*" or a bucket name that starts
#   with a wildcard. Account-level S3 actions that only accept "*"
#   (s3:ListAllMyBuckets and the others in params.iam.s3AccountActions) are
#   allowed on "*".
# custom:
#   id: iam.s3-resource-star
#   severity: high
#   action: deny
#   targets: [pod, template, iamrole, iampolicy]
#   reads: [state.iam]
#   remediation: 'Scope the statement to the buckets the workload uses: arn:aws:s3:::agentic-ai-models for s3:ListBucket and arn:aws:s3:::agentic-ai-models/* (or a prefix) for object actions.'
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
#           "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}
package tollgate.iam.s3_resource_star

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

_detail := "S3 object and bucket actions must name the buckets they act on"

wide(g) if {
	_s3_data_action(g.action)
	lib.any_bucket(g.resource)
}

_account_actions := {lower(a) | some a in lib.params.s3AccountActions}

# An action pattern that can grant S3 object or bucket actions: any s3:
# pattern but the account-level actions, or a broader pattern ("*", "*Object")
# that matches one.
_s3_data_action(act) if {
	act.service == "s3"
	not act.pattern in _account_actions
}

_s3_data_action(act) if {
	act.wild_service
	some name in ["s3:getobject", "s3:putobject", "s3:deleteobject", "s3:listbucket"]
	lib.may(act, name)
}
