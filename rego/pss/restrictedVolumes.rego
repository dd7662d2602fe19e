# METADATA
# title: Volume types
# description: |-
#   The restricted level allows only these inline volume sources:
#   configMap, csi, downwardAPI, emptyDir, ephemeral, image,
#   persistentVolumeClaim, projected and secret. Restricted field:
#   spec.volumes[*] with any other source (hostPath, nfs, awsElasticBlockStore
#   and the other in-tree sources).
# custom:
#   id: pss.restricted.restrictedVolumes
#   severity: high
#   action: deny
#   targets: [pod, template]
#   remediation: Use a persistentVolumeClaim (for example backed by the EBS, EFS or FSx for Lustre CSI driver) instead of an in-tree or hostPath volume.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: vllm-nfs
#       namespace: ai-inference
#     spec:
#       securityContext:
#         runAsNonRoot: true
#         seccompProfile:
#           type: RuntimeDefault
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
#         securityContext:
#           allowPrivilegeEscalation: false
#           capabilities:
#             drop: ["ALL"]
#       volumes:
#       - name: models
#         nfs:
#           server: fs-0123.efs.us-west-2.amazonaws.com
#           path: /models
#   pss:
#     level: restricted
#     since: "1.0"
#     overrides: [pss.baseline.hostPathVolumes]
package tollgate.pss.restrictedVolumes

import data.tollgate.lib.pss

_allowed := [
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
	"image", "persistentVolumeClaim", "projected", "secret",
]

# In upstream's order, so that a volume naming two sources reports the same one.
_restricted := [
	"hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs",
	"iscsi", "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
	"fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
	"photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
]

# A volume whose keys are all "name" or allowed sources cannot be a finding;
# one with any other key, or with no source at all, is looked at closely.
violation contains _finding if {
	some v in input.pod.spec.volumes
	some k, _ in v
	not k in {
		"name", "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
		"image", "persistentVolumeClaim", "projected", "secret",
	}
}

violation contains _finding if {
	some v in input.pod.spec.volumes
	count(v) == 1
}

_has_allowed(v) if {
	some k in _allowed
	v[k] != null
}

_type(v) := t if {
	found := [k | some k in _restricted; v[k] != null]
	count(found) > 0
	t := found[0]
}

_type(v) := "unknown" if {
	not _has_restricted(v)
}

_has_restricted(v) if {
	some k in _restricted
	v[k] != null
}

_finding := {"msg": msg, "path": path} if {
	bad := [[i, v.name, _type(v)] | some i, v in input.pod.spec.volumes; not _has_allowed(v)]
	count(bad) > 0
	names := [x[1] | some x in bad]
	types := sort({x[2] | some x in bad})
	msg := sprintf("restricted volume types (%s %s %s %s %s)", [
		pss.pluralize("volume", "volumes", count(names)),
		pss.join_quote(names),
		pss.pluralize("uses", "use", count(names)),
		pss.pluralize("restricted volume type", "restricted volume types", count(types)),
		pss.join_quote(types),
	])
	path := sprintf("spec.volumes[%d]", [bad[0][0]])
}
