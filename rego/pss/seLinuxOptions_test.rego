package tollgate.pss.seLinuxOptions_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.seLinuxOptions

_se(options) := {"seLinuxOptions": options}

test_pass_allowed_types if {
	review := pss_test.spec({
		"securityContext": _se({"type": "container_t", "level": "s0:c1,c2"}),
		"initContainers": [pss_test.container("i", _se({"type": "container_init_t"}))],
		"containers": [pss_test.container("a", _se({"type": "container_kvm_t"})), pss_test.container("b", _se({"type": ""}))],
		"ephemeralContainers": [pss_test.container("e", _se({"level": "s0", "user": "", "role": ""}))],
	})
	seLinuxOptions.violation == set() with input as review
}

test_fail_pod_type if {
	review := pss_test.spec({"securityContext": _se({"type": "spc_t"}), "containers": [{"name": "a"}]})
	seLinuxOptions.violation == {{
		"msg": `seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "spc_t")`,
		"path": "spec.securityContext.seLinuxOptions",
	}} with input as review
}

test_fail_container_user if {
	review := pss_test.spec({"containers": [pss_test.container("a", _se({"user": "system_u"}))]})
	seLinuxOptions.violation == {{
		"msg": `seLinuxOptions (container "a" set forbidden securityContext.seLinuxOptions: user may not be set)`,
		"path": "spec.containers[0].securityContext.seLinuxOptions",
	}} with input as review
}

test_fail_init_container_role if {
	review := pss_test.spec(pss_test.all_kinds(_se({"role": "system_r", "type": "container_t"}), {}, {}))
	seLinuxOptions.violation == {{
		"msg": `seLinuxOptions (container "i" set forbidden securityContext.seLinuxOptions: role may not be set)`,
		"path": "spec.initContainers[0].securityContext.seLinuxOptions",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds({}, {}, _se({"type": "unconfined_t"})))
	seLinuxOptions.violation == {{
		"msg": `seLinuxOptions (container "e" set forbidden securityContext.seLinuxOptions: type "unconfined_t")`,
		"path": "spec.ephemeralContainers[0].securityContext.seLinuxOptions",
	}} with input as review
}

# Types sorted and distinct, then user, then role, joined by "; ".
test_fail_everything if {
	review := pss_test.spec(object.union(
		pss_test.all_kinds(_se({"role": "r"}), _se({"type": "spc_t", "user": "u"}), _se({"type": "kernel_t"})),
		{"securityContext": _se({"type": "spc_t"})},
	))
	seLinuxOptions.violation == {{
		"msg": `seLinuxOptions (pod and containers "i", "a", "e" set forbidden securityContext.seLinuxOptions: types "kernel_t", "spc_t"; user may not be set; role may not be set)`,
		"path": "spec.securityContext.seLinuxOptions",
	}} with input as review
}

# container_engine_t is allowed from v1.31 (seLinuxOptions1_31).
test_container_engine_t_forbidden_before_1_31 if {
	review := pss_test.spec_at(30, {"containers": [pss_test.container("a", _se({"type": "container_engine_t"}))]})
	seLinuxOptions.violation == {{
		"msg": `seLinuxOptions (container "a" set forbidden securityContext.seLinuxOptions: type "container_engine_t")`,
		"path": "spec.containers[0].securityContext.seLinuxOptions",
	}} with input as review
}

test_container_engine_t_allowed_from_1_31 if {
	review := pss_test.spec_at(31, {
		"securityContext": _se({"type": "container_engine_t"}),
		"containers": [pss_test.container("a", _se({"type": "container_engine_t"}))],
	})
	seLinuxOptions.violation == set() with input as review
}

test_other_types_still_forbidden_from_1_31 if {
	review := pss_test.spec_at(31, {"securityContext": _se({"type": "spc_t"}), "containers": [{"name": "a"}]})
	count(seLinuxOptions.violation) == 1 with input as review
}
