package tollgate.spot.grace_test

import data.tollgate.spot.grace
import data.tollgate.spot.lib_test as t

test_within_notice_passes if {
	spec := object.union(t.spot_spec([t.drained("a", 30)]), {"terminationGracePeriodSeconds": 60})
	grace.violation == set() with input as t.pod(t.owned, spec)
}

test_off_spot_is_not_judged if {
	spec := {"terminationGracePeriodSeconds": 600, "containers": [t.drained("a", 300)]}
	grace.violation == set() with input as t.pod(t.owned, spec)
}

test_grace_over_notice_fails if {
	spec := object.union(t.spot_spec([t.drained("a", 30)]), {"terminationGracePeriodSeconds": 300})
	grace.violation == {{
		"msg": "terminationGracePeriodSeconds 300 exceeds the 120s Spot interruption notice (nodeSelector karpenter.sh/capacity-type=spot): the node is reclaimed before the pod finishes shutting down; set it to 120 or less",
		"path": "spec.terminationGracePeriodSeconds",
	}} with input as t.template("Deployment", 2, {}, spec)
}

test_grace_equal_to_notice_passes if {
	spec := object.union(t.spot_spec([t.drained("a", 30)]), {"terminationGracePeriodSeconds": 120})
	grace.violation == set() with input as t.pod(t.owned, spec)
}

# The seed document's drain: exec sleep 120 with the default 30s grace period.
test_sleep_past_grace_period_fails if {
	c := object.union(t.container("vllm"), {"lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 120"]}}}})
	grace.violation == {{
		"msg": `container "vllm" preStop hook sleeps 120s, which does not end within terminationGracePeriodSeconds 30: the kubelet kills the container before the application gets SIGTERM; sleep less, leaving time to stop`,
		"path": "spec.containers[0].lifecycle.preStop",
	}} with input as t.pod(t.owned, t.spot_spec([c]))
}

test_sleep_past_notice_with_long_grace_fails_twice if {
	spec := object.union(t.spot_spec([t.container("a"), t.drained("b", 150)]), {"terminationGracePeriodSeconds": 200})
	grace.violation == {
		{
			"msg": "terminationGracePeriodSeconds 200 exceeds the 120s Spot interruption notice (nodeSelector karpenter.sh/capacity-type=spot): the node is reclaimed before the pod finishes shutting down; set it to 120 or less",
			"path": "spec.terminationGracePeriodSeconds",
		},
		{
			"msg": `container "b" preStop hook sleeps 150s, which does not end within the 120s Spot interruption notice: the kubelet kills the container before the application gets SIGTERM; sleep less, leaving time to stop`,
			"path": "spec.containers[1].lifecycle.preStop",
		},
	} with input as t.pod(t.owned, spec)
}

test_notice_is_a_parameter if {
	spec := object.union(t.spot_spec([t.drained("a", 30)]), {"terminationGracePeriodSeconds": 100})
	count(grace.violation) == 1 with input as t.pod(t.owned, spec) with data.tollgate.params.spot.noticeSeconds as 90
}
