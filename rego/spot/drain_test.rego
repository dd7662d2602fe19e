package tollgate.spot.drain_test

import data.tollgate.spot.drain
import data.tollgate.spot.lib_test as t

test_drained_pod_passes if {
	drain.violation == set() with input as t.pod(t.owned, t.spot_spec([t.drained("a", 5), t.drained("b", 5)]))
}

test_init_containers_need_no_hook if {
	spec := object.union(t.spot_spec([t.drained("a", 5)]), {"initContainers": [t.container("init")]})
	drain.violation == set() with input as t.pod(t.owned, spec)
}

test_pod_without_hooks_fails if {
	spec := t.spot_spec([t.drained("ok", 5), t.container("vllm"), t.container("proxy")])
	drain.violation == {{
		"msg": `containers "vllm", "proxy" on Spot capacity (nodeSelector karpenter.sh/capacity-type=spot) have no preStop hook: an interruption stops them with SIGTERM and no time to drain in-flight work`,
		"path": "spec.containers[1].lifecycle",
	}} with input as t.pod(t.owned, spec)
}

test_one_container_without_hook if {
	drain.violation == {{
		"msg": `container "vllm" on Spot capacity (nodeSelector karpenter.sh/capacity-type=spot) has no preStop hook: an interruption stops it with SIGTERM and no time to drain in-flight work`,
		"path": "spec.containers[0].lifecycle",
	}} with input as t.pod(t.owned, t.spot_spec([t.container("vllm")]))
}

test_templates_rely_on_the_mutator if {
	doc := t.template("Deployment", 2, {}, t.spot_spec([t.container("vllm")]))
	drain.violation == set() with input as doc
	count(drain.violation) == 1 with input as doc with data.tollgate.params.spot.drainByMutator as false
}

test_off_spot_passes if {
	drain.violation == set() with input as t.pod(t.owned, {"containers": [t.container("vllm")]})
}
