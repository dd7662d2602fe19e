# METADATA
# title: Wildcard IAM grants narrowed by a condition
# description: |-
#   A grant that iam.wildcard-action, iam.s3-resource-star,
#   iam.kms-key-star, iam.passrole-star or iam.secrets-scope would report
#   but that a condition Tollgate understands narrows: kms:ViaService,
#   s3:prefix or aws:ResourceTag/<key> under StringEquals, StringLike,
#   ArnEquals, ArnLike or ForAnyValue. The condition limits the requests the
#   grant allows, so it is not refused as the unconditional finding, but it
#   is still wider than naming the resources. Conditions on keys Tollgate
#   does not understand, and operators that match when the key is absent
#   (...IfExists, ForAllValues, Null), do not narrow: those grants get the
#   unconditional finding, whose message says so. Effective grants are
#   computed in internal/iam/effective (docs/iam.md).
# custom:
#   id: iam.conditional-wildcard
#   severity: low
#   action: warn
#   targets: [pod, template, iamrole, iampolicy]
#   reads: [state.iam]
#   remediation: 'Name the resources as well as the condition: the key ARN for kms:Decrypt through S3, the bucket and prefix for S3 actions.'
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
#           "Action": "kms:Decrypt", "Resource": "*",
#           "Condition": {"StringEquals": {"kms:ViaService": "s3.us-west-2.amazonaws.com"}}}]}
package tollgate.iam.conditional_wildcard

import data.tollgate.iam.kms_key_star
import data.tollgate.iam.lib
import data.tollgate.iam.passrole_star
import data.tollgate.iam.s3_resource_star
import data.tollgate.iam.secrets_scope
import data.tollgate.iam.wildcard_action

_rules := {
	"iam.wildcard-action": wildcard_action.conditional,
	"iam.s3-resource-star": s3_resource_star.conditional,
	"iam.kms-key-star": kms_key_star.conditional,
	"iam.passrole-star": passrole_star.conditional,
	"iam.secrets-scope": secrets_scope.conditional,
}

violation contains {"msg": msg, "path": object.get(lib.policy(c.grant), "path", "")} if {
	some id, cs in _rules
	some c in cs
	g := c.grant
	msg := sprintf("%s%s, %s: allows %s only when %s; without the condition this is %s (%s)%s", [
		lib.subject, lib.policy_label(lib.policy(g)), lib.statement_label(g.index, lib.statement(g)),
		_granted(g), lib.condition_text(g), id, c.detail, lib.notes(g),
	])
}

_granted(g) := sprintf("%s on %s", [g.action.text, g.resource.text]) if not g.limited

_granted(g) := sprintf("%s on %s (effective, as limited by %s)", [g.action.text, g.resource.text, concat(" and ", g.limited_by)]) if g.limited
