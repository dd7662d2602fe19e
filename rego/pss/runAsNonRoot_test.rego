package tollgate.pss.runAsNonRoot_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.runAsNonRoot

_non_root := {"runAsNonRoot": true}

_root := {"runAsNonRoot": false}

test_pass_pod_level if {
	review := pss_test.spec(object.union(pss_test.all_kinds({}, {"runAsUser": 1000}, _non_root), {"securityContext": _non_root}))
	runAsNonRoot.violation == set() with input as review
}

test_pass_every_container if {
	review := pss_test.spec(pss_test.all_kinds(_non_root, _non_root, _non_root))
	runAsNonRoot.violation == set() with input as review
}

test_fail_nothing_set if {
	review := pss_test.spec({"containers": [{"name": "a"}, {"name": "b"}]})
	runAsNonRoot.violation == {{
		"msg": `runAsNonRoot != true (pod or containers "a", "b" must set securityContext.runAsNonRoot=true)`,
		"path": "spec.securityContext.runAsNonRoot",
	}} with input as review
}

test_fail_implicit_init_container if {
	review := pss_test.spec(pss_test.all_kinds({}, _non_root, _non_root))
	runAsNonRoot.violation == {{
		"msg": `runAsNonRoot != true (pod or container "i" must set securityContext.runAsNonRoot=true)`,
		"path": "spec.securityContext.runAsNonRoot",
	}} with input as review
}

test_fail_implicit_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds(_non_root, _non_root, {}))
	runAsNonRoot.violation == {{
		"msg": `runAsNonRoot != true (pod or container "e" must set securityContext.runAsNonRoot=true)`,
		"path": "spec.securityContext.runAsNonRoot",
	}} with input as review
}

test_fail_pod_false if {
	review := pss_test.spec(object.union(pss_test.all_kinds(_non_root, _non_root, _non_root), {"securityContext": _root}))
	runAsNonRoot.violation == {{
		"msg": "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)",
		"path": "spec.securityContext.runAsNonRoot",
	}} with input as review
}

test_fail_container_false if {
	review := pss_test.spec({"securityContext": _non_root, "containers": [{"name": "ok"}, pss_test.container("a", _root)]})
	runAsNonRoot.violation == {{
		"msg": `runAsNonRoot != true (container "a" must not set securityContext.runAsNonRoot=false)`,
		"path": "spec.containers[1].securityContext.runAsNonRoot",
	}} with input as review
}

test_fail_pod_and_containers_false if {
	review := pss_test.spec(object.union(pss_test.all_kinds(_root, _non_root, _root), {"securityContext": _root}))
	runAsNonRoot.violation == {{
		"msg": `runAsNonRoot != true (pod and containers "i", "e" must not set securityContext.runAsNonRoot=false)`,
		"path": "spec.securityContext.runAsNonRoot",
	}} with input as review
}

# An explicit false is reported instead of containers that set nothing.
test_fail_explicit_before_implicit if {
	review := pss_test.spec(pss_test.all_kinds({}, _root, {}))
	runAsNonRoot.violation == {{
		"msg": `runAsNonRoot != true (container "a" must not set securityContext.runAsNonRoot=false)`,
		"path": "spec.containers[0].securityContext.runAsNonRoot",
	}} with input as review
}

# From v1.35 pods in a user namespace (hostUsers: false) may run as root.
test_user_namespace_checked_before_1_35 if {
	implicit := pss_test.spec_at(34, {"hostUsers": false, "containers": [{"name": "a"}]})
	runAsNonRoot.violation == {{
		"msg": `runAsNonRoot != true (pod or container "a" must set securityContext.runAsNonRoot=true)`,
		"path": "spec.securityContext.runAsNonRoot",
	}} with input as implicit
	explicit := pss_test.spec_at(34, {"hostUsers": false, "securityContext": _root, "containers": [{"name": "a"}]})
	runAsNonRoot.violation == {{
		"msg": "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)",
		"path": "spec.securityContext.runAsNonRoot",
	}} with input as explicit
}

test_user_namespace_relaxed_from_1_35 if {
	implicit := pss_test.spec_at(35, {"hostUsers": false, "containers": [{"name": "a"}]})
	runAsNonRoot.violation == set() with input as implicit
	explicit := pss_test.spec_at(35, {"hostUsers": false, "securityContext": _root, "containers": [pss_test.container("a", _root)]})
	runAsNonRoot.violation == set() with input as explicit
}

test_host_users_true_not_relaxed_from_1_35 if {
	review := pss_test.spec_at(35, {"hostUsers": true, "containers": [{"name": "a"}]})
	count(runAsNonRoot.violation) == 1 with input as review
}
