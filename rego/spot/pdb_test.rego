package tollgate.spot.pdb_test

import data.tollgate.spot.lib_test as t
import data.tollgate.spot.pdb

_labels := {"labels": {"app": "vllm", "workload": "inference"}}

test_selected_by_a_pdb_passes if {
	doc := object.union(t.template("Deployment", 3, _labels, t.spot_spec([t.container("a")])), {"state": {"pdbs": [{"name": "vllm-pdb", "minAvailable": 1}]}})
	pdb.violation == set() with input as doc
}

test_single_replica_passes if {
	pdb.violation == set() with input as t.template("Deployment", 1, _labels, t.spot_spec([t.container("a")]))
}

test_jobs_and_daemonsets_pass if {
	pdb.violation == set() with input as t.template("Job", 4, _labels, t.spot_spec([t.container("a")]))
	pdb.violation == set() with input as t.template("DaemonSet", -1, _labels, t.spot_spec([t.container("a")]))
}

test_replicated_spot_deployment_without_pdb_fails if {
	pdb.violation == {{
		"msg": "Deployment with 3 replicas can run on Spot capacity (nodeSelector karpenter.sh/capacity-type=spot) but no PodDisruptionBudget selects its pods (labels app=vllm, workload=inference): consolidation and interruption draining can take every replica at once; add a PodDisruptionBudget",
		"path": "metadata.labels",
	}} with input as t.template("Deployment", 3, _labels, t.spot_spec([t.container("a")]))
}

test_off_spot_passes if {
	pdb.violation == set() with input as t.template("StatefulSet", 3, _labels, {"containers": [t.container("a")]})
}

test_pods_only_when_configured if {
	doc := t.pod(object.union(t.owned, _labels), t.spot_spec([t.drained("a", 5)]))
	pdb.violation == set() with input as doc
	pdb.violation == {{
		"msg": "pod owned by ReplicaSet vllm-5d9c can run on Spot capacity (nodeSelector karpenter.sh/capacity-type=spot) but no PodDisruptionBudget selects its pods (labels app=vllm, workload=inference): consolidation and interruption draining can take every replica at once; add a PodDisruptionBudget",
		"path": "metadata.labels",
	}} with input as doc with data.tollgate.params.spot.pdbForPods as true
}
