# METADATA
# title: NodePools reference a NodeClass that Karpenter or EKS Auto Mode provisions
# description: |-
#   spec.template.spec.nodeClassRef must name one of the two NodeClasses of
#   EKS: group karpenter.k8s.aws, kind EC2NodeClass (self-managed Karpenter)
#   or group eks.amazonaws.com, kind NodeClass (EKS Auto Mode, whose
#   built-in one is named default). Karpenter manages only the NodePools
#   whose NodeClass kind its cloud provider supports and ignores the others,
#   so such a pool launches nothing; and group and kind cannot be changed
#   once the NodePool exists. Requirements must also use the instance
#   labels of the NodeClass's flavour: EKS Auto Mode labels its nodes
#   eks.amazonaws.com/instance-*, self-managed Karpenter
#   karpenter.k8s.aws/instance-*, and a key of the other flavour names a
#   label its nodes never carry.
# custom:
#   id: nodepool.nodeclass
#   severity: high
#   action: deny
#   targets: [nodepool]
#   remediation: 'Set nodeClassRef to {group: karpenter.k8s.aws, kind: EC2NodeClass} with self-managed Karpenter, or {group: eks.amazonaws.com, kind: NodeClass} on EKS Auto Mode (name: default for the built-in NodeClass), recreating the NodePool since group and kind are immutable, and write requirements with that flavour''s instance label keys.'
#   example: |
#     apiVersion: karpenter.sh/v1
#     kind: NodePool
#     metadata:
#       name: gpu-inference-pool
#     spec:
#       template:
#         spec:
#           requirements:
#           - key: eks.amazonaws.com/instance-family
#             operator: In
#             values: ["g5", "g6e"]
#           nodeClassRef:
#             group: eks.amazonaws.com
#             kind: EC2NodeClass
#             name: default
#           taints:
#           - key: nvidia.com/gpu
#             effect: NoSchedule
#       limits:
#         nvidia.com/gpu: 16
package tollgate.nodepool.nodeclass

# Sources: Karpenter manages a NodePool only when its nodeClassRef's group
# and kind are those of a NodeClass its cloud provider supports
# (kubernetes-sigs/karpenter pkg/utils/nodepool IsManaged); the NodePool
# CRD makes both immutable ("nodeClassRef.group is immutable",
# conformance/crds/karpenter.sh_nodepools.yaml); EKS Auto Mode's NodeClass
# and labels: https://docs.aws.amazon.com/eks/latest/userguide/create-node-pool.html
# ("EKS Auto Mode uses different labels than Karpenter").

import data.tollgate.nodepool.lib

_ref := lib.node_class_ref

_group := object.get(_ref, "group", "")

_kind := object.get(_ref, "kind", "")

_path := "spec.template.spec.nodeClassRef"

_kinds := {c.group: c.kind | some c in lib.node_classes}

_supported if {"group": _group, "kind": _kind} in lib.node_classes

violation contains {"msg": msg, "path": path} if {
	input.object.spec.template.spec.nodeClassRef
	not _supported
	[path, hint] := _fix
	msg := sprintf("nodeClassRef names group %q, kind %q, a NodeClass that neither self-managed Karpenter (karpenter.k8s.aws, EC2NodeClass) nor EKS Auto Mode (eks.amazonaws.com, NodeClass) provisions: Karpenter ignores the NodePool and it launches nothing; %s (group and kind cannot be changed: recreate the NodePool)", [
		_group, _kind, hint,
	])
}

# _fix is the field at fault and what to write there.
_fix := [concat(".", [_path, "kind"]), sprintf("the kind of group %s is %s", [_group, _kinds[_group]])] if _kinds[_group]

_fix := [concat(".", [_path, "group"]), sprintf("the group of kind %s is %s", [_kind, _group_of[_kind]])] if {
	not _kinds[_group]
	_group_of[_kind]
}

_fix := [_path, "use one of them"] if {
	not _kinds[_group]
	not _group_of[_kind]
}

_group_of := {c.kind: c.group | some c in lib.node_classes}

# Requirement keys of the other flavour than the NodeClass's.
violation contains {"msg": msg, "path": sprintf("spec.template.spec.requirements[%d].key", [i])} if {
	lib.auto_mode
	_kind == "NodeClass"
	some i, r in lib.requirements
	lib.karpenter_key(r.key)
	msg := sprintf("requirement on %s in an EKS Auto Mode NodePool: Auto Mode labels its nodes %s, not with self-managed Karpenter's karpenter.k8s.aws keys; write the requirement on %s", [
		r.key, _auto_key(r.key), _auto_key(r.key),
	])
}

violation contains {"msg": msg, "path": sprintf("spec.template.spec.requirements[%d].key", [i])} if {
	_group == lib.karpenter_domain
	_kind == "EC2NodeClass"
	some i, r in lib.requirements
	lib.auto_mode_key(r.key)
	msg := sprintf("requirement on %s in a NodePool of self-managed Karpenter (EC2NodeClass): eks.amazonaws.com keys are EKS Auto Mode's, and Karpenter labels its nodes %s; write the requirement on %s", [
		r.key, lib.canonical(r.key), lib.canonical(r.key),
	])
}

_auto_key(key) := concat("/", [lib.auto_mode_domain, substring(key, count(lib.karpenter_domain) + 1, -1)])
