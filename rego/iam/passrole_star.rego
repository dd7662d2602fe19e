# METADATA
# title: iam:PassRole on every role
# description: |-
#   iam:PassRole lets a workload hand a role to an AWS service; on "*" (or a
#   role name that starts with a wildcard) a pod can pass any role in the
#   account, including administrator roles, to a service it controls.
# custom:
#   id: iam.passrole-star
#   severity: critical
#   action: deny
#   targets: [pod, template, iamrole, iampolicy]
#   reads: [state.iam]
#   remediation: 'Name the roles the workload may pass (arn:aws:iam::123456789012:role/sagemaker-training) and add a condition on iam:PassedToService.'
#   example: |
#     apiVersion: iam.services.k8s.aws/v1alpha1
#     kind: Policy
#     metadata:
#       name: training-launcher
#       namespace: ai-training
#     spec:
#       name: training-launcher
#       policyDocument: |
#         {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
#           "Action": "iam:PassRole", "Resource": "*"}]}
package tollgate.iam.passrole_star

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

_detail := "name the roles the workload may pass"

wide(g) if {
	lib.service_may(g.action, "iam")
	lib.may(g.action, "iam:passrole")
	lib.unscoped(g.resource, "arn:aws:iam::000000000000:role/tollgate-any-role", `^arn:[^:]*:iam::[^:]*:(role/)?[*?]`)
}
