package tollgate.spot.controller_test

import data.tollgate.spot.controller
import data.tollgate.spot.lib_test as t

test_owned_spot_pod_passes if {
	controller.violation == set() with input as t.pod(t.owned, t.spot_spec([t.drained("a", 5)]))
}

test_bare_pod_off_spot_passes if {
	controller.violation == set() with input as t.pod({"name": "debug"}, {"containers": [t.container("a")]})
}

test_bare_spot_pod_fails if {
	controller.violation == {{
		"msg": "bare pod on Spot capacity (nodeSelector karpenter.sh/capacity-type=spot): an interruption deletes it and nothing creates it again; run it under a Deployment, StatefulSet or Job",
		"path": "metadata.ownerReferences",
	}} with input as t.pod({"name": "notebook"}, t.spot_spec([t.container("jupyter")]))
}

test_owner_without_controller_flag_is_bare if {
	meta := {"name": "x", "ownerReferences": [{"kind": "ConfigMap", "name": "c", "controller": false}]}
	count(controller.violation) == 1 with input as t.pod(meta, t.spot_spec([t.container("a")]))
}

test_bare_pod_update_is_not_judged if {
	doc := object.union(t.pod({"name": "notebook"}, t.spot_spec([t.container("a")])), {"request": {"operation": "UPDATE"}})
	controller.violation == set() with input as doc
}

# A gated pod's node selector can still change: the update that sends it
# to Spot is judged.
test_gated_bare_pod_update_is_judged if {
	gated := {"spec": {"schedulingGates": [{"name": "example.com/hold"}]}}
	doc := object.union(t.pod({"name": "notebook"}, t.spot_spec([t.container("a")])), {"request": {"operation": "UPDATE"}, "oldObject": gated})
	count(controller.violation) == 1 with input as doc
}
