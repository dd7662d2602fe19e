# METADATA
# title: MIG profile offered by the pod's GPUs
# description: |-
#   A pod that names a MIG profile (annotation tollgate.dev/mig-profile on the
#   pod, or on its namespace as a default) and requests nvidia.com/gpu must
#   name a profile that a GPU it can run on offers. The GPUs are those of the
#   catalog's instance types allowed by the pod's node selector and required
#   node affinity on node.kubernetes.io/instance-type,
#   karpenter.k8s.aws/instance-family and karpenter.sh/nodepool (a NodePool
#   allows the instance types its requirements allow); a pod that does not
#   narrow them may use any known GPU's profile. Tollgate's MIG mutator
#   rewrites the requests of pods with a valid profile and leaves the others
#   to this policy. When Tollgate knows where the pod can run
#   (input.state.placement), the GPUs are those of the NodePools and Nodes
#   that can host it instead. Direct requests of a MIG resource
#   (nvidia.com/mig-<profile>) are judged the same way whenever those GPUs
#   are narrowed (by placement or by the pod's selectors): a profile that
#   none of them offers is denied, with the profiles they do offer.
# custom:
#   id: gpu.mig-profile
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Name one of the valid profiles the message lists, or target instance types or NodePools whose GPUs offer the profile (p4d is A100 40GB, p4de A100 80GB, p5 H100 80GB, p5e and p5en H200; g5, g6 and g6e GPUs have no MIG).
#   example: |
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: tenant-a-inference
#       namespace: tenant-a
#       annotations:
#         tollgate.dev/mig-profile: 3g.40gb
#     spec:
#       nodeSelector:
#         node.kubernetes.io/instance-type: p4d.24xlarge
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
#         resources:
#           limits:
#             nvidia.com/gpu: 1
package tollgate.gpu.mig_profile

_annotation := "tollgate.dev/mig-profile"

_pod_profile := trim_space(object.get(input.pod.metadata, ["annotations", _annotation], ""))

_profile := _pod_profile if {
	_pod_profile != ""
} else := trim_space(object.get(input.namespace, ["annotations", _annotation], ""))

violation contains _finding if {
	_profile != ""
	some c in input.pod.containers
	_requests_gpu(c)
	not _profile in _valid
}

_requests_gpu(c) if c.resources.requests["nvidia.com/gpu"]

_requests_gpu(c) if c.resources.limits["nvidia.com/gpu"]

_catalog := data.tollgate.catalog

# _target_gpus are the GPU models of the instance types the pod can run on;
# every known model (EC2 or not) when the pod does not narrow the instance
# types, or narrows them to none Tollgate knows.
_target_types := {t |
	some t, _ in _catalog.instanceTypes
	_allows_all(_selector, t)
	_some_term_allows(t)
}

# The node selector holds in every term ((S and T1) or (S and T2) is S and
# (T1 or T2)), so it is checked once per instance type rather than once per
# term: copying it into every term costs terms times selector entries.
_some_term_allows(_) if count(_affinity_terms) == 0

_some_term_allows(t) if {
	some term in _affinity_terms
	_allows_all(object.get(term, "matchExpressions", []), t)
}

_target_gpus := {g | some g in _placement.gpus} if {
	_placement_narrows
} else := {_catalog.instanceTypes[t].gpu | some t in _target_types} if {
	_selectors_narrow
} else := {g | some g, _ in _catalog.gpus}

_placement := input.state.placement

# _placement_narrows: placement is known, something hosts the pod, and the
# catalog names every GPU it can reach.
_placement_narrows if {
	_placement.known
	_placement.fits
	_placement.gpusKnown
	count(_placement.gpus) > 0
}

_selectors_narrow if {
	count(_target_types) > 0
	count(_target_types) < count(_catalog.instanceTypes)
}

_narrowed if _placement_narrows

_narrowed if _selectors_narrow

# Direct MIG requests: [container index, profile] of each
# nvidia.com/mig-<profile> a container requests or limits.
_direct contains [i, trim_prefix(name, "nvidia.com/mig-")] if {
	some i, c in input.pod.containers
	some field in ["requests", "limits"]
	some name, _ in object.get(c, ["resources", field], {})
	startswith(name, "nvidia.com/mig-")
}

violation contains {"msg": msg, "path": concat("", [input.pod.containerPaths[i], ".resources"])} if {
	_narrowed
	some [i, profile] in _direct
	not profile in _valid
	msg := sprintf("nvidia.com/mig-%s: MIG profile %q %s; they offer: %s", [profile, profile, _direct_why, _list(_valid)])
}

_direct_why := sprintf("is not offered by the GPUs of the NodePools and Nodes that can host the pod (%s)", [concat(", ", sort(_target_gpus))]) if {
	_placement_narrows
} else := sprintf("is not offered by the GPUs the pod can run on (%s)", [concat(", ", sort(_target_gpus))])

_valid := {p | some g in _target_gpus; some p in object.get(_catalog.gpus[g], "profiles", [])}

# _selector is the node selector as requirements; _affinity_terms the
# pod's required node selector terms (ORed).
_selector := [{"key": k, "operator": "In", "values": [v]} | some k, v in object.get(input.pod.spec, "nodeSelector", {})]

_affinity_terms := object.get(input.pod.spec, ["affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"], [])

_allows_all(reqs, t) if {
	every r in reqs {
		_allows(r, t)
	}
}

_allows(r, t) if {
	r.key == "karpenter.sh/nodepool"
	r.operator == "In"
	_nodepools_allow(r.values, t)
}

_allows(r, _) if {
	r.key == "karpenter.sh/nodepool"
	r.operator != "In"
}

_allows(r, t) if {
	r.key != "karpenter.sh/nodepool"
	_type_allows(r, t)
}

_nodepools := object.get(input, ["state", "nodepools"], [])

# A NodePool the state does not hold does not narrow the choice.
_nodepools_allow(names, _) if {
	every np in _nodepools {
		not np.metadata.name in names
	}
}

_nodepools_allow(names, t) if {
	some np in _nodepools
	np.metadata.name in names
	every r in object.get(np, ["spec", "template", "spec", "requirements"], []) {
		_type_allows(r, t)
	}
}

_type_allows(r, _) if not r.key in {"node.kubernetes.io/instance-type", "karpenter.k8s.aws/instance-family"}

_type_allows(r, t) if {
	r.key == "node.kubernetes.io/instance-type"
	_op_allows(r, t)
}

_type_allows(r, t) if {
	r.key == "karpenter.k8s.aws/instance-family"
	_op_allows(r, split(t, ".")[0])
}

_op_allows(r, v) if {
	r.operator == "In"
	v in r.values
}

_op_allows(r, v) if {
	r.operator == "NotIn"
	not v in r.values
}

_op_allows(r, _) if not r.operator in {"In", "NotIn"}

_finding := {"msg": msg, "path": path} if {
	paths := [input.pod.containerPaths[i] | some i, c in input.pod.containers; _requests_gpu(c)]
	path := concat("", [paths[0], ".resources"])
	msg := sprintf("MIG profile %q (%s) %s; valid profiles: %s", [_profile, _source, _why, _list(_valid)])
}

_source := sprintf("pod annotation %s", [_annotation]) if {
	_pod_profile != ""
} else := sprintf("annotation %s of namespace %s", [_annotation, input.namespace.name])

_known := {p | some g in _catalog.gpus; some p in object.get(g, "profiles", [])}

_why := "is not a MIG profile of any GPU Tollgate knows" if {
	not _profile in _known
} else := sprintf("is not offered by the GPUs the pod can run on (%s)", [concat(", ", sort(_target_gpus))])

# _list orders profiles by compute slices, then memory: 1g.5gb before 1g.10gb.
_list(ps) := "none" if {
	count(ps) == 0
} else := concat(", ", [x[2] | some x in sort([[_slices(p), _memory(p), p] | some p in ps])])

_slices(p) := to_number(trim_suffix(split(p, ".")[0], "g"))

_memory(p) := to_number(trim_suffix(split(p, ".")[1], "gb"))
