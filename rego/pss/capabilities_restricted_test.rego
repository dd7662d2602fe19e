package tollgate.pss.capabilities_restricted_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.capabilities_restricted

_caps(drop, add) := {"capabilities": {"drop": drop, "add": add}}

_drop_all := {"capabilities": {"drop": ["ALL"]}}

test_pass_drop_all if {
	review := pss_test.spec(pss_test.all_kinds(_drop_all, _caps(["NET_RAW", "ALL"], ["NET_BIND_SERVICE"]), _drop_all))
	capabilities_restricted.violation == set() with input as review
}

test_fail_no_security_context if {
	review := pss_test.spec({"containers": [{"name": "a"}]})
	capabilities_restricted.violation == {{
		"msg": `unrestricted capabilities (container "a" must set securityContext.capabilities.drop=["ALL"])`,
		"path": "spec.containers[0].securityContext.capabilities.drop",
	}} with input as review
}

test_fail_drop_without_all if {
	review := pss_test.spec({"containers": [pss_test.container("a", _caps(["all", "NET_RAW"], []))]})
	capabilities_restricted.violation == {{
		"msg": `unrestricted capabilities (container "a" must set securityContext.capabilities.drop=["ALL"])`,
		"path": "spec.containers[0].securityContext.capabilities.drop",
	}} with input as review
}

test_fail_add_forbidden if {
	review := pss_test.spec({"containers": [pss_test.container("a", _caps(["ALL"], ["NET_BIND_SERVICE", "CHOWN"]))]})
	capabilities_restricted.violation == {{
		"msg": `unrestricted capabilities (container "a" must not include "CHOWN" in securityContext.capabilities.add)`,
		"path": "spec.containers[0].securityContext.capabilities.add",
	}} with input as review
}

test_fail_init_container if {
	review := pss_test.spec(pss_test.all_kinds({}, _drop_all, _drop_all))
	capabilities_restricted.violation == {{
		"msg": `unrestricted capabilities (container "i" must set securityContext.capabilities.drop=["ALL"])`,
		"path": "spec.initContainers[0].securityContext.capabilities.drop",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds(_drop_all, _drop_all, _caps(["ALL"], ["SYS_PTRACE"])))
	capabilities_restricted.violation == {{
		"msg": `unrestricted capabilities (container "e" must not include "SYS_PTRACE" in securityContext.capabilities.add)`,
		"path": "spec.ephemeralContainers[0].securityContext.capabilities.add",
	}} with input as review
}

# Both details, joined by "; ". The path prefers a missing drop, even of a
# later container.
test_fail_missing_drop_and_forbidden_add if {
	review := pss_test.spec(pss_test.all_kinds(
		_caps(["ALL"], ["SYS_ADMIN", "NET_RAW"]),
		_caps([], ["NET_RAW"]),
		{},
	))
	capabilities_restricted.violation == {{
		"msg": `unrestricted capabilities (containers "a", "e" must set securityContext.capabilities.drop=["ALL"]; containers "i", "a" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add)`,
		"path": "spec.containers[0].securityContext.capabilities.drop",
	}} with input as review
}

# Windows pods are exempt from v1.25 (capabilitiesRestricted_1_25).
test_windows_pod_checked_before_1_25 if {
	review := pss_test.spec_at(24, {"os": {"name": "windows"}, "containers": [{"name": "a"}]})
	capabilities_restricted.violation == {{
		"msg": `unrestricted capabilities (container "a" must set securityContext.capabilities.drop=["ALL"])`,
		"path": "spec.containers[0].securityContext.capabilities.drop",
	}} with input as review
}

test_windows_pod_exempt_from_1_25 if {
	review := pss_test.spec_at(25, {"os": {"name": "windows"}, "containers": [pss_test.container("a", _caps([], ["SYS_ADMIN"]))]})
	capabilities_restricted.violation == set() with input as review
}

test_linux_pod_not_exempt_from_1_25 if {
	review := pss_test.spec_at(25, {"os": {"name": "linux"}, "containers": [{"name": "a"}]})
	count(capabilities_restricted.violation) == 1 with input as review
}
