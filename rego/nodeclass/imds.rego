# METADATA
# title: EC2NodeClass nodes keep IMDSv2 at one hop
# description: |-
#   spec.metadataOptions.httpTokens must stay required (IMDSv2) and
#   httpPutResponseHopLimit at 1, Karpenter's defaults
#   (karpenter.sh/docs/concepts/nodeclasses, spec.metadataOptions). With
#   tokens optional, a pod that can make the node fetch a URL (SSRF) reads
#   the instance metadata without a token; with a hop limit above 1 the
#   token's response crosses the pod network hop, so any pod (not on host
#   networking) reaches IMDS and reads the node role's credentials. An
#   absent metadataOptions, or an absent field of it, takes the defaults and
#   passes. EKS Auto Mode NodeClasses (eks.amazonaws.com/v1) have no
#   metadataOptions, so this policy finds nothing to check there.
# custom:
#   id: nodeclass.imds
#   severity: high
#   action: deny
#   targets: [nodeclass]
#   remediation: 'Set metadataOptions: {httpTokens: required, httpPutResponseHopLimit: 1}, or drop metadataOptions for these defaults; give pods AWS access through EKS Pod Identity instead of the node role.'
#   example: |
#     apiVersion: karpenter.k8s.aws/v1
#     kind: EC2NodeClass
#     metadata:
#       name: gpu-nodeclass
#     spec:
#       role: KarpenterNodeRole-agentic-ai
#       amiSelectorTerms:
#       - alias: al2023@v20240807
#       subnetSelectorTerms:
#       - tags: {karpenter.sh/discovery: agentic-ai}
#       securityGroupSelectorTerms:
#       - tags: {karpenter.sh/discovery: agentic-ai}
#       metadataOptions:
#         httpTokens: optional
#         httpPutResponseHopLimit: 2
package tollgate.nodeclass.imds

violation contains {"msg": msg, "path": "spec.metadataOptions.httpTokens"} if {
	tokens := input.object.spec.metadataOptions.httpTokens
	tokens != "required"
	msg := sprintf("EC2NodeClass %s sets metadataOptions.httpTokens %v: IMDSv1 answers without a token; set httpTokens: required", [input.object.metadata.name, tokens])
}

violation contains {"msg": msg, "path": "spec.metadataOptions.httpPutResponseHopLimit"} if {
	hops := input.object.spec.metadataOptions.httpPutResponseHopLimit
	hops > 1
	msg := sprintf("EC2NodeClass %s sets metadataOptions.httpPutResponseHopLimit %v: pods reach the instance metadata and the node role's credentials; set it to 1", [input.object.metadata.name, hops])
}
