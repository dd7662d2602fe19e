package tollgate.pss.capabilities_baseline_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.capabilities_baseline

_add(caps) := {"capabilities": {"add": caps}}

_default_set := [
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
]

test_pass_default_set if {
	review := pss_test.spec(pss_test.all_kinds(_add(_default_set), _add(["CHOWN"]), {}))
	capabilities_baseline.violation == set() with input as review
}

test_pass_empty_add_and_any_drop if {
	review := pss_test.spec({"containers": [
		pss_test.container("a", {"capabilities": {"add": [], "drop": ["NET_RAW"]}}),
		pss_test.container("b", {"capabilities": {}}),
		{"name": "c"},
	]})
	capabilities_baseline.violation == set() with input as review
}

test_fail_app_container if {
	review := pss_test.spec({"containers": [pss_test.container("a", _add(["CHOWN", "NET_RAW"]))]})
	capabilities_baseline.violation == {{
		"msg": `non-default capabilities (container "a" must not include "NET_RAW" in securityContext.capabilities.add)`,
		"path": "spec.containers[0].securityContext.capabilities.add",
	}} with input as review
}

test_fail_init_container if {
	review := pss_test.spec(pss_test.all_kinds(_add(["SYS_ADMIN"]), {}, {}))
	capabilities_baseline.violation == {{
		"msg": `non-default capabilities (container "i" must not include "SYS_ADMIN" in securityContext.capabilities.add)`,
		"path": "spec.initContainers[0].securityContext.capabilities.add",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds({}, _add(["CHOWN"]), _add(["SYS_PTRACE"])))
	capabilities_baseline.violation == {{
		"msg": `non-default capabilities (container "e" must not include "SYS_PTRACE" in securityContext.capabilities.add)`,
		"path": "spec.ephemeralContainers[0].securityContext.capabilities.add",
	}} with input as review
}

# Each bad container is named once; the capabilities are sorted and distinct.
test_fail_several_containers_and_capabilities if {
	review := pss_test.spec(pss_test.all_kinds(
		_add(["SYS_ADMIN", "NET_RAW", "SYS_ADMIN"]),
		_add(["NET_RAW"]),
		_add(["KILL"]),
	))
	capabilities_baseline.violation == {{
		"msg": `non-default capabilities (containers "i", "a" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add)`,
		"path": "spec.initContainers[0].securityContext.capabilities.add",
	}} with input as review
}

test_fail_all_is_not_in_the_default_set if {
	review := pss_test.spec({"containers": [pss_test.container("a", _add(["ALL"]))]})
	count(capabilities_baseline.violation) == 1 with input as review
}
