# METADATA
# title: EC2NodeClass block devices are encrypted
# description: |-
#   Each spec.blockDeviceMappings entry of an EC2NodeClass must set
#   ebs.encrypted: true. A mapping replaces Karpenter's default root volume
#   (which is encrypted), and an EBS volume is encrypted only when asked to
#   or when the account enables encryption by default, which Tollgate cannot
#   see: model weights, checkpoints and the container image cache would sit
#   on the node's volumes in clear (karpenter.sh/docs/concepts/nodeclasses,
#   spec.blockDeviceMappings). EKS Auto Mode NodeClasses
#   (eks.amazonaws.com/v1) have no blockDeviceMappings; their
#   spec.ephemeralStorage is encrypted by Auto Mode, so this policy finds
#   nothing to check there.
# custom:
#   id: nodeclass.ebs-encryption
#   severity: high
#   action: deny
#   targets: [nodeclass]
#   remediation: 'Set encrypted: true (and kmsKeyID: <key ARN> for a customer managed key) on every blockDeviceMappings[].ebs.'
#   example: |
#     apiVersion: karpenter.k8s.aws/v1
#     kind: EC2NodeClass
#     metadata:
#       name: gpu-training-nodeclass
#     spec:
#       role: KarpenterNodeRole-agentic-ai
#       amiSelectorTerms:
#       - alias: al2023@v20240807
#       subnetSelectorTerms:
#       - tags: {karpenter.sh/discovery: agentic-ai}
#       securityGroupSelectorTerms:
#       - tags: {karpenter.sh/discovery: agentic-ai}
#       blockDeviceMappings:
#       - deviceName: /dev/xvda
#         ebs:
#           volumeSize: 1000Gi
#           volumeType: gp3
package tollgate.nodeclass.ebs_encryption

violation contains {"msg": msg, "path": sprintf("spec.blockDeviceMappings[%d].ebs.encrypted", [i])} if {
	some i, m in input.object.spec.blockDeviceMappings
	object.get(m, ["ebs", "encrypted"], false) != true
	msg := sprintf("EC2NodeClass %s maps block device %s without ebs.encrypted: true: the node's volume (model weights, checkpoints, image cache) would not be encrypted", [
		input.object.metadata.name, object.get(m, "deviceName", sprintf("#%d", [i])),
	])
}
