# METADATA
# title: NodePool requirements can match
# description: |-
#   A NodePool whose requirements no instance can satisfy launches nothing,
#   and pods wait for it forever. Refused: In requirements on one key with
#   no value in common (or whose values NotIn removes), DoesNotExist
#   together with a requirement that needs the label, numeric bounds that
#   leave no integer (Gt 4 with Lt 2), capacity types Karpenter does not
#   offer, and instance types or families of which none satisfies the other
#   requirements, as the catalog knows them (instance-gpu-count Gt 0 with
#   only CPU instance types, instance-family In [p5] with g5 instance types).
#   Instance types the catalog does not know are assumed to match.
# custom:
#   id: nodepool.requirements
#   severity: high
#   action: deny
#   targets: [nodepool]
#   remediation: Remove the contradiction the message names, for example list GPU instance types when the pool requires instance-gpu-count Gt 0, or drop the requirement that excludes every listed instance type.
#   example: |
#     apiVersion: karpenter.sh/v1
#     kind: NodePool
#     metadata:
#       name: gpu-pool
#     spec:
#       template:
#         spec:
#           requirements:
#           - key: node.kubernetes.io/instance-type
#             operator: In
#             values: ["m5.large", "c5.xlarge"]
#           - key: karpenter.k8s.aws/instance-gpu-count
#             operator: Gt
#             values: ["0"]
#           nodeClassRef:
#             group: karpenter.k8s.aws
#             kind: EC2NodeClass
#             name: default
package tollgate.nodepool.requirements

import data.tollgate.nodepool.lib

_keys := lib.keys

_on(key) := [r | some [_, r] in lib.on(key)]

_described(key) := concat(" and ", [lib.describe(r) | some r in _on(key)])

# In requirements on one key that leave no value.
violation contains {"msg": msg, "path": lib.requirement_path(key)} if {
	some key in _keys
	count(lib.listed(key)) == 0
	msg := sprintf("requirements on %s can never match: no value satisfies %s", [lib.written(key), _described(key)])
}

# DoesNotExist with a requirement that needs the label.
violation contains {"msg": msg, "path": lib.requirement_path(key)} if {
	some key in _does_not_exist
	some other in _on(key)
	other.operator in {"In", "Exists", "Gt", "Gte", "Lt", "Lte"}
	msg := sprintf("requirements on %s can never match: DoesNotExist contradicts %s", [lib.written(key), lib.describe(other)])
}

# The keys of DoesNotExist requirements: pairing each of them with every
# other requirement on its key would cost their product.
_does_not_exist contains lib.canonical(r.key) if {
	some r in lib.requirements
	r.operator == "DoesNotExist"
}

# Numeric bounds that leave no integer.
violation contains {"msg": msg, "path": lib.requirement_path(key)} if {
	some key in _keys
	lower := max(_lower(key))
	upper := min(_upper(key))
	lower > upper
	msg := sprintf("requirements on %s can never match: no integer satisfies %s", [lib.written(key), _described(key)])
}

_lower(key) := {v |
	some r in _on(key)
	r.operator in {"Gt", "Gte"}
	n := to_number(r.values[0])
	v := _bound(r.operator, n)
}

_upper(key) := {v |
	some r in _on(key)
	r.operator in {"Lt", "Lte"}
	n := to_number(r.values[0])
	v := _bound(r.operator, n)
}

_bound("Gt", n) := n + 1

_bound("Gte", n) := n

_bound("Lt", n) := n - 1

_bound("Lte", n) := n

# Capacity types Karpenter does not offer.
violation contains {"msg": msg, "path": lib.requirement_path(lib.capacity_type)} if {
	values := lib.listed(lib.capacity_type)
	count(values) > 0
	count(values & lib.capacity_types) == 0
	msg := sprintf("requirements on %s can never match: %s names no capacity type Karpenter offers (on-demand, reserved, spot)", [
		lib.capacity_type, _described(lib.capacity_type),
	])
}

# Listed instance types of which none satisfies the other requirements.
violation contains {"msg": msg, "path": lib.requirement_path(lib.instance_type)} if {
	count(lib.named_types) > 0
	every t in lib.named_types {
		count(lib.rejections(t)) > 0
	}
	msg := sprintf("no listed instance type satisfies the other requirements: %s", [concat(", ", sort({_why(t) | some t in lib.named_types}))])
}

# Listed instance families of which no instance satisfies the other
# requirements (only when no instance types are listed).
violation contains {"msg": msg, "path": lib.requirement_path(lib.instance_family)} if {
	not lib.named_types
	count(lib.named_families) > 0
	every f in lib.named_families {
		_family_rejected(f)
	}
	msg := sprintf("no instance of the listed families satisfies the other requirements: %s", [concat(", ", sort({_family_why(f) | some f in lib.named_families}))])
}

_family_rejected(f) if {
	ts := lib.family_types(f)
	every t in ts {
		count(lib.rejections(t)) > 0
	}
}

_why(t) := sprintf("%s (%s)", [t, concat("; ", sort(lib.rejections(t)))])

_family_why(f) := sprintf("%s (%s)", [f, sort({r | some t in lib.family_types(f); some r in lib.rejections(t)})[0]])

# Malformed requirements, which Karpenter's validation refuses: an unknown
# operator, and a comparison without exactly one integer value (the
# karpenter.sh/v1 NodePool CRD: "Valid operators are In, NotIn, Exists,
# DoesNotExist. Gt, Lt, Gte, and Lte"; "If the operator is Gt, Lt, Gte, or
# Lte, the values array must have a single element, which will be
# interpreted as an integer").
_operators := {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Gte", "Lte"}

violation contains {"msg": msg, "path": sprintf("spec.template.spec.requirements[%d].operator", [i])} if {
	some i, r in lib.requirements
	not r.operator in _operators
	msg := sprintf("requirement on %s has operator %q, which Karpenter does not know (In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte or Lte)", [object.get(r, "key", ""), object.get(r, "operator", "")])
}

violation contains {"msg": msg, "path": sprintf("spec.template.spec.requirements[%d].values", [i])} if {
	some i, r in lib.requirements
	r.operator in {"Gt", "Lt", "Gte", "Lte"}
	not _one_integer(r)
	msg := sprintf("requirement on %s with operator %s needs exactly one integer value, not %v", [object.get(r, "key", ""), r.operator, object.get(r, "values", [])])
}

_one_integer(r) if {
	count(r.values) == 1
	regex.match(`^-?[0-9]+$`, r.values[0])
}
