package tollgate.pss.seccompProfile_restricted_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.seccompProfile_restricted

_seccomp(t) := {"seccompProfile": {"type": t}}

test_pass_pod_level if {
	review := pss_test.spec(object.union(
		pss_test.all_kinds({}, _seccomp("Localhost"), {}),
		{"securityContext": _seccomp("RuntimeDefault")},
	))
	seccompProfile_restricted.violation == set() with input as review
}

test_pass_every_container if {
	review := pss_test.spec(pss_test.all_kinds(_seccomp("RuntimeDefault"), _seccomp("Localhost"), _seccomp("RuntimeDefault")))
	seccompProfile_restricted.violation == set() with input as review
}

test_fail_nothing_set if {
	review := pss_test.spec({"containers": [{"name": "a"}]})
	seccompProfile_restricted.violation == {{
		"msg": `seccompProfile (pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
		"path": "spec.securityContext.seccompProfile",
	}} with input as review
}

test_fail_implicit_init_and_ephemeral if {
	review := pss_test.spec(pss_test.all_kinds({}, _seccomp("RuntimeDefault"), {"runAsUser": 1000}))
	seccompProfile_restricted.violation == {{
		"msg": `seccompProfile (pod or containers "i", "e" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
		"path": "spec.securityContext.seccompProfile",
	}} with input as review
}

test_fail_pod_unconfined if {
	review := pss_test.spec({"securityContext": _seccomp("Unconfined"), "containers": [{"name": "a"}]})
	seccompProfile_restricted.violation == {{
		"msg": `seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")`,
		"path": "spec.securityContext.seccompProfile.type",
	}} with input as review
}

test_fail_container_unconfined if {
	review := pss_test.spec({"securityContext": _seccomp("RuntimeDefault"), "containers": [pss_test.container("a", _seccomp("Unconfined"))]})
	seccompProfile_restricted.violation == {{
		"msg": `seccompProfile (container "a" must not set securityContext.seccompProfile.type to "Unconfined")`,
		"path": "spec.containers[0].securityContext.seccompProfile.type",
	}} with input as review
}

test_fail_ephemeral_container_unconfined if {
	review := pss_test.spec(object.union(
		pss_test.all_kinds({}, {}, _seccomp("Unconfined")),
		{"securityContext": _seccomp("RuntimeDefault")},
	))
	seccompProfile_restricted.violation == {{
		"msg": `seccompProfile (container "e" must not set securityContext.seccompProfile.type to "Unconfined")`,
		"path": "spec.ephemeralContainers[0].securityContext.seccompProfile.type",
	}} with input as review
}

# An explicit forbidden type is reported instead of containers that set none.
test_fail_explicit_before_implicit if {
	review := pss_test.spec(pss_test.all_kinds({}, _seccomp("Unconfined"), {}))
	seccompProfile_restricted.violation == {{
		"msg": `seccompProfile (container "a" must not set securityContext.seccompProfile.type to "Unconfined")`,
		"path": "spec.containers[0].securityContext.seccompProfile.type",
	}} with input as review
}

test_fail_pod_and_init_container if {
	review := pss_test.spec(object.union(
		pss_test.all_kinds(_seccomp("Unconfined"), _seccomp("RuntimeDefault"), {}),
		{"securityContext": _seccomp("Unconfined")},
	))
	seccompProfile_restricted.violation == {{
		"msg": `seccompProfile (pod and container "i" must not set securityContext.seccompProfile.type to "Unconfined")`,
		"path": "spec.securityContext.seccompProfile.type",
	}} with input as review
}

# Windows pods are exempt from v1.25 (seccompProfileRestricted_1_25).
test_windows_pod_checked_before_1_25 if {
	review := pss_test.spec_at(24, {"os": {"name": "windows"}, "containers": [{"name": "a"}]})
	seccompProfile_restricted.violation == {{
		"msg": `seccompProfile (pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
		"path": "spec.securityContext.seccompProfile",
	}} with input as review
}

test_windows_pod_exempt_from_1_25 if {
	implicit := pss_test.spec_at(25, {"os": {"name": "windows"}, "containers": [{"name": "a"}]})
	seccompProfile_restricted.violation == set() with input as implicit
	explicit := pss_test.spec_at(25, {"os": {"name": "windows"}, "securityContext": _seccomp("Unconfined"), "containers": [{"name": "a"}]})
	seccompProfile_restricted.violation == set() with input as explicit
}

test_linux_pod_not_exempt_from_1_25 if {
	review := pss_test.spec_at(25, {"os": {"name": "linux"}, "containers": [{"name": "a"}]})
	count(seccompProfile_restricted.violation) == 1 with input as review
}
