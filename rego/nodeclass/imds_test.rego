package tollgate.nodeclass.imds_test

import data.tollgate.nodeclass.imds

nodeclass(opts) := {"object": {
	"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass",
	"metadata": {"name": "gpu-nodeclass"},
	"spec": {"role": "KarpenterNodeRole-agentic-ai", "metadataOptions": opts},
}}

test_defaults_pass if {
	imds.violation == set() with input as {"object": {"metadata": {"name": "gpu-nodeclass"}, "spec": {"role": "r"}}}
	imds.violation == set() with input as nodeclass({})
	imds.violation == set() with input as nodeclass({"httpTokens": "required", "httpPutResponseHopLimit": 1, "httpEndpoint": "enabled"})
	imds.violation == set() with input as nodeclass({"httpEndpoint": "disabled"})
}

test_optional_tokens_denied if {
	imds.violation == {{
		"msg": "EC2NodeClass gpu-nodeclass sets metadataOptions.httpTokens optional: IMDSv1 answers without a token; set httpTokens: required",
		"path": "spec.metadataOptions.httpTokens",
	}} with input as nodeclass({"httpTokens": "optional"})
}

test_hop_limit_above_one_denied if {
	imds.violation == {{
		"msg": "EC2NodeClass gpu-nodeclass sets metadataOptions.httpPutResponseHopLimit 2: pods reach the instance metadata and the node role's credentials; set it to 1",
		"path": "spec.metadataOptions.httpPutResponseHopLimit",
	}} with input as nodeclass({"httpTokens": "required", "httpPutResponseHopLimit": 2})
	count(imds.violation) == 2 with input as nodeclass({"httpTokens": "optional", "httpPutResponseHopLimit": 64})
}
