package tollgate.pss.hostProbesAndHostLifecycle_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.hostProbesAndHostLifecycle

_http(host) := {"httpGet": {"host": host, "path": "/health", "port": 8080}}

_tcp(host) := {"tcpSocket": {"host": host, "port": 8080}}

_c(name, fields) := object.union({"name": name}, fields)

test_pass_no_hosts if {
	review := pss_test.spec({"containers": [
		_c("a", {
			"livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
			"readinessProbe": _tcp(""),
			"startupProbe": {"exec": {"command": ["true"]}},
			"lifecycle": {"postStart": _http(""), "preStop": {"sleep": {"seconds": 5}}},
		}),
		{"name": "b"},
	]})
	hostProbesAndHostLifecycle.violation == set() with input as review
}

test_fail_liveness_http_get if {
	review := pss_test.spec({"containers": [_c("a", {"livenessProbe": _http("10.0.0.1")})]})
	hostProbesAndHostLifecycle.violation == {{
		"msg": `probe or lifecycle host (container "a" uses probe or lifecycle host "10.0.0.1")`,
		"path": "spec.containers[0].livenessProbe.httpGet.host",
	}} with input as review
}

test_fail_readiness_tcp_socket if {
	review := pss_test.spec({"containers": [_c("a", {"readinessProbe": _tcp("metadata.internal")})]})
	hostProbesAndHostLifecycle.violation == {{
		"msg": `probe or lifecycle host (container "a" uses probe or lifecycle host "metadata.internal")`,
		"path": "spec.containers[0].readinessProbe.tcpSocket.host",
	}} with input as review
}

test_fail_startup_probe if {
	review := pss_test.spec({"containers": [_c("a", {"startupProbe": _http("h")})]})
	hostProbesAndHostLifecycle.violation == {{
		"msg": `probe or lifecycle host (container "a" uses probe or lifecycle host "h")`,
		"path": "spec.containers[0].startupProbe.httpGet.host",
	}} with input as review
}

test_fail_post_start if {
	review := pss_test.spec({"containers": [_c("a", {"lifecycle": {"postStart": _http("h")}})]})
	hostProbesAndHostLifecycle.violation == {{
		"msg": `probe or lifecycle host (container "a" uses probe or lifecycle host "h")`,
		"path": "spec.containers[0].lifecycle.postStart.httpGet.host",
	}} with input as review
}

test_fail_pre_stop_tcp_socket if {
	review := pss_test.spec({"containers": [_c("a", {"lifecycle": {"preStop": _tcp("h")}})]})
	hostProbesAndHostLifecycle.violation == {{
		"msg": `probe or lifecycle host (container "a" uses probe or lifecycle host "h")`,
		"path": "spec.containers[0].lifecycle.preStop.tcpSocket.host",
	}} with input as review
}

test_fail_init_container if {
	review := pss_test.spec({
		"initContainers": [_c("i", {"startupProbe": _tcp("h")})],
		"containers": [{"name": "a"}],
	})
	hostProbesAndHostLifecycle.violation == {{
		"msg": `probe or lifecycle host (container "i" uses probe or lifecycle host "h")`,
		"path": "spec.initContainers[0].startupProbe.tcpSocket.host",
	}} with input as review
}

test_fail_ephemeral_container if {
	review := pss_test.spec({
		"containers": [{"name": "a"}],
		"ephemeralContainers": [_c("e", {"lifecycle": {"preStop": _http("h")}})],
	})
	hostProbesAndHostLifecycle.violation == {{
		"msg": `probe or lifecycle host (container "e" uses probe or lifecycle host "h")`,
		"path": "spec.ephemeralContainers[0].lifecycle.preStop.httpGet.host",
	}} with input as review
}

# Upstream collects containers and hosts in sets: both lists are sorted and
# distinct. The path is that of the first host in visiting order.
test_fail_several_containers_and_hosts if {
	review := pss_test.spec({
		"initContainers": [_c("z", {"livenessProbe": _http("b.example"), "readinessProbe": _tcp("a.example")})],
		"containers": [_c("m", {"lifecycle": {"postStart": _http("b.example")}})],
	})
	hostProbesAndHostLifecycle.violation == {{
		"msg": `probe or lifecycle host (containers "m", "z" use probe or lifecycle hosts "a.example", "b.example")`,
		"path": "spec.initContainers[0].livenessProbe.httpGet.host",
	}} with input as review
}
