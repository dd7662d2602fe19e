# METADATA
# title: Karpenter NodePool helpers
# description: |-
#   What the nodepool policies share: the requirements, labels and taints of
#   the NodePool under evaluation (input.object), what an EC2 instance type
#   offers (data.tollgate.catalog: GPU model and count, MIG profiles), and
#   which instance types a NodePool's requirements admit. Karpenter ANDs a
#   NodePool's requirements; a node label that an instance type does not
#   carry (instance-gpu-count on a CPU instance) satisfies only NotIn and
#   DoesNotExist, as in Karpenter's scheduling. EKS Auto Mode NodePools are
#   read like self-managed ones: their eks.amazonaws.com/instance-* keys
#   stand for the karpenter.k8s.aws/instance-* keys of the same name.
package tollgate.nodepool.lib

import data.tollgate.catalog
import data.tollgate.params.nodepool as params

instance_type := "node.kubernetes.io/instance-type"

instance_family := "karpenter.k8s.aws/instance-family"

instance_category := "karpenter.k8s.aws/instance-category"

instance_generation := "karpenter.k8s.aws/instance-generation"

gpu_count := "karpenter.k8s.aws/instance-gpu-count"

gpu_name := "karpenter.k8s.aws/instance-gpu-name"

gpu_manufacturer := "karpenter.k8s.aws/instance-gpu-manufacturer"

capacity_type := "karpenter.sh/capacity-type"

# Instance labels come in two flavours: self-managed Karpenter on AWS labels
# nodes karpenter.k8s.aws/<name>, EKS Auto Mode eks.amazonaws.com/<name>
# ("EKS Auto Mode uses different labels than Karpenter", with the list
# below: https://docs.aws.amazon.com/eks/latest/userguide/create-node-pool.html#auto-supported-labels).
# The policies name a label by its karpenter.k8s.aws key (the constants
# above); canonical(key) maps an Auto Mode key to it and leaves any other
# key as it is. eks.amazonaws.com/compute-type has no Karpenter
# counterpart and stays itself.
karpenter_domain := "karpenter.k8s.aws"

auto_mode_domain := "eks.amazonaws.com"

# _canonical is a literal, so that it costs nothing per review.
_canonical := {
	"eks.amazonaws.com/instance-hypervisor": "karpenter.k8s.aws/instance-hypervisor",
	"eks.amazonaws.com/instance-encryption-in-transit-supported": "karpenter.k8s.aws/instance-encryption-in-transit-supported",
	"eks.amazonaws.com/instance-category": "karpenter.k8s.aws/instance-category",
	"eks.amazonaws.com/instance-generation": "karpenter.k8s.aws/instance-generation",
	"eks.amazonaws.com/instance-family": "karpenter.k8s.aws/instance-family",
	"eks.amazonaws.com/instance-size": "karpenter.k8s.aws/instance-size",
	"eks.amazonaws.com/instance-cpu": "karpenter.k8s.aws/instance-cpu",
	"eks.amazonaws.com/instance-cpu-manufacturer": "karpenter.k8s.aws/instance-cpu-manufacturer",
	"eks.amazonaws.com/instance-memory": "karpenter.k8s.aws/instance-memory",
	"eks.amazonaws.com/instance-ebs-bandwidth": "karpenter.k8s.aws/instance-ebs-bandwidth",
	"eks.amazonaws.com/instance-network-bandwidth": "karpenter.k8s.aws/instance-network-bandwidth",
	"eks.amazonaws.com/instance-gpu-name": "karpenter.k8s.aws/instance-gpu-name",
	"eks.amazonaws.com/instance-gpu-manufacturer": "karpenter.k8s.aws/instance-gpu-manufacturer",
	"eks.amazonaws.com/instance-gpu-count": "karpenter.k8s.aws/instance-gpu-count",
	"eks.amazonaws.com/instance-gpu-memory": "karpenter.k8s.aws/instance-gpu-memory",
	"eks.amazonaws.com/instance-local-nvme": "karpenter.k8s.aws/instance-local-nvme",
}

canonical(key) := object.get(_canonical, key, key)

# auto_mode_key(key) reports an Auto Mode instance label key;
# karpenter_key(key) one of self-managed Karpenter's.
auto_mode_key(key) if _canonical[key]

karpenter_key(key) if {
	startswith(key, "karpenter.k8s.aws/")
	_canonical[concat("", [auto_mode_domain, substring(key, count(karpenter_domain), -1)])]
}

# The NodeClasses of the two: EC2NodeClass for self-managed Karpenter
# (https://karpenter.sh/docs/concepts/nodeclasses/), NodeClass for EKS Auto
# Mode (its built-in one is named default; the sample NodePool of
# https://docs.aws.amazon.com/eks/latest/userguide/create-node-pool.html).
node_classes := {
	{"group": karpenter_domain, "kind": "EC2NodeClass"},
	{"group": auto_mode_domain, "kind": "NodeClass"},
}

node_class_ref := object.get(input.object, ["spec", "template", "spec", "nodeClassRef"], {})

# auto_mode is true for a NodePool of EKS Auto Mode (its nodeClassRef names
# an eks.amazonaws.com NodeClass).
auto_mode if node_class_ref.group == auto_mode_domain

# Capacity types Karpenter offers.
capacity_types := {"spot", "on-demand", "reserved"}

# --- the NodePool under evaluation ------------------------------------------

requirements := object.get(input.object, ["spec", "template", "spec", "requirements"], [])

labels := object.get(input.object, ["spec", "template", "metadata", "labels"], {})

taints := object.get(input.object, ["spec", "template", "spec", "taints"], [])

# on(key) are [index, requirement] of the requirements on key, in order;
# key is canonical (an Auto Mode key finds the requirements written with
# either flavour), and each requirement keeps its key as written, for
# messages.
on(key) := object.get(_by_key, [canonical(key)], [])

# _keyed are the requirements with their index and canonical key.
_keyed := [{"j": j, "k": canonical(r.key), "r": r} | some j, r in requirements]

# _by_key groups the requirements by canonical key in one pass: the inner
# comprehension, assigned after k is bound, is indexed by k (OPA's
# comprehension indexing), and a rule without arguments is evaluated once
# per query. Scanning every requirement per key instead costs keys times
# requirements.
_by_key := {k: rs |
	some k in {x.k | some x in _keyed}
	rs := [[x.j, x.r] | some x in _keyed; x.k == k]
}

# keys are the canonical keys of the NodePool's requirements.
keys := object.keys(_by_key)

# written(key) is key as the NodePool writes it (in its first requirement
# on key), so that an Auto Mode pool's messages name Auto Mode's labels.
written(key) := on(key)[0][1].key

# requirement_path is the field path of the first requirement on key.
requirement_path(key) := sprintf("spec.template.spec.requirements[%d]", [on(key)[0][0]])

# listed(key) is the set of values the In and NotIn requirements on key
# leave; undefined when no In requirement names key.
listed(key) := intersection({{v | some v in r.values} | some [_, r] in on(key); r.operator == "In"}) - {v |
	some [_, r] in on(key)
	r.operator == "NotIn"
	some v in r.values
} if {
	# One solution: a body with one per In requirement would compute the
	# value once per In requirement.
	"In" in {r.operator | some [_, r] in on(key)}
}

# named_types are the instance types the NodePool lists (In on
# node.kubernetes.io/instance-type); undefined when it lists none.
named_types := listed(instance_type)

# named_families are the instance families the NodePool lists.
named_families := listed(instance_family)

# spot is true when the NodePool can launch Spot capacity.
spot if allows_spot(input.object)

# allows_spot reports whether a NodePool's capacity-type requirements admit
# Spot. Without one, Karpenter launches on-demand capacity only.
allows_spot(pool) if {
	rs := [r | some r in object.get(pool, ["spec", "template", "spec", "requirements"], []); r.key == capacity_type]
	count(rs) > 0
	every r in rs {
		admits(r, "spot")
	}
}

# admits reports whether requirement r admits a node whose label r.key has
# the value v (null when the node does not carry the label).
admits(r, v) if {
	r.operator == "In"
	v != null
	text(v) in r.values
}

admits(r, v) if {
	r.operator == "NotIn"
	v == null
}

admits(r, v) if {
	r.operator == "NotIn"
	v != null
	not text(v) in object.get(r, "values", [])
}

admits(r, v) if {
	r.operator == "Exists"
	v != null
}

admits(r, v) if {
	r.operator == "DoesNotExist"
	v == null
}

admits(r, v) if {
	r.operator == "Gt"
	v != null
	to_number(v) > to_number(r.values[0])
}

admits(r, v) if {
	r.operator == "Gte"
	v != null
	to_number(v) >= to_number(r.values[0])
}

admits(r, v) if {
	r.operator == "Lt"
	v != null
	to_number(v) < to_number(r.values[0])
}

admits(r, v) if {
	r.operator == "Lte"
	v != null
	to_number(v) <= to_number(r.values[0])
}

text(v) := v if is_string(v)

text(v) := format_int(v, 10) if is_number(v)

# describe renders a requirement the way it is written: "In [a, b]", "Gt 0".
describe(r) := r.operator if r.operator in {"Exists", "DoesNotExist"}

describe(r) := sprintf("%s [%s]", [r.operator, concat(", ", object.get(r, "values", []))]) if {
	r.operator in {"In", "NotIn"}
}

describe(r) := sprintf("%s %s", [r.operator, r.values[0]]) if r.operator in {"Gt", "Gte", "Lt", "Lte"}

# --- instance types -----------------------------------------------------------

# family of "p4d.24xlarge" is "p4d".
family(t) := split(t, ".")[0]

# category of family "p4d" is "p"; generation is 4.
category(f) := regex.find_n(`^[a-z]+`, f, 1)[0]

generation(f) := to_number(regex.find_n(`[0-9]+`, f, 1)[0])

# gpu_type reports whether an instance type (or family) has NVIDIA GPUs as
# far as the catalog and params.gpuFamilies know.
gpu_type(t) if catalog.instanceTypes[t]

gpu_type(t) if family(t) in params.gpuFamilies

# cpu_family reports a family known to have no GPUs.
cpu_family(f) if not f in params.gpuFamilies

# gpu_model is the catalog's GPU model of an instance type ("A100-40GB").
gpu_model(t) := catalog.instanceTypes[t].gpu

# mig_type reports an instance type whose GPUs support MIG.
mig_type(t) if catalog.gpus[gpu_model(t)].mig

# gpu_label_name is the value of Karpenter's instance-gpu-name label for a
# catalog GPU model: "A100-40GB" -> "a100", "L40S" -> "l40s".
gpu_label_name(model) := lower(split(model, "-")[0])

# props are the node labels an instance type carries, for the labels the
# catalog knows: absent keys are unknown, null values are labels the
# instance type does not carry (a CPU instance has no GPU labels).
props(t) := object.union_n([
	{
		instance_type: t,
		instance_family: family(t),
		instance_category: category(family(t)),
	},
	_generation_props(family(t)),
	_gpu_props(t),
])

_generation_props(f) := {instance_generation: generation(f)} if regex.match(`[0-9]`, f)

_generation_props(f) := {} if not regex.match(`[0-9]`, f)

_gpu_props(t) := {
	gpu_count: catalog.instanceTypes[t].gpus,
	gpu_name: gpu_label_name(gpu_model(t)),
	gpu_manufacturer: "nvidia",
} if catalog.instanceTypes[t]

_gpu_props(t) := {gpu_count: null, gpu_name: null, gpu_manufacturer: null} if {
	not catalog.instanceTypes[t]
	cpu_family(family(t))
}

_gpu_props(t) := {} if {
	not catalog.instanceTypes[t]
	not cpu_family(family(t))
}

# rejections(t) explains each requirement that keeps instance type t out of
# the NodePool: "karpenter.k8s.aws/instance-gpu-count is none; required Gt 0".
rejections(t) := {sprintf("%s is %s; required %s", [r.key, _shown(v), describe(r)]) |
	p := props(t)
	some key, v in p
	some [_, r] in on(key)
	not admits(r, v)
}

_shown(null) := "none"

_shown(v) := text(v) if v != null

# family_types are the catalog's instance types of a family; a family
# without GPUs stands for itself ("m5.*"), so that its GPU labels are known
# to be absent. Undefined for GPU families the catalog does not list.
family_types(f) := {t | some t, _ in catalog.instanceTypes; family(t) == f} if catalog_family(f)

family_types(f) := {concat("", [f, ".*"])} if {
	not catalog_family(f)
	cpu_family(f)
}

catalog_family(f) if {
	some t, _ in catalog.instanceTypes
	family(t) == f
}

# --- GPU pools ----------------------------------------------------------------

# gpu_reasons say why the NodePool is a GPU pool.
gpu_reasons contains sprintf("instance types %s", [concat(", ", sort(ts))]) if {
	ts := {t | some t in named_types; gpu_type(t)}
	count(ts) > 0
}

gpu_reasons contains sprintf("instance families %s", [concat(", ", sort(fs))]) if {
	fs := {f | some f in named_families; not cpu_family(f)}
	count(fs) > 0
}

gpu_reasons contains sprintf("%s %s", [r.key, describe(r)]) if {
	some r in requirements
	canonical(r.key) == gpu_count
	_needs_gpus(r)
}

gpu_reasons contains sprintf("%s %s", [r.key, describe(r)]) if {
	some r in requirements
	canonical(r.key) in {gpu_name, gpu_manufacturer}
	r.operator in {"In", "Exists"}
}

gpu_reasons contains sprintf("%s %s", [r.key, describe(r)]) if {
	some r in requirements
	canonical(r.key) == instance_category
	r.operator == "In"
	every v in r.values {
		v in {"g", "p"}
	}
}

gpu_reasons contains sprintf("label %s", [k]) if {
	some k in params.gpuLabels
	labels[k]
}

gpu_reasons contains sprintf("label %s=%s", [k, labels[k]]) if {
	some k, values in params.migLabels
	labels[k] in values
}

gpu_reasons contains sprintf("label %s=%s", [params.migConfigLabel, labels[params.migConfigLabel]]) if {
	labels[params.migConfigLabel]
}

_needs_gpus(r) if r.operator in {"Exists", "Gt"}

_needs_gpus(r) if {
	r.operator == "Gte"
	to_number(r.values[0]) >= 1
}

_needs_gpus(r) if {
	r.operator == "In"
	every v in r.values {
		to_number(v) > 0
	}
}

# gpu is true for a GPU pool; gpu_reason says why, for messages.
gpu if count(gpu_reasons) > 0

gpu_reason := concat("; ", sort(gpu_reasons))

# --- MIG and training pools ---------------------------------------------------

mig if {
	some k, values in params.migLabels
	labels[k] in values
}

mig if labels[params.migConfigLabel]

training if {
	some k, values in params.trainingLabels
	labels[k] in values
}

training if {
	some want in params.trainingTaints
	some t in taints
	t.key == want.key
	t.value == want.value
}
