package tollgate.pss.windowsHostProcess_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.windowsHostProcess

_host_process(v) := {"windowsOptions": {"hostProcess": v}}

test_pass_unset_or_false if {
	review := pss_test.spec(object.union(
		pss_test.all_kinds(_host_process(false), {"windowsOptions": {"runAsUserName": "ContainerUser"}}, {}),
		{"os": {"name": "windows"}, "securityContext": _host_process(false)},
	))
	windowsHostProcess.violation == set() with input as review
}

test_fail_pod if {
	review := pss_test.spec({"securityContext": _host_process(true), "containers": [{"name": "a"}]})
	windowsHostProcess.violation == {{
		"msg": "hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)",
		"path": "spec.securityContext.windowsOptions.hostProcess",
	}} with input as review
}

test_fail_app_container if {
	review := pss_test.spec({"containers": [pss_test.container("a", _host_process(true))]})
	windowsHostProcess.violation == {{
		"msg": `hostProcess (container "a" must not set securityContext.windowsOptions.hostProcess=true)`,
		"path": "spec.containers[0].securityContext.windowsOptions.hostProcess",
	}} with input as review
}

test_fail_init_container if {
	review := pss_test.spec(pss_test.all_kinds(_host_process(true), {}, {}))
	windowsHostProcess.violation == {{
		"msg": `hostProcess (container "i" must not set securityContext.windowsOptions.hostProcess=true)`,
		"path": "spec.initContainers[0].securityContext.windowsOptions.hostProcess",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec(pss_test.all_kinds({}, _host_process(false), _host_process(true)))
	windowsHostProcess.violation == {{
		"msg": `hostProcess (container "e" must not set securityContext.windowsOptions.hostProcess=true)`,
		"path": "spec.ephemeralContainers[0].securityContext.windowsOptions.hostProcess",
	}} with input as review
}

test_fail_pod_and_containers if {
	review := pss_test.spec(object.union(
		pss_test.all_kinds(_host_process(true), _host_process(true), {}),
		{"securityContext": _host_process(true)},
	))
	windowsHostProcess.violation == {{
		"msg": `hostProcess (pod and containers "i", "a" must not set securityContext.windowsOptions.hostProcess=true)`,
		"path": "spec.securityContext.windowsOptions.hostProcess",
	}} with input as review
}
