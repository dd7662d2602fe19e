package tollgate.spot.do_not_disrupt_test

import data.tollgate.spot.do_not_disrupt
import data.tollgate.spot.lib_test as t

_annotated := {"annotations": {"karpenter.sh/do-not-disrupt": "true"}}

test_spot_pod_with_annotation_fails if {
	do_not_disrupt.violation == {{
		"msg": "karpenter.sh/do-not-disrupt does not protect a pod on Spot capacity (nodeSelector karpenter.sh/capacity-type=spot): it stops consolidation and drift, but a Spot interruption still reclaims the node 120s after its notice",
		"path": "metadata.annotations",
	}} with input as t.template("Deployment", 1, _annotated, t.spot_spec([t.container("a")]))
}

test_on_demand_pod_with_annotation_passes if {
	do_not_disrupt.violation == set() with input as t.pod(object.union(t.owned, _annotated), {"containers": [t.container("a")]})
}

test_annotation_false_passes if {
	meta := {"annotations": {"karpenter.sh/do-not-disrupt": "false"}}
	do_not_disrupt.violation == set() with input as t.pod(object.union(t.owned, meta), t.spot_spec([t.container("a")]))
}
