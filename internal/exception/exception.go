// Package exception decides which PolicyException (tollgate.dev/v1alpha1)
// excepts a finding. Admission, eval, audit and tollgate test all call
// Decider.Find with their one clock, so that an exception means the same
// everywhere; an expired exception excepts nothing anywhere.
//
// An exception applies to objects in its own namespace; cluster-scoped
// objects (NodePools) are excepted only by exceptions in Tollgate's own
// namespace (Decider.Home). A pod a controller creates is matched by its
// own kind, name (generateName while the name is not set yet) and labels,
// so no request-user trick is needed for controller-created pods.
package exception

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// Group, Version and Kind of the CRD (conformance/crds, the chart).
const (
	Group      = "tollgate.dev"
	Version    = "v1alpha1"
	Kind       = "PolicyException"
	APIVersion = Group + "/" + Version
)

// Exception is one parsed PolicyException.
type Exception struct {
	Namespace, Name string
	// Policies are policy ids or globs (pss.baseline.*).
	Policies []string
	// Kinds, Names (globs) and Selector are optional; every one given must
	// match.
	Kinds    []string
	Names    []string
	Selector labels.Selector // nil: any labels
	Reason   string
	Ticket   string
	// ExpiresAt is when the exception stops applying.
	ExpiresAt time.Time
	// ExpiresAtText is spec.expiresAt as written.
	ExpiresAtText string
}

// Ref is namespace/name.
func (e *Exception) Ref() string { return e.Namespace + "/" + e.Name }

// Warning is what the admission response says when the exception excepts a
// finding: "excepted by PolicyException ns/name until 2027-03-01 (PLAT-1234)".
func (e *Exception) Warning() string {
	s := "excepted by PolicyException " + e.Ref() + " until " + e.ExpiresAt.UTC().Format(time.DateOnly)
	if e.ExpiresAt.UTC().Format(time.TimeOnly) != "00:00:00" {
		s = "excepted by PolicyException " + e.Ref() + " until " + e.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if e.Ticket != "" {
		s += " (" + e.Ticket + ")"
	}
	return s
}

// Parse reads a PolicyException given as a generic object (the informer's
// unstructured object, a manifest). An object that exception.valid would
// deny for its shape (no reason, no or unparsable expiresAt, a blanket
// policy, an unparsable selector, a glob with characters other than '*')
// is an error: it excepts nothing, also when it reached the cluster before
// Tollgate validated exceptions.
func Parse(m map[string]any) (*Exception, error) {
	md, _ := m["metadata"].(map[string]any)
	spec, _ := m["spec"].(map[string]any)
	e := &Exception{}
	e.Namespace, _ = md["namespace"].(string)
	e.Name, _ = md["name"].(string)
	var errs []error
	e.Policies, errs = strings1(spec, "policies", errs)
	match, _ := spec["match"].(map[string]any)
	e.Kinds, errs = strings1(match, "kinds", errs)
	e.Names, errs = strings1(match, "names", errs)
	e.Reason, _ = spec["reason"].(string)
	e.Ticket, _ = spec["ticket"].(string)
	e.ExpiresAtText, _ = spec["expiresAt"].(string)
	if strings.TrimSpace(e.Reason) == "" {
		errs = append(errs, errors.New("spec.reason is required"))
	}
	if e.ExpiresAtText == "" {
		errs = append(errs, errors.New("spec.expiresAt is required"))
	} else if t, err := time.Parse(time.RFC3339, e.ExpiresAtText); err != nil {
		errs = append(errs, fmt.Errorf("spec.expiresAt %q is not an RFC 3339 time", e.ExpiresAtText))
	} else {
		e.ExpiresAt = t
	}
	if len(e.Policies) == 0 {
		errs = append(errs, errors.New("spec.policies is required"))
	}
	for _, p := range e.Policies {
		if err := CheckGlob(p); err != nil {
			errs = append(errs, fmt.Errorf("spec.policies: %w", err))
		} else if Blanket(p) {
			errs = append(errs, fmt.Errorf("spec.policies: %q excepts every policy; name the policies", p))
		}
	}
	for _, n := range e.Names {
		if err := CheckGlob(n); err != nil {
			errs = append(errs, fmt.Errorf("spec.match.names: %w", err))
		}
	}
	if sel, ok := match["selector"]; ok && sel != nil {
		s, err := ParseSelector(sel)
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.match.selector: %w", err))
		}
		e.Selector = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("PolicyException %s: %w", e.Ref(), err)
	}
	return e, nil
}

func strings1(m map[string]any, key string, errs []error) ([]string, []error) {
	raw, ok := m[key]
	if !ok || raw == nil {
		return nil, errs
	}
	l, ok := raw.([]any)
	if !ok {
		return nil, append(errs, fmt.Errorf("%s is not a list", key))
	}
	out := make([]string, 0, len(l))
	for _, v := range l {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, append(errs, fmt.Errorf("%s holds %v, not a name", key, v))
		}
		out = append(out, s)
	}
	return out, errs
}

// ParseSelector parses a metav1.LabelSelector given as a generic value, as
// the API server would (operators, values, label syntax).
func ParseSelector(v any) (labels.Selector, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not an object")
	}
	var ls metav1.LabelSelector
	if err := fromMap(m, &ls); err != nil {
		return nil, err
	}
	return metav1.LabelSelectorAsSelector(&ls)
}

// CheckGlob refuses globs with special characters other than '*', so that
// the Go matcher here and Rego's glob.match (exception.valid) agree.
func CheckGlob(g string) error {
	if g == "" {
		return errors.New("empty name")
	}
	if i := strings.IndexAny(g, `?[]{}\!,`); i >= 0 {
		return fmt.Errorf("%q: only '*' is a wildcard (found %q)", g, g[i])
	}
	return nil
}

// Blanket reports whether a policy glob matches every policy id.
func Blanket(g string) bool { return strings.Trim(g, "*") == "" }

// Match reports whether s matches glob g, where '*' matches any run of
// characters (dots included: pss.* matches pss.baseline.privileged).
func Match(g, s string) bool {
	parts := strings.Split(g, "*")
	if len(parts) == 1 {
		return g == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

// Subject is the object a finding is about.
type Subject struct {
	// Kind is the object's kind (Pod, DaemonSet, NodePool).
	Kind string
	// Namespace is empty for cluster-scoped objects.
	Namespace string
	// Name is metadata.name, or metadata.generateName when the name is not
	// set yet (pods of controllers at /mutate and in manifests).
	Name string
	// Labels are the object's labels; TemplateLabels those of a workload's
	// pod template, which a selector may match instead.
	Labels, TemplateLabels map[string]string
}

// Decider decides with one configuration for every entry point.
type Decider struct {
	// Home is Tollgate's own namespace, whose exceptions except
	// cluster-scoped objects.
	Home string
	// MaxDuration bounds how far ahead expiresAt may be: an exception that
	// expires later than now+MaxDuration was longer than allowed when it
	// was created, and excepts nothing (exception.valid denies it).
	MaxDuration time.Duration
}

// Usable says why an exception excepts nothing at now, or nil.
func (d Decider) Usable(e *Exception, now time.Time) error {
	if !now.Before(e.ExpiresAt) {
		return fmt.Errorf("expired at %s", e.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if d.MaxDuration > 0 && e.ExpiresAt.Sub(now) > d.MaxDuration {
		return fmt.Errorf("expiresAt %s is more than %s ahead", e.ExpiresAt.UTC().Format(time.RFC3339), d.MaxDuration)
	}
	return nil
}

// Matches reports whether e covers the object, ignoring policies and time.
func (d Decider) Matches(e *Exception, s Subject) bool {
	ns := s.Namespace
	if ns == "" {
		ns = d.Home
	}
	if e.Namespace != ns {
		return false
	}
	if len(e.Kinds) > 0 && !slices.Contains(e.Kinds, s.Kind) {
		return false
	}
	if len(e.Names) > 0 && !matchAny(e.Names, s.Name) {
		return false
	}
	if e.Selector != nil && !e.Selector.Matches(labels.Set(s.Labels)) &&
		(s.TemplateLabels == nil || !e.Selector.Matches(labels.Set(s.TemplateLabels))) {
		return false
	}
	return true
}

// Covers reports whether e names the policy.
func (e *Exception) Covers(policy string) bool { return matchAny(e.Policies, policy) }

// Find returns the exception that excepts a finding of policy on s at now,
// or nil. Among several the one that expires last wins (then the first by
// namespace/name), so that the answer does not depend on list order.
func (d Decider) Find(policy string, s Subject, exceptions []*Exception, now time.Time) *Exception {
	var best *Exception
	for _, e := range exceptions {
		if !e.Covers(policy) || !d.Matches(e, s) || d.Usable(e, now) != nil {
			continue
		}
		if best == nil || e.ExpiresAt.After(best.ExpiresAt) || (e.ExpiresAt.Equal(best.ExpiresAt) && e.Ref() < best.Ref()) {
			best = e
		}
	}
	return best
}

// ParseAll parses the exceptions of the state, sorted by namespace/name;
// the ones that cannot be used are returned as errors, to be reported, not
// applied.
func ParseAll(objs []map[string]any) ([]*Exception, []error) {
	var out []*Exception
	var errs []error
	for _, m := range objs {
		e, err := Parse(m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref() < out[j].Ref() })
	return out, errs
}

func fromMap(m map[string]any, out any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(m, out, true)
}

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if Match(g, s) {
			return true
		}
	}
	return false
}
