package engine

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Action is what happens when a policy finds a violation.
type Action string

// Enforcement actions, from strongest to weakest.
const (
	ActionDeny  Action = "deny"  // the request is refused
	ActionWarn  Action = "warn"  // admitted, the client sees a warning
	ActionAudit Action = "audit" // admitted, recorded in audit annotations, metrics and reports
	ActionOff   Action = "off"   // not evaluated
)

// ParseAction validates an action name.
func ParseAction(s string) (Action, error) {
	switch a := Action(s); a {
	case ActionDeny, ActionWarn, ActionAudit, ActionOff:
		return a, nil
	}
	return "", fmt.Errorf("unknown action %q (want deny, warn, audit or off)", s)
}

// Weaker returns the weaker of two actions.
func Weaker(a, b Action) Action {
	if a.rank() < b.rank() {
		return a
	}
	return b
}

func (a Action) rank() int {
	switch a {
	case ActionDeny:
		return 3
	case ActionWarn:
		return 2
	case ActionAudit:
		return 1
	}
	return 0
}

// Severities, most severe first.
var severities = []string{"critical", "high", "medium", "low"}

// SeverityRank orders severities: critical is 4, low is 1, unknown 0.
func SeverityRank(s string) int {
	if i := slices.Index(severities, s); i >= 0 {
		return len(severities) - i
	}
	return 0
}

// Target is a kind of object a policy evaluates.
type Target string

// Targets a policy may declare in custom.targets.
const (
	TargetPod       Target = "pod"       // Pods
	TargetTemplate  Target = "template"  // pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs
	TargetNodePool  Target = "nodepool"  // karpenter.sh/v1 NodePools
	TargetNodeClass Target = "nodeclass" // karpenter.k8s.aws/v1 EC2NodeClasses, EKS Auto Mode eks.amazonaws.com/v1 NodeClasses
	TargetS3Bucket  Target = "s3bucket"  // ACK s3.services.k8s.aws Buckets
	TargetIAMRole   Target = "iamrole"   // ACK iam.services.k8s.aws Roles
	TargetIAMPolicy Target = "iampolicy" // ACK iam.services.k8s.aws Policies
	// TargetDrift is a running pod's drift: what the mutators would change
	// were it created today (input.drift). Only audits evaluate it.
	TargetDrift Target = "drift"
	// TargetException is a tollgate.dev/v1alpha1 PolicyException
	// (exception.valid).
	TargetException Target = "exception"
)

// Targets lists every target in a stable order.
var Targets = []Target{TargetPod, TargetTemplate, TargetNodePool, TargetNodeClass, TargetS3Bucket, TargetIAMRole, TargetIAMPolicy, TargetDrift, TargetException}

// Policy is one policy's identity and documentation, read from the METADATA
// block of its package. Nothing here is duplicated in Go.
type Policy struct {
	ID          string   `json:"id"`
	Family      string   `json:"family"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Severity    string   `json:"severity"`
	Action      Action   `json:"action"`
	Remediation string   `json:"remediation"`
	Targets     []Target `json:"targets"`
	// Package is the Rego package path, e.g. data.tollgate.pss.privileged.
	Package string `json:"package"`
	// File is where the package was loaded from.
	File string `json:"file"`
	// Example is a manifest (YAML) that violates the policy, for generated docs.
	Example string `json:"example,omitempty"`
	// ExampleParams are the parameters (data.tollgate.params) the example
	// is evaluated with, for policies that are off until configured.
	ExampleParams map[string]any `json:"exampleParams,omitempty"`
	// PSS holds the Pod Security Standards level and versions of pss checks.
	PSS *PSSCheck `json:"pss,omitempty"`
	// Builtin is true for policies of the embedded bundle.
	Builtin bool `json:"builtin"`
	// OnError is what happens when the policy fails to evaluate on an
	// object (custom.onError, else Options.OnError, else deny): at most
	// this action, and never more than the policy's own action
	// (Finding.Action).
	OnError Action `json:"onError"`
	// Reads lists the only parts of the input the policy reads ("state.iam"),
	// from custom.reads; the engine verifies it and reuses the policy's
	// findings across evaluations whose input holds the same values there
	// (memo.go).
	Reads []string `json:"reads,omitempty"`
}

// AppliesTo reports whether the policy evaluates objects of target t.
func (p *Policy) AppliesTo(t Target) bool { return slices.Contains(p.Targets, t) }

// PSSCheck places a pss check in the Pod Security Standards: its level, the
// first version it exists in, and the baseline checks it replaces at the
// restricted level.
type PSSCheck struct {
	Level     string   `json:"level"`
	Since     Version  `json:"since"`
	Overrides []string `json:"overrides,omitempty"`
}

// Version is a Pod Security Standards version v1.N, stored as N.
type Version int

// ParseVersion accepts "v1.N", "1.N" and "latest".
func ParseVersion(s string) (Version, error) {
	if s == "" || s == "latest" {
		return LatestPSSVersion, nil
	}
	t := strings.TrimPrefix(s, "v")
	major, minor, ok := strings.Cut(t, ".")
	n, err := strconv.Atoi(minor)
	if !ok || major != "1" || err != nil || n < 0 {
		return 0, fmt.Errorf("invalid Pod Security Standards version %q (want v1.N or latest)", s)
	}
	return Version(n), nil
}

func (v Version) String() string { return fmt.Sprintf("v1.%d", int(v)) }

// UnmarshalJSON reads "1.N" or "v1.N".
func (v *Version) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	p, err := ParseVersion(s)
	*v = p
	return err
}

// MarshalJSON writes "v1.N".
func (v Version) MarshalJSON() ([]byte, error) { return json.Marshal(v.String()) }

// LatestPSSVersion is the newest Pod Security Standards version Tollgate
// implements (k8s.io/pod-security-admission v0.37). Newer requested versions
// are evaluated as this one, as upstream does.
const LatestPSSVersion Version = 37

var readPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[A-Za-z][A-Za-z0-9_-]*)+$`)

// custom is the shape of METADATA custom fields Tollgate reads.
type custom struct {
	ID            string         `json:"id"`
	Severity      string         `json:"severity"`
	Action        string         `json:"action"`
	Remediation   string         `json:"remediation"`
	Targets       []Target       `json:"targets"`
	Example       string         `json:"example"`
	ExampleParams map[string]any `json:"exampleParams"`
	PSS           *PSSCheck      `json:"pss"`
	Reads         []string       `json:"reads"`
	OnError       string         `json:"onError"`
}

// policyFromAnnotations builds a Policy from a package's METADATA, or
// explains what is missing, naming the file and line.
func policyFromAnnotations(pkg ast.Ref, a *ast.Annotations, file string) (*Policy, error) {
	loc := file
	if a != nil && a.Location != nil {
		loc = fmt.Sprintf("%s:%d", file, a.Location.Row)
	}
	if a == nil {
		return nil, fmt.Errorf("%s: package %s has a violation rule but no package METADATA block", file, pkg)
	}
	raw, err := json.Marshal(a.Custom)
	if err != nil {
		return nil, fmt.Errorf("%s: METADATA custom: %w", loc, err)
	}
	var c custom
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: METADATA custom: %w", loc, err)
	}
	p := &Policy{
		ID: c.ID, Title: a.Title, Description: strings.TrimSpace(a.Description),
		Severity: c.Severity, Remediation: strings.TrimSpace(c.Remediation),
		Targets: c.Targets, Package: pkg.String(), File: file, Example: c.Example, ExampleParams: c.ExampleParams, PSS: c.PSS,
		Reads: c.Reads,
	}
	var problems []string
	if !idPattern.MatchString(p.ID) {
		problems = append(problems, fmt.Sprintf("custom.id %q is not a dotted <family>.<name> id", p.ID))
	} else {
		p.Family, _, _ = strings.Cut(p.ID, ".")
	}
	if p.Title == "" {
		problems = append(problems, "title is missing")
	}
	if p.Description == "" {
		problems = append(problems, "description is missing")
	}
	if p.Remediation == "" {
		problems = append(problems, "custom.remediation is missing")
	}
	if SeverityRank(p.Severity) == 0 {
		problems = append(problems, fmt.Sprintf("custom.severity %q is not one of critical, high, medium, low", p.Severity))
	}
	if act, err := ParseAction(c.Action); err != nil {
		problems = append(problems, "custom.action: "+err.Error())
	} else {
		p.Action = act
	}
	if len(p.Targets) == 0 {
		problems = append(problems, "custom.targets is empty")
	}
	for _, t := range p.Targets {
		if !slices.Contains(Targets, t) {
			problems = append(problems, fmt.Sprintf("custom.targets: unknown target %q", t))
		}
	}
	if p.PSS != nil && p.PSS.Level != "baseline" && p.PSS.Level != "restricted" {
		problems = append(problems, fmt.Sprintf("custom.pss.level %q is not baseline or restricted", p.PSS.Level))
	}
	if c.OnError != "" {
		if act, err := ParseAction(c.OnError); err != nil {
			problems = append(problems, "custom.onError: "+err.Error())
		} else {
			p.OnError = act
		}
	}
	for _, r := range p.Reads {
		if !readPattern.MatchString(r) {
			problems = append(problems, fmt.Sprintf("custom.reads: %q is not a dotted path inside the input (state.iam)", r))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: policy %s: %s", loc, pkg, strings.Join(problems, "; "))
	}
	return p, nil
}
