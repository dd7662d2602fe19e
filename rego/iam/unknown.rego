# METADATA
# title: IAM documents unknown
# description: |-
#   The iam rules could not run because the IAM policy documents of the
#   pod's role are not known: no AWS credentials are configured, IAM did not
#   answer within iam.timeout (the documents are then fetched in the
#   background for the next pod), the role does not exist or cannot be read
#   with Tollgate's credentials, or an ACK document does not parse. Set the
#   action to deny to refuse such pods (actions: {iam.unknown: deny}).
# custom:
#   id: iam.unknown
#   severity: medium
#   action: warn
#   targets: [pod, template, iamrole, iampolicy]
#   reads: [state.iam]
#   remediation: Read the reason. Give Tollgate AWS credentials with iam:GetRole, iam:ListAttachedRolePolicies, iam:GetPolicy, iam:GetPolicyVersion, iam:ListRolePolicies and iam:GetRolePolicy on the workload roles (EKS Pod Identity or IRSA for the Tollgate ServiceAccount), fix the role ARN, or fix the document.
#   example: |
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm-0
#       namespace: ai-inference
#       annotations:
#         eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/role-that-does-not-exist
#     spec:
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
package tollgate.iam.unknown

violation contains {"msg": msg, "path": object.get(input.state.iam, "path", "")} if {
	input.state.iam.status == "unknown"
	msg := sprintf("%sthe IAM policy documents are unknown, so the iam rules did not run: %s", [_who, input.state.iam.reason])
}

default _who := ""

_who := sprintf("role %s (from %s): ", [input.state.iam.role, input.state.iam.source]) if {
	input.state.iam.role != ""
	input.state.iam.source != ""
}

_who := sprintf("role %s: ", [input.state.iam.role]) if {
	input.state.iam.role != ""
	object.get(input.state.iam, "source", "") == ""
}
