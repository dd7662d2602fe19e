# METADATA
# title: EC2NodeClasses pin the AMI their nodes launch from
# description: |-
#   Karpenter resolves spec.amiSelectorTerms every time it launches a node
#   and replaces running nodes whose AMI no longer matches (drift). An alias
#   ending in @latest (al2023@latest) follows each EKS optimized AMI release,
#   so a faulty release reaches every GPU node of the class unstaged;
#   Karpenter "heavily recommends against" @latest outside pre-production
#   and pins a version instead, alias al2023@v20240807
#   (karpenter.sh/docs/tasks/managing-amis, "Controlling AMI Replacement").
#   A term with tags, or a name with a * or ? wildcard, and no id matches
#   whichever AMIs carry the tag or fit the pattern, and Karpenter takes the
#   newest of them (karpenter.sh/docs/concepts/nodeclasses,
#   spec.amiSelectorTerms): a new image tagged or named alike becomes the
#   next node's AMI. An id, a pinned alias version, or an exact name pins it.
#   EKS Auto Mode NodeClasses (eks.amazonaws.com/v1) have no
#   amiSelectorTerms: AWS chooses and patches their AMIs, and this policy
#   finds nothing to check there.
# custom:
#   id: nodeclass.ami
#   severity: medium
#   action: warn
#   targets: [nodeclass]
#   remediation: 'Pin the AMI: amiSelectorTerms: [{alias: al2023@v20240807}] (a released version), or an id: ami-..., and roll newer versions out in stages.'
#   example: |
#     apiVersion: karpenter.k8s.aws/v1
#     kind: EC2NodeClass
#     metadata:
#       name: gpu-mig-nodeclass
#     spec:
#       role: KarpenterNodeRole-agentic-ai
#       amiSelectorTerms:
#       - alias: al2023@latest
#       subnetSelectorTerms:
#       - tags: {karpenter.sh/discovery: agentic-ai}
#       securityGroupSelectorTerms:
#       - tags: {karpenter.sh/discovery: agentic-ai}
package tollgate.nodeclass.ami

violation contains {"msg": msg, "path": sprintf("spec.amiSelectorTerms[%d].alias", [i])} if {
	some i, term in input.object.spec.amiSelectorTerms
	endswith(object.get(term, "alias", ""), "@latest")
	msg := sprintf("EC2NodeClass %s selects the AMI alias %s: every EKS AMI release replaces its nodes unstaged; pin a version (%s@v20240807) or an AMI id", [
		input.object.metadata.name, term.alias, split(term.alias, "@")[0],
	])
}

violation contains {"msg": msg, "path": sprintf("spec.amiSelectorTerms[%d]", [i])} if {
	some i, term in input.object.spec.amiSelectorTerms
	object.get(term, "id", "") == ""
	object.get(term, "alias", "") == ""
	some why in _drifts(term)
	msg := sprintf("EC2NodeClass %s selects AMIs by %s without an id: Karpenter takes the newest match at every launch, so a new image drifts the nodes; pin an id or an alias version", [
		input.object.metadata.name, why,
	])
}

_drifts(term) := {w |
	some w in [_tag_why(term), _name_why(term)]
	w != ""
}

default _tag_why(_) := ""

_tag_why(term) := sprintf("tags %s", [concat(", ", sort(object.keys(term.tags)))]) if count(object.get(term, "tags", {})) > 0

default _name_why(_) := ""

_name_why(term) := sprintf("the name pattern %q", [term.name]) if regex.match(`[*?]`, object.get(term, "name", ""))
