package tollgate.pss.hostPorts_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.hostPorts

_with_ports(name, ports) := {"name": name, "ports": ports}

test_pass_no_host_ports if {
	review := pss_test.spec({
		"initContainers": [_with_ports("i", [{"containerPort": 80}])],
		"containers": [_with_ports("a", [{"containerPort": 8000, "hostPort": 0}, {"containerPort": 9000}]), {"name": "b"}],
	})
	hostPorts.violation == set() with input as review
}

test_fail_app_container if {
	review := pss_test.spec({"containers": [_with_ports("a", [{"containerPort": 80}, {"containerPort": 8080, "hostPort": 8080}])]})
	[f] := [f | some f in hostPorts.violation] with input as review
	f.path == "spec.containers[0].ports[1].hostPort"
	endswith(f.msg, " hostPort 8080)")
}

test_fail_init_container if {
	review := pss_test.spec({
		"initContainers": [_with_ports("i", [{"containerPort": 53, "hostPort": 53}])],
		"containers": [_with_ports("a", [{"containerPort": 80}])],
	})
	[f] := [f | some f in hostPorts.violation] with input as review
	f.path == "spec.initContainers[0].ports[0].hostPort"
	endswith(f.msg, " hostPort 53)")
}

test_fail_ephemeral_container if {
	review := pss_test.spec({
		"containers": [{"name": "a"}],
		"ephemeralContainers": [_with_ports("e", [{"containerPort": 22, "hostPort": 2222}])],
	})
	[f] := [f | some f in hostPorts.violation] with input as review
	f.path == "spec.ephemeralContainers[0].ports[0].hostPort"
	endswith(f.msg, " hostPort 2222)")
}

# Ports are distinct and sorted as strings, as upstream's sets.String does.
test_fail_several_ports_sorted_as_strings if {
	review := pss_test.spec({
		"initContainers": [_with_ports("i", [{"containerPort": 1, "hostPort": 9090}])],
		"containers": [
			_with_ports("a", [{"containerPort": 1, "hostPort": 10000}, {"containerPort": 2, "hostPort": 9090}]),
			_with_ports("b", [{"containerPort": 3}]),
		],
	})
	[f] := [f | some f in hostPorts.violation] with input as review
	f.path == "spec.initContainers[0].ports[0].hostPort"
	endswith(f.msg, " hostPorts 10000, 9090)")
}

# Upstream: `hostPort (%s %s %s %s %s)` with the bad container names, each
# once, in visiting order.
test_message_matches_upstream if {
	review := pss_test.spec({
		"initContainers": [_with_ports("i", [{"containerPort": 1, "hostPort": 9090}])],
		"containers": [_with_ports("a", [{"containerPort": 1, "hostPort": 10000}])],
	})
	hostPorts.violation == {{
		"msg": `hostPort (containers "i", "a" use hostPorts 10000, 9090)`,
		"path": "spec.initContainers[0].ports[0].hostPort",
	}} with input as review
}

test_message_matches_upstream_single if {
	review := pss_test.spec({"containers": [_with_ports("a", [{"containerPort": 8080, "hostPort": 8080}])]})
	hostPorts.violation == {{
		"msg": `hostPort (container "a" uses hostPort 8080)`,
		"path": "spec.containers[0].ports[0].hostPort",
	}} with input as review
}
