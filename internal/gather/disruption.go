package gather

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// Disruption adds input.state.disruption for NodePools: each disruption
// budget's schedule parsed as Karpenter parses it, and the durations parsed
// as Go durations, so that the nodepool.disruption rule reports errors
// instead of parsing cron in Rego.
type Disruption struct{}

var _ review.Gatherer = Disruption{}

// DisruptionState is input.state.disruption.
type DisruptionState struct {
	// Budgets has one entry per spec.disruption.budgets item, in order.
	Budgets []BudgetState `json:"budgets"`
	// ConsolidateAfter and ExpireAfter say what is wrong with those
	// fields; empty when they are absent or valid.
	ConsolidateAfter string `json:"consolidateAfter,omitempty"`
	ExpireAfter      string `json:"expireAfter,omitempty"`
}

// BudgetState is what is wrong with one budget's schedule and duration;
// empty strings when nothing is.
type BudgetState struct {
	Schedule string `json:"schedule,omitempty"`
	Duration string `json:"duration,omitempty"`
}

// Key is input.state.disruption.
func (Disruption) Key() string { return "disruption" }

// Gather parses the disruption settings of a NodePool.
func (Disruption) Gather(_ context.Context, g *review.Gathering) (any, error) {
	if g.Target != engine.TargetNodePool || g.Object.Map == nil {
		return nil, nil
	}
	spec, _ := g.Object.Map["spec"].(map[string]any)
	disruption, _ := spec["disruption"].(map[string]any)
	out := &DisruptionState{Budgets: []BudgetState{}}
	budgets, _ := disruption["budgets"].([]any)
	for _, b := range budgets {
		bm, _ := b.(map[string]any)
		var bs BudgetState
		if s, ok := bm["schedule"].(string); ok {
			bs.Schedule = ScheduleProblem(s)
		}
		if d, ok := bm["duration"].(string); ok {
			bs.Duration = budgetDurationProblem(d)
		}
		out.Budgets = append(out.Budgets, bs)
	}
	if d, ok := disruption["consolidateAfter"].(string); ok && !durationOrNever(d) {
		out.ConsolidateAfter = "is not a duration such as 30s, 10m or 1h, or Never"
	}
	template, _ := spec["template"].(map[string]any)
	tspec, _ := template["spec"].(map[string]any)
	if d, ok := tspec["expireAfter"].(string); ok && !durationOrNever(d) {
		out.ExpireAfter = "is not a duration such as 720h, or Never"
	}
	return out, nil
}

// descriptors are the schedule descriptors Karpenter's NodePool schema
// allows (karpenter.sh_nodepools.yaml, budgets[].schedule pattern);
// robfig/cron also takes @every, which the schema refuses.
var descriptors = map[string]bool{
	"@annually": true, "@yearly": true, "@monthly": true, "@weekly": true,
	"@daily": true, "@midnight": true, "@hourly": true,
}

var cronFields = []string{"minute", "hour", "day-of-month", "month", "day-of-week"}

// ScheduleProblem says what is wrong with a budget schedule, or "" when
// Karpenter can use it. Karpenter parses schedules with robfig/cron's
// standard parser in UTC (sigs.k8s.io/karpenter pkg/apis/v1/nodepool.go,
// Budget.IsActive: cron.ParseStandard("TZ=UTC " + schedule)); the message
// names the field at fault when the parser's error shows which.
func ScheduleProblem(s string) string {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "@") {
		if descriptors[t] {
			return ""
		}
		return fmt.Sprintf("descriptor %s is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly", t)
	}
	fields := strings.Fields(t)
	if len(fields) != 5 {
		return fmt.Sprintf("it has %d fields, want 5 (minute hour day-of-month month day-of-week) or a descriptor such as @daily", len(fields))
	}
	if strings.Contains(t, "TZ=") {
		return "a time zone cannot be set: Karpenter reads schedules in UTC"
	}
	_, err := cron.ParseStandard("TZ=UTC " + t)
	if err == nil {
		return ""
	}
	// Name the field at fault: the first that fails with every other
	// field a wildcard.
	for fi, f := range fields {
		probe := []string{"*", "*", "*", "*", "*"}
		probe[fi] = f
		if _, ferr := cron.ParseStandard("TZ=UTC " + strings.Join(probe, " ")); ferr != nil {
			return fmt.Sprintf("%s field %q: %v", cronFields[fi], f, ferr)
		}
	}
	return err.Error()
}

// budgetDuration is the pattern Karpenter's NodePool schema gives a
// budget's duration: hours and minutes only.
var budgetDuration = regexp.MustCompile(`^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$`)

func budgetDurationProblem(d string) string {
	if _, err := time.ParseDuration(d); err != nil || !budgetDuration.MatchString(d) {
		return "is not a duration in hours and minutes such as 10h, 30m or 1h30m"
	}
	return ""
}

// durationOrNeverPattern is the schema's pattern for consolidateAfter and
// expireAfter; the value must also be a Go duration, as Karpenter parses it.
var durationOrNeverPattern = regexp.MustCompile(`^(([0-9]+(s|m|h))+|Never)$`)

func durationOrNever(d string) bool {
	if d == "Never" {
		return true
	}
	_, err := time.ParseDuration(d)
	return err == nil && durationOrNeverPattern.MatchString(d)
}
