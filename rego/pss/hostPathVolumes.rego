# METADATA
# title: HostPath volumes
# description: |-
#   HostPath volumes must be forbidden. Restricted field:
#   spec.volumes[*].hostPath. Allowed value: undefined. At the restricted
#   level this check is replaced by pss.restricted.restrictedVolumes.
# custom:
#   id: pss.baseline.hostPathVolumes
#   severity: critical
#   action: deny
#   targets: [pod, template]
#   remediation: Replace hostPath volumes with a persistentVolumeClaim, an emptyDir, or a CSI volume. Model weights belong on a PVC or an image volume, not on the node's disk.
#   example: |-
#     apiVersion: v1
#     kind: Pod
#     metadata:
#       name: model-cache
#     spec:
#       containers:
#       - name: vllm
#         image: vllm/vllm-openai:v0.6.3
#         volumeMounts:
#         - name: models
#           mountPath: /models
#       volumes:
#       - name: models
#         hostPath:
#           path: /mnt/models
#   pss:
#     level: baseline
#     since: "1.0"
package tollgate.pss.hostPathVolumes

import data.tollgate.lib.pss

violation contains _finding if {
	some v in input.pod.spec.volumes
	v.hostPath
}

_finding := {"msg": msg, "path": path} if {
	bad := [[i, v.name] | some i, v in input.pod.spec.volumes; v.hostPath]
	msg := sprintf("hostPath volumes (%s %s)", [
		pss.pluralize("volume", "volumes", count(bad)),
		pss.join_quote([n | some [_, n] in bad]),
	])
	path := sprintf("spec.volumes[%d].hostPath", [bad[0][0]])
}
