# METADATA
# title: MIG NodePools launch only MIG-capable GPUs
# description: |-
#   A MIG NodePool (template label mig-enabled=true or a MIG configuration
#   label nvidia.com/mig.config; see params.nodepool.migLabels and
#   migConfigLabel) must restrict its instance types to ones whose GPUs
#   support MIG (A100, A30, H100, H200, B200: p4d, p4de, p5, p5e, p5en, ...),
#   never g5 (A10G), g6 (L4), g6e (L40S) or CPU instances, which the MIG
#   manager cannot partition. A MIG configuration label of the form
#   all-<profile> (all-3g.40gb, not all-balanced) must name a profile that every listed instance type's GPU
#   offers (3g.40gb exists on A100 80GB and H100, not on the A100 40GB of
#   p4d). Instance types the catalog does not know are not judged.
# custom:
#   id: nodepool.mig
#   severity: high
#   action: deny
#   targets: [nodepool]
#   remediation: List only MIG-capable instance types or families (p4d, p4de, p5, p5e, p5en, p6-b200) in the NodePool's requirements, and name a MIG configuration whose profile their GPUs offer.
#   example: |
#     apiVersion: karpenter.sh/v1
#     kind: NodePool
#     metadata:
#       name: gpu-mig-pool
#     spec:
#       template:
#         metadata:
#           labels:
#             mig-enabled: "true"
#         spec:
#           requirements:
#           - key: node.kubernetes.io/instance-type
#             operator: In
#             values: ["p4de.24xlarge", "g5.48xlarge"]
#           nodeClassRef:
#             group: karpenter.k8s.aws
#             kind: EC2NodeClass
#             name: gpu-mig-nodeclass
package tollgate.nodepool.mig

import data.tollgate.catalog
import data.tollgate.nodepool.lib
import data.tollgate.params.nodepool as params

violation contains _open_finding if {
	lib.mig
	not lib.named_types
	not lib.named_families
	not _gpu_names
}

violation contains _types_finding if {
	lib.mig
	some t in lib.named_types
	_not_mig(t)
}

violation contains _families_finding if {
	lib.mig
	some f in lib.named_families
	_not_mig_family(f)
}

violation contains _names_finding if {
	lib.mig
	some n in _gpu_names
	_not_mig_name(n)
}

violation contains _profile_finding if {
	startswith(lib.labels[params.migConfigLabel], "all-")
	regex.match(`^[0-9]+g\.[0-9]+gb$`, _profile)
	count(_missing_profile) > 0
}

# _not_mig holds for instance types known to have no MIG-capable GPU.
_not_mig(t) if {
	catalog.instanceTypes[t]
	not lib.mig_type(t)
}

_not_mig(t) if {
	not catalog.instanceTypes[t]
	lib.cpu_family(lib.family(t))
}

_not_mig_family(f) if {
	lib.catalog_family(f)
	every t in lib.family_types(f) {
		not lib.mig_type(t)
	}
}

_not_mig_family(f) if {
	not lib.catalog_family(f)
	lib.cpu_family(f)
}

_gpu_names := lib.listed(lib.gpu_name)

_mig_names := {lib.gpu_label_name(m) | some m, g in catalog.gpus; g.mig}

_known_names := {lib.gpu_label_name(m) | some m, _ in catalog.gpus}

_not_mig_name(n) if {
	n in _known_names
	not n in _mig_names
}

# _what describes an instance type's GPUs: "A10G", or "no GPU".
_what(t) := lib.gpu_model(t)

_what(t) := "no GPU" if not catalog.instanceTypes[t]

_family_what(f) := concat(", ", sort({lib.gpu_model(t) | some t in lib.family_types(f)})) if lib.catalog_family(f)

_family_what(f) := "no GPU" if not lib.catalog_family(f)

_mig_families := concat(", ", sort({lib.family(t) | some t, _ in catalog.instanceTypes; lib.mig_type(t)}))

_non_mig_models := concat(", ", sort({m | some m, g in catalog.gpus; not g.mig}))

_open_finding := {"msg": msg, "path": "spec.template.spec.requirements"} if {
	msg := sprintf("MIG NodePool does not restrict its instance types: Karpenter can launch GPUs without MIG (%s) or CPU instances; list MIG-capable instance types or families (%s)", [
		_non_mig_models, _mig_families,
	])
}

_types_finding := {"msg": msg, "path": lib.requirement_path(lib.instance_type)} if {
	bad := sort({sprintf("%s (%s)", [t, _what(t)]) | some t in lib.named_types; _not_mig(t)})
	msg := sprintf("MIG NodePool lists instance types whose GPUs cannot be partitioned with MIG: %s; MIG needs the GPUs of %s", [
		concat(", ", bad), _mig_families,
	])
}

_families_finding := {"msg": msg, "path": lib.requirement_path(lib.instance_family)} if {
	bad := sort({sprintf("%s (%s)", [f, _family_what(f)]) | some f in lib.named_families; _not_mig_family(f)})
	msg := sprintf("MIG NodePool lists instance families whose GPUs cannot be partitioned with MIG: %s; MIG needs the GPUs of %s", [
		concat(", ", bad), _mig_families,
	])
}

_names_finding := {"msg": msg, "path": lib.requirement_path(lib.gpu_name)} if {
	bad := sort({n | some n in _gpu_names; _not_mig_name(n)})
	msg := sprintf("MIG NodePool requires GPU names without MIG: %s", [concat(", ", bad)])
}

# _candidates are the catalog instance types the pool lists or whose
# families it lists.
_candidates := {t | some t in lib.named_types; catalog.instanceTypes[t]} if lib.named_types

_candidates := {t | some f in lib.named_families; some t in lib.family_types(f); catalog.instanceTypes[t]} if {
	not lib.named_types
	lib.named_families
}

_profile := substring(lib.labels[params.migConfigLabel], 4, -1)

_missing_profile := {t |
	some t in _candidates
	lib.mig_type(t)
	not _profile in catalog.gpus[lib.gpu_model(t)].profiles
}

_profile_finding := {"msg": msg, "path": "spec.template.metadata.labels"} if {
	bad := sort({sprintf("%s (%s: %s)", [t, m, concat(", ", catalog.gpus[m].profiles)]) |
		some t in _missing_profile
		m := lib.gpu_model(t)
	})
	msg := sprintf("MIG configuration %s=%s needs the profile %s, which these instance types' GPUs do not offer: %s", [
		params.migConfigLabel, lib.labels[params.migConfigLabel], _profile, concat("; ", bad),
	])
}
