package tollgate.spot.checkpoint_test

import data.tollgate.spot.checkpoint
import data.tollgate.spot.lib_test as t

_training := {"labels": {"workload": "ml-training"}}

_job(metadata, spec) := object.union(t.template("Job", 4, metadata, spec), {"kind": {"group": "batch", "kind": "Job"}})

_mounting(volume, read_only) := object.union(t.spot_spec([object.union(t.container("train"), {"volumeMounts": [{"name": "ckpt", "mountPath": "/ckpt", "readOnly": read_only}]})]), {"volumes": [object.union({"name": "ckpt"}, volume)]})

test_annotation_declares if {
	meta := object.union(_training, {"annotations": {"tollgate.dev/checkpoint-dir": "/checkpoints"}})
	checkpoint.violation == set() with input as _job(meta, t.spot_spec([t.container("train")]))
}

test_writable_pvc_declares if {
	checkpoint.violation == set() with input as _job(_training, _mounting({"persistentVolumeClaim": {"claimName": "ckpt"}}, false))
	checkpoint.violation == set() with input as _job(_training, _mounting({"nfs": {"server": "fs-1.efs", "path": "/"}}, false))
}

test_read_only_or_ephemeral_volumes_do_not_declare if {
	count(checkpoint.violation) == 1 with input as _job(_training, _mounting({"persistentVolumeClaim": {"claimName": "ckpt"}}, true))
	count(checkpoint.violation) == 1 with input as _job(_training, _mounting({"emptyDir": {}}, false))
}

test_training_job_on_spot_without_checkpoint_fails if {
	checkpoint.violation == {{
		"msg": "training workload on Spot capacity (nodeSelector karpenter.sh/capacity-type=spot) declares no checkpoint: set the annotation tollgate.dev/checkpoint-dir to its checkpoint directory or mount a persistent volume writable, so that an interruption does not lose the run",
		"path": "metadata.annotations",
	}} with input as _job(_training, t.spot_spec([t.container("train")]))
}

test_not_training_or_not_spot_passes if {
	checkpoint.violation == set() with input as _job({}, t.spot_spec([t.container("batch")]))
	checkpoint.violation == set() with input as _job(_training, {"containers": [t.container("train")]})
}

test_training_pod_fails_too if {
	count(checkpoint.violation) == 1 with input as t.pod(object.union(t.owned, _training), t.spot_spec([t.container("train")]))
}
