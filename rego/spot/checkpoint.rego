# METADATA
# title: Training on Spot declares checkpointing
# description: |-
#   A training workload (pod template or pod labelled workload=ml-training;
#   see params.spot.trainingLabels) that can land on Spot capacity must
#   declare where it checkpoints, so that an interruption costs minutes of
#   progress rather than the whole run: the annotation
#   tollgate.dev/checkpoint-dir (params.spot.checkpointAnnotation), or a
#   writable mount of a persistent volume (params.spot.checkpointVolumes:
#   persistentVolumeClaim and nfs by default; emptyDir and ephemeral volumes
#   die with the node).
# custom:
#   id: spot.checkpoint
#   severity: high
#   action: warn
#   targets: [pod, template]
#   remediation: Checkpoint to a persistent volume (a PersistentVolumeClaim on FSx for Lustre, EFS or EBS, mounted writable) and set the annotation tollgate.dev/checkpoint-dir on the pod template to the checkpoint directory, or run the training on on-demand capacity.
#   example: |
#     apiVersion: batch/v1
#     kind: Job
#     metadata:
#       name: hparam-sweep
#     spec:
#       template:
#         metadata:
#           labels: {workload: ml-training}
#         spec:
#           restartPolicy: OnFailure
#           nodeSelector:
#             karpenter.sh/capacity-type: spot
#           containers:
#           - name: train
#             image: nvcr.io/nvidia/nemo:25.02
package tollgate.spot.checkpoint

import data.tollgate.params.spot as params
import data.tollgate.spot.lib

violation contains _finding if {
	lib.training
	not _declared
	lib.spot
}

_declared if input.pod.metadata.annotations[params.checkpointAnnotation] != ""

# A set of the persistent volumes' names keeps this linear: joining every
# mount with every volume costs mounts times volumes.
_declared if {
	some c in input.pod.containers
	some m in c.volumeMounts
	not m.readOnly
	m.name in _persistent_volumes
}

_persistent_volumes contains v.name if {
	some v in input.pod.spec.volumes
	some kind in params.checkpointVolumes
	v[kind]
}

_finding := {"msg": msg, "path": "metadata.annotations"} if {
	msg := sprintf("training workload on Spot capacity (%s) declares no checkpoint: set the annotation %s to its checkpoint directory or mount a persistent volume writable, so that an interruption does not lose the run", [
		lib.reason, params.checkpointAnnotation,
	])
}
