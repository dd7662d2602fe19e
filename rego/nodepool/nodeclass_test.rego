package tollgate.nodepool.nodeclass_test

import data.tollgate.nodepool.lib_test as t
import data.tollgate.nodepool.nodeclass

_with_ref(ref, rs) := t.pool({"template": {"spec": {"nodeClassRef": ref, "requirements": rs}}})

test_both_node_classes_pass if {
	nodeclass.violation == set() with input as t.good_gpu_pool({}, [t.families(["g5"]), t.gpu_count_gt("0")])
	nodeclass.violation == set() with input as t.good_auto_gpu_pool({}, [t.auto_families(["g5"]), t.auto_gpu_count_gt("0"), t.capacity(["spot"])])
}

test_a_kind_of_the_other_group_fails_at_kind if {
	nodeclass.violation == {{
		"msg": "nodeClassRef names group \"eks.amazonaws.com\", kind \"EC2NodeClass\", a NodeClass that neither self-managed Karpenter (karpenter.k8s.aws, EC2NodeClass) nor EKS Auto Mode (eks.amazonaws.com, NodeClass) provisions: Karpenter ignores the NodePool and it launches nothing; the kind of group eks.amazonaws.com is NodeClass (group and kind cannot be changed: recreate the NodePool)",
		"path": "spec.template.spec.nodeClassRef.kind",
	}} with input as _with_ref({"group": "eks.amazonaws.com", "kind": "EC2NodeClass", "name": "default"}, [])
	nodeclass.violation == {{
		"msg": "nodeClassRef names group \"karpenter.k8s.aws\", kind \"NodeClass\", a NodeClass that neither self-managed Karpenter (karpenter.k8s.aws, EC2NodeClass) nor EKS Auto Mode (eks.amazonaws.com, NodeClass) provisions: Karpenter ignores the NodePool and it launches nothing; the kind of group karpenter.k8s.aws is EC2NodeClass (group and kind cannot be changed: recreate the NodePool)",
		"path": "spec.template.spec.nodeClassRef.kind",
	}} with input as _with_ref({"group": "karpenter.k8s.aws", "kind": "NodeClass", "name": "default"}, [])
}

test_a_wrong_group_fails_at_group if {
	nodeclass.violation == {{
		"msg": "nodeClassRef names group \"karpenter.sh\", kind \"EC2NodeClass\", a NodeClass that neither self-managed Karpenter (karpenter.k8s.aws, EC2NodeClass) nor EKS Auto Mode (eks.amazonaws.com, NodeClass) provisions: Karpenter ignores the NodePool and it launches nothing; the group of kind EC2NodeClass is karpenter.k8s.aws (group and kind cannot be changed: recreate the NodePool)",
		"path": "spec.template.spec.nodeClassRef.group",
	}} with input as _with_ref({"group": "karpenter.sh", "kind": "EC2NodeClass", "name": "default"}, [])
}

test_another_providers_node_class_fails if {
	nodeclass.violation == {{
		"msg": "nodeClassRef names group \"karpenter.azure.com\", kind \"AKSNodeClass\", a NodeClass that neither self-managed Karpenter (karpenter.k8s.aws, EC2NodeClass) nor EKS Auto Mode (eks.amazonaws.com, NodeClass) provisions: Karpenter ignores the NodePool and it launches nothing; use one of them (group and kind cannot be changed: recreate the NodePool)",
		"path": "spec.template.spec.nodeClassRef",
	}} with input as _with_ref({"group": "karpenter.azure.com", "kind": "AKSNodeClass", "name": "default"}, [])
	count(nodeclass.violation) == 1 with input as _with_ref({"kind": "EC2NodeClass", "name": "default"}, [])
}

test_no_node_class_ref_is_left_to_the_api_server if {
	nodeclass.violation == set() with input as t.pool({"template": {"spec": {"requirements": []}}})
}

test_requirement_keys_of_the_other_flavour_fail if {
	nodeclass.violation == {{
		"msg": "requirement on karpenter.k8s.aws/instance-gpu-count in an EKS Auto Mode NodePool: Auto Mode labels its nodes eks.amazonaws.com/instance-gpu-count, not with self-managed Karpenter's karpenter.k8s.aws keys; write the requirement on eks.amazonaws.com/instance-gpu-count",
		"path": "spec.template.spec.requirements[1].key",
	}} with input as t.good_auto_gpu_pool({}, [t.auto_families(["g5"]), t.gpu_count_gt("0")])
	nodeclass.violation == {{
		"msg": "requirement on eks.amazonaws.com/instance-family in a NodePool of self-managed Karpenter (EC2NodeClass): eks.amazonaws.com keys are EKS Auto Mode's, and Karpenter labels its nodes karpenter.k8s.aws/instance-family; write the requirement on karpenter.k8s.aws/instance-family",
		"path": "spec.template.spec.requirements[0].key",
	}} with input as t.good_gpu_pool({}, [t.auto_families(["g5"])])
	nodeclass.violation == set() with input as t.good_gpu_pool({}, [t.req("eks.amazonaws.com/compute-type", "NotIn", ["auto"])])
}
