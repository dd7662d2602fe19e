package tollgate.pss.sysctls_test

import data.tollgate.lib.pss_test
import data.tollgate.pss.sysctls

_sysctls(version, names) := pss_test.spec_at(version, {
	"securityContext": {"sysctls": [{"name": n, "value": "1"} | some n in names]},
	"containers": [{"name": "a"}],
})

_safe_1_0 := [
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
]

# [first version, sysctls added to the safe set in that version]
_added := [
	[27, ["net.ipv4.ip_local_reserved_ports"]],
	[29, ["net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"]],
	[32, ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"]],
	[37, ["net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"]],
]

test_pass_no_sysctls if {
	sysctls.violation == set() with input as pss_test.spec({"containers": [{"name": "a"}]})
	sysctls.violation == set() with input as _sysctls(pss_test.latest, [])
}

test_pass_safe_set_at_1_0 if {
	sysctls.violation == set() with input as _sysctls(0, _safe_1_0)
}

test_fail_unsafe if {
	sysctls.violation == {{
		"msg": "forbidden sysctls (kernel.msgmax)",
		"path": "spec.securityContext.sysctls[1]",
	}} with input as _sysctls(pss_test.latest, ["kernel.shm_rmid_forced", "kernel.msgmax"])
}

# Every forbidden sysctl in spec order, duplicates kept, as upstream does.
test_fail_several_in_order if {
	sysctls.violation == {{
		"msg": "forbidden sysctls (net.core.somaxconn, kernel.msgmax, net.core.somaxconn)",
		"path": "spec.securityContext.sysctls[0]",
	}} with input as _sysctls(pss_test.latest, ["net.core.somaxconn", "net.ipv4.tcp_syncookies", "kernel.msgmax", "net.core.somaxconn"])
}

test_added_sysctls_forbidden_the_version_before if {
	every added in _added {
		every n in added[1] {
			sysctls.violation == {{
				"msg": sprintf("forbidden sysctls (%s)", [n]),
				"path": "spec.securityContext.sysctls[0]",
			}} with input as _sysctls(added[0] - 1, [n])
		}
	}
}

test_added_sysctls_allowed_from_their_version if {
	every added in _added {
		sysctls.violation == set() with input as _sysctls(added[0], array.concat(_safe_1_0, added[1]))
	}
}

test_every_safe_sysctl_allowed_at_latest if {
	safe := array.concat(_safe_1_0, [n | some [_, names] in _added; some n in names])
	count(safe) == 14
	sysctls.violation == set() with input as _sysctls(pss_test.latest, safe)
}
