# METADATA
# title: Secrets Manager reads on every secret
# description: |-
#   secretsmanager:GetSecretValue on "*" (or a secret name that starts with
#   a wildcard) lets a pod read every secret in the account, not only the
#   API keys it needs.
# custom:
#   id: iam.secrets-scope
#   severity: medium
#   action: warn
#   targets: [pod, template, iamrole, iampolicy]
#   reads: [state.iam]
#   remediation: 'Name the secrets, or a name prefix: arn:aws:secretsmanager:us-west-2:123456789012:secret:vllm-api-keys-*.'
#   example: |
#     apiVersion: iam.services.k8s.aws/v1alpha1
#     kind: Policy
#     metadata:
#       name: vllm-secrets
#       namespace: ai-inference
#     spec:
#       name: vllm-secrets
#       policyDocument: |
#         {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
#           "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
package tollgate.iam.secrets_scope

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

_detail := "name the secrets the workload reads"

wide(g) if {
	lib.service_may(g.action, "secretsmanager")
	lib.may(g.action, "secretsmanager:getsecretvalue")
	lib.unscoped(g.resource, "arn:aws:secretsmanager:us-east-1:000000000000:secret:tollgate-any-secret-AbCdEf", `^arn:[^:]*:secretsmanager:[^:]*:[^:]*:(secret:)?[*?]`)
}
