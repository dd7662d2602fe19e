package tollgate.nodepool.disruption_test

import data.tollgate.nodepool.disruption
import data.tollgate.nodepool.lib_test as t

_with(disruption) := t.pool(object.union(t.template({}, [], []), {"disruption": disruption}))

# The seed document's budgets.
test_valid_budgets_pass if {
	disruption.violation == set() with input as _with({
		"consolidationPolicy": "WhenEmptyOrUnderutilized",
		"consolidateAfter": "30s",
		"budgets": [
			{"nodes": "10%", "schedule": "0 9 * * 1-5", "duration": "9h"},
			{"nodes": "50%", "schedule": "0 18 * * 1-5", "duration": "15h"},
			{"nodes": "80%", "schedule": "0 0 * * 0,6", "duration": "24h"},
			{"nodes": "0", "schedule": "@daily", "duration": "1h30m"},
			{"nodes": "3", "schedule": "*/15 8-18 ? JAN-Mar mon-fri", "duration": "10m"},
			{"nodes": "100%"},
		],
	})
	disruption.violation == set() with input as _with({"consolidateAfter": "Never"})
}

test_nodes if {
	disruption.violation == {{
		"msg": `spec.disruption.budgets[0].nodes "110%" is not a node count or a percentage from 0% to 100%`,
		"path": "spec.disruption.budgets[0].nodes",
	}} with input as _with({"budgets": [{"nodes": "110%"}]})
	disruption.violation == {{
		"msg": "spec.disruption.budgets[0].nodes 2 (not a string) is not a node count or a percentage from 0% to 100%",
		"path": "spec.disruption.budgets[0].nodes",
	}} with input as _with({"budgets": [{"nodes": 2}]})
}

test_schedule_and_duration_together if {
	disruption.violation == {
		{
			"msg": "spec.disruption.budgets[0] sets schedule without duration: a scheduled budget needs both, to say how long it stays active",
			"path": "spec.disruption.budgets[0]",
		},
		{
			"msg": "spec.disruption.budgets[1] sets duration without schedule: a scheduled budget needs both, to say when it starts",
			"path": "spec.disruption.budgets[1]",
		},
	} with input as _with({"budgets": [{"nodes": "0", "schedule": "0 9 * * 1-5"}, {"nodes": "0", "duration": "1h"}]})
}

test_invalid_cron if {
	cases := {
		"0 9 * *": "it has 4 fields, want 5 (minute hour day-of-month month day-of-week) or a descriptor such as @daily",
		"75 9 * * 1-5": "minute 75 is out of range 0-59",
		"0 24 * * *": "hour 24 is out of range 0-23",
		"0 9 0 * *": "day-of-month 0 is out of range 1-31",
		"0 9 * 13 *": "month 13 is out of range 1-12",
		"0 9 * * 1-8": "day-of-week 8 is out of range 0-6",
		"0 9 * * 5-1": "day-of-week range 5-1 ends before it starts",
		"0 9 * * funday": `day-of-week "funday" is not a number or a name`,
		"*/0 9 * * *": "minute step /0 is not allowed",
		"0 9,x * * *": `hour "x" is not a number or a name`,
		"0 9 * * 1--5": `day-of-week field "1--5" is not a value, a range or a step`,
		"@every 5m": "it has 2 fields, want 5 (minute hour day-of-month month day-of-week) or a descriptor such as @daily",
	}
	every s, problem in cases {
		disruption.violation == {{
			"msg": sprintf("spec.disruption.budgets[0].schedule %q is not a valid cron schedule: %s", [s, problem]),
			"path": "spec.disruption.budgets[0].schedule",
		}} with input as _with({"budgets": [{"nodes": "0", "schedule": s, "duration": "1h"}]})
	}
}

test_durations if {
	disruption.violation == {
		{
			"msg": `spec.disruption.budgets[0].duration "30s" is not a duration in hours and minutes such as 10h, 30m or 1h30m`,
			"path": "spec.disruption.budgets[0].duration",
		},
		{
			"msg": `spec.disruption.consolidateAfter "5d" is not a duration such as 30s, 10m or 1h, or Never`,
			"path": "spec.disruption.consolidateAfter",
		},
	} with input as _with({"consolidateAfter": "5d", "budgets": [{"nodes": "0", "schedule": "@hourly", "duration": "30s"}]})
}

test_expire_after if {
	doc := t.pool({"template": {"spec": {"expireAfter": "30 days"}}})
	disruption.violation == {{
		"msg": `spec.template.spec.expireAfter "30 days" is not a duration such as 720h, or Never`,
		"path": "spec.template.spec.expireAfter",
	}} with input as doc
	disruption.violation == set() with input as t.pool({"template": {"spec": {"expireAfter": "720h"}}})
	disruption.violation == set() with input as t.pool({"template": {"spec": {"expireAfter": "Never"}}})
}
