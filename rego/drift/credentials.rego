# METADATA
# title: Pod without the AWS credentials of its IAM role
# description: |-
#   A running pod whose ServiceAccount (or Pod Identity association) maps
#   to an IAM role lacks the credentials the credentials mutator injects at
#   admission today: the Pod Identity or IRSA environment variables, the
#   projected token volume and its mounts. Such a pod falls back to the
#   node's instance role, which is usually wider than its own, or fails its
#   AWS calls. Only audits report drift; admission applies the mutation
#   instead.
# custom:
#   id: drift.credentials
#   severity: high
#   action: audit
#   targets: [drift]
#   remediation: Recreate the pod (roll out its workload again) so that admission injects the credentials; until then, check what it can reach through the node's instance role.
#   example: |-
#     apiVersion: v1
#     kind: ServiceAccount
#     metadata:
#       name: rag-agent
#       namespace: agents
#       annotations:
#         eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/rag-agent
#     ---
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: rag-agent-0
#       namespace: agents
#     spec:
#       serviceAccountName: rag-agent
#       containers:
#       - name: agent
#         image: python:3.12-slim
package tollgate.drift.credentials

import data.tollgate.drift.lib

violation contains {"msg": msg, "path": lib.path(ops)} if {
	ops := lib.changes(`^spec\.((initContainers|containers)\[[0-9]+\]\.(env|volumeMounts)|volumes)(\[|$)`)
	count(ops) > 0
	msg := sprintf("lacks the AWS credentials the credentials mutator injects for its IAM role today (%s)", [lib.summary(ops)])
}
