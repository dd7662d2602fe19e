package tollgate.nodeclass.ebs_encryption_test

import data.tollgate.nodeclass.ebs_encryption

nodeclass(mappings) := {"object": {
	"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass",
	"metadata": {"name": "gpu-training-nodeclass"},
	"spec": {"role": "KarpenterNodeRole-agentic-ai", "blockDeviceMappings": mappings},
}}

root(ebs) := {"deviceName": "/dev/xvda", "ebs": object.union({"volumeSize": "1000Gi", "volumeType": "gp3"}, ebs)}

test_encrypted_and_absent_pass if {
	ebs_encryption.violation == set() with input as nodeclass([root({"encrypted": true})])
	ebs_encryption.violation == set() with input as nodeclass([root({"encrypted": true, "kmsKeyID": "arn:aws:kms:us-west-2:123456789012:key/k"})])
	ebs_encryption.violation == set() with input as {"object": {"metadata": {"name": "default"}, "spec": {"role": "r"}}}
}

test_unencrypted_denied if {
	ebs_encryption.violation == {{
		"msg": "EC2NodeClass gpu-training-nodeclass maps block device /dev/xvda without ebs.encrypted: true: the node's volume (model weights, checkpoints, image cache) would not be encrypted",
		"path": "spec.blockDeviceMappings[0].ebs.encrypted",
	}} with input as nodeclass([root({})])
	count(ebs_encryption.violation) == 1 with input as nodeclass([root({"encrypted": false})])
	count(ebs_encryption.violation) == 1 with input as nodeclass([root({"encrypted": "true"})])
}

test_each_mapping_checked if {
	ebs_encryption.violation == {{
		"msg": "EC2NodeClass gpu-training-nodeclass maps block device #1 without ebs.encrypted: true: the node's volume (model weights, checkpoints, image cache) would not be encrypted",
		"path": "spec.blockDeviceMappings[1].ebs.encrypted",
	}} with input as nodeclass([root({"encrypted": true}), {"ebs": {"volumeSize": "500Gi"}}])
}
