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

# The schedules and durations are parsed in Go (internal/gather,
# TestScheduleProblem); the rule reports what the parser found.
test_parse_problems_reported if {
	doc := object.union(
		_with({"consolidateAfter": "5d", "budgets": [{"nodes": "0", "schedule": "0 9 * * 1-8", "duration": "30s"}]}),
		{"state": {"disruption": {
			"budgets": [{"schedule": "day-of-week field \"1-8\": end of range (8) above maximum (6): 1-8", "duration": "is not a duration in hours and minutes such as 10h, 30m or 1h30m"}],
			"consolidateAfter": "is not a duration such as 30s, 10m or 1h, or Never",
		}}},
	)
	disruption.violation == {
		{
			"msg": `spec.disruption.budgets[0].schedule "0 9 * * 1-8" is not a valid cron schedule: day-of-week field "1-8": end of range (8) above maximum (6): 1-8`,
			"path": "spec.disruption.budgets[0].schedule",
		},
		{
			"msg": `spec.disruption.budgets[0].duration "30s" is not a duration in hours and minutes such as 10h, 30m or 1h30m`,
			"path": "spec.disruption.budgets[0].duration",
		},
		{
			"msg": `spec.disruption.consolidateAfter "5d" is not a duration such as 30s, 10m or 1h, or Never`,
			"path": "spec.disruption.consolidateAfter",
		},
	} with input as doc
}

test_expire_after if {
	doc := object.union(t.pool({"template": {"spec": {"expireAfter": "30 days"}}}), {"state": {"disruption": {"budgets": [], "expireAfter": "is not a duration such as 720h, or Never"}}})
	disruption.violation == {{
		"msg": `spec.template.spec.expireAfter "30 days" is not a duration such as 720h, or Never`,
		"path": "spec.template.spec.expireAfter",
	}} with input as doc
	disruption.violation == set() with input as t.pool({"template": {"spec": {"expireAfter": "720h"}}})
}
