package tollgate.nodeclass.ami_test

import data.tollgate.nodeclass.ami

nodeclass(terms) := {"object": {
	"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass",
	"metadata": {"name": "gpu-mig-nodeclass"},
	"spec": {"role": "KarpenterNodeRole-agentic-ai", "amiSelectorTerms": terms},
}}

test_pinned_terms_pass if {
	ami.violation == set() with input as nodeclass([{"alias": "al2023@v20240807"}])
	ami.violation == set() with input as nodeclass([{"id": "ami-0123456789abcdef0"}])
	ami.violation == set() with input as nodeclass([{"id": "ami-0123456789abcdef0", "tags": {"team": "ml"}}])
	ami.violation == set() with input as nodeclass([{"name": "gpu-base-2024-08-07", "owner": "self"}])
}

test_auto_mode_nodeclass_has_nothing_to_check if {
	review := {"object": {
		"apiVersion": "eks.amazonaws.com/v1", "kind": "NodeClass",
		"metadata": {"name": "gpu"}, "spec": {"ephemeralStorage": {"size": "160Gi"}},
	}}
	ami.violation == set() with input as review
}

test_latest_alias_warns if {
	ami.violation == {{
		"msg": "EC2NodeClass gpu-mig-nodeclass selects the AMI alias al2023@latest: every EKS AMI release replaces its nodes unstaged; pin a version (al2023@v20240807) or an AMI id",
		"path": "spec.amiSelectorTerms[0].alias",
	}} with input as nodeclass([{"alias": "al2023@latest"}])
	count(ami.violation) == 1 with input as nodeclass([{"alias": "bottlerocket@latest"}])
}

test_tags_without_id_drift if {
	ami.violation == {{
		"msg": "EC2NodeClass gpu-mig-nodeclass selects AMIs by tags environment, team without an id: Karpenter takes the newest match at every launch, so a new image drifts the nodes; pin an id or an alias version",
		"path": "spec.amiSelectorTerms[1]",
	}} with input as nodeclass([{"id": "ami-0123456789abcdef0"}, {"tags": {"team": "ml", "environment": "prod"}}])
}

test_name_glob_drifts if {
	ami.violation == {{
		"msg": `EC2NodeClass gpu-mig-nodeclass selects AMIs by the name pattern "gpu-base-*" without an id: Karpenter takes the newest match at every launch, so a new image drifts the nodes; pin an id or an alias version`,
		"path": "spec.amiSelectorTerms[0]",
	}} with input as nodeclass([{"name": "gpu-base-*", "owner": "self"}])
	count(ami.violation) == 1 with input as nodeclass([{"name": "gpu-base-2024-08-0?"}])
}

test_name_glob_and_tags_are_two_reasons if {
	count(ami.violation) == 2 with input as nodeclass([{"name": "gpu-*", "tags": {"team": "ml"}}])
}
