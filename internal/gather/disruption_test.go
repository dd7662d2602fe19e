package gather

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
)

func TestScheduleProblem(t *testing.T) {
	for s, want := range map[string]string{
		"0 9 * * 1-5":                 "",
		"0 0 * * 0,6":                 "",
		"@daily":                      "",
		" @hourly ":                   "",
		"*/15 8-18 ? JAN-Mar mon-fri": "",
		"0 9 * *":                     "it has 4 fields, want 5 (minute hour day-of-month month day-of-week) or a descriptor such as @daily",
		"75 9 * * 1-5":                `minute field "75": end of range (75) above maximum (59): 75`,
		"0 24 * * *":                  `hour field "24": end of range (24) above maximum (23): 24`,
		"0 9 0 * *":                   `day-of-month field "0": beginning of range (0) below minimum (1): 0`,
		"0 9 * 13 *":                  `month field "13": end of range (13) above maximum (12): 13`,
		"0 9 * * 1-8":                 `day-of-week field "1-8": end of range (8) above maximum (6): 1-8`,
		"0 9 * * 5-1":                 `day-of-week field "5-1": beginning of range (5) beyond end of range (1): 5-1`,
		"0 9 * * funday":              `day-of-week field "funday": failed to parse int from funday: strconv.Atoi: parsing "funday": invalid syntax`,
		"*/0 9 * * *":                 `minute field "*/0": step of range should be a positive number: */0`,
		"0 9,x * * *":                 `hour field "9,x": failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`,
		"@every 5m":                   "descriptor @every 5m is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly",
		"TZ=Europe/Paris 0 9 * * *":   "it has 6 fields, want 5 (minute hour day-of-month month day-of-week) or a descriptor such as @daily",
	} {
		if got := ScheduleProblem(s); got != want {
			t.Errorf("ScheduleProblem(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestDisruptionState(t *testing.T) {
	raw := `{"apiVersion":"karpenter.sh/v1","kind":"NodePool","metadata":{"name":"np"},"spec":{
"disruption":{"consolidateAfter":"5d","budgets":[{"nodes":"0","schedule":"0 9 * * 1-8","duration":"30s"},{"nodes":"10%"},{"schedule":7}]},
"template":{"spec":{"expireAfter":"Never","nodeClassRef":{"group":"karpenter.k8s.aws","kind":"EC2NodeClass","name":"d"},"requirements":[]}}}}`
	o, err := kubeobjects.Decode([]byte(raw), false)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Disruption{}.Gather(context.Background(), &review.Gathering{Object: o, Target: engine.TargetNodePool})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(v)
	want := `{"budgets":[{"schedule":"day-of-week field \"1-8\": end of range (8) above maximum (6): 1-8","duration":"is not a duration in hours and minutes such as 10h, 30m or 1h30m"},{},{}],"consolidateAfter":"is not a duration such as 30s, 10m or 1h, or Never"}`
	if string(got) != want {
		t.Errorf("state\n got %s\nwant %s", got, want)
	}
	if v, _ := (Disruption{}).Gather(context.Background(), &review.Gathering{Object: o, Target: engine.TargetPod}); v != nil {
		t.Errorf("a pod got disruption state: %v", v)
	}
}
