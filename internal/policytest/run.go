package policytest

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// CaseResult is the outcome of one case.
type CaseResult struct {
	Suite    string
	Name     string
	File     string
	Line     int
	Duration time.Duration
	// Failures says what did not match; empty when the case passed.
	Failures []string
	// Result is the review the case got.
	Result *review.Result
}

// Passed reports whether the case passed.
func (r *CaseResult) Passed() bool { return len(r.Failures) == 0 }

// NewReviewer builds the reviewer a suite's cases run through, over the
// suite's cluster state, configuration overrides and offline IAM documents.
type NewReviewer func(st state.Reader, config map[string]any, iamPolicies string) (*review.Reviewer, error)

// Run runs the suite's cases whose "suite/case" name matches filter (nil
// runs all).
func Run(ctx context.Context, s *Suite, newReviewer NewReviewer, filter *regexp.Regexp) ([]CaseResult, error) {
	st := state.NewStatic()
	for _, d := range s.StateDocs {
		st.Add(d.Object)
	}
	var r *review.Reviewer
	var out []CaseResult
	for _, c := range s.Cases {
		full := s.Metadata.Name + "/" + c.Name
		if filter != nil && !filter.MatchString(full) {
			continue
		}
		if r == nil {
			var err error
			if r, err = newReviewer(st, s.Config, s.IAMPolicies); err != nil {
				return nil, &Error{File: s.File, Line: 1, Err: fmt.Errorf("config: %w", err)}
			}
		}
		start := time.Now()
		req := &review.Request{Object: c.Doc.Object, Operation: c.Operation, Mutate: c.Operation == "CREATE", Now: s.NowTime}
		if c.User != nil {
			req.User = authenticationv1.UserInfo{Username: c.User.Username, Groups: c.User.Groups}
		}
		res, err := r.Review(ctx, req)
		cr := CaseResult{Suite: s.Metadata.Name, Name: c.Name, File: s.File, Line: c.Line, Result: res}
		if err != nil {
			cr.Failures = []string{"review failed: " + err.Error()}
		} else {
			cr.Failures = c.Expect.compare(res)
		}
		cr.Duration = time.Since(start)
		out = append(out, cr)
	}
	return out, nil
}

func compile(re string) (*regexp.Regexp, error) {
	r, err := regexp.Compile(re)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %w", re, err)
	}
	return r, nil
}

// compare returns what differs between the expectation and the result.
func (e *Expect) compare(res *review.Result) []string {
	var fails []string
	ids := make([]string, 0, len(res.Violations))
	for _, v := range res.Violations {
		if !slices.Contains(ids, v.Policy) {
			ids = append(ids, v.Policy)
		}
	}
	sort.Strings(ids)
	if e.Allowed != nil && *e.Allowed != res.Allowed {
		fails = append(fails, fmt.Sprintf("allowed: expected %v, got %v", *e.Allowed, res.Allowed))
	}
	if e.Violations != nil {
		want := slices.Clone(*e.Violations)
		sort.Strings(want)
		if !slices.Equal(want, ids) {
			fails = append(fails, fmt.Sprintf("violations: expected %v, got %v", want, ids))
		}
	}
	if e.Excepted != nil {
		var got []string
		for _, x := range res.Excepted {
			if !slices.Contains(got, x.Policy) {
				got = append(got, x.Policy)
			}
		}
		sort.Strings(got)
		want := slices.Clone(*e.Excepted)
		sort.Strings(want)
		if !slices.Equal(want, got) {
			fails = append(fails, fmt.Sprintf("excepted: expected %v, got %v", want, got))
		}
	}
	for _, g := range e.Includes {
		if !slices.ContainsFunc(ids, func(id string) bool { return globMatch(g, id) }) {
			fails = append(fails, fmt.Sprintf("includes: no violation matches %q (got %v)", g, ids))
		}
	}
	for _, g := range e.Excludes {
		for _, id := range ids {
			if globMatch(g, id) {
				fails = append(fails, fmt.Sprintf("excludes: %s matches %q", id, g))
			}
		}
	}
	for _, m := range e.Messages {
		re, _ := compile(m)
		if !slices.ContainsFunc(res.Violations, func(v review.Violation) bool { return re.MatchString(v.Message) }) {
			fails = append(fails, fmt.Sprintf("messages: no violation message matches %q", m))
		}
	}
	for _, w := range e.Warnings {
		re, _ := compile(w)
		if !slices.ContainsFunc(res.Warnings, re.MatchString) {
			fails = append(fails, fmt.Sprintf("warnings: no warning matches %q (got %q)", w, res.Warnings))
		}
	}
	if e.Patch != nil && *e.Patch != len(res.Patch) {
		fails = append(fails, fmt.Sprintf("patch: expected %d operations, got %d", *e.Patch, len(res.Patch)))
	}
	if e.Mutated != nil {
		var got any
		if err := json.Unmarshal(res.Mutated, &got); err != nil {
			fails = append(fails, "mutated: the mutated object does not decode: "+err.Error())
		} else if diff := contains(normalize(e.Mutated), got, ""); diff != "" {
			fails = append(fails, "mutated: "+diff)
		}
	}
	return fails
}

func globMatch(glob, id string) bool {
	ok, _ := filepath.Match(glob, id)
	return ok
}

// normalize turns YAML-decoded values into their JSON forms.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// contains reports where want is not contained in got: maps match key by
// key, a list matches when each wanted element matches some element of the
// actual list, and scalars match by their text (so 1 matches "1", as
// Kubernetes quantities are written either way).
func contains(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: expected an object, got %s", orRoot(path), short(got))
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing", orRoot(path), k)
			}
			if d := contains(w[k], gv, path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: expected a list, got %s", orRoot(path), short(got))
		}
		for i, we := range w {
			if !slices.ContainsFunc(g, func(ge any) bool { return contains(we, ge, "") == "" }) {
				return fmt.Sprintf("%s[%d]: no element of %s matches %s", orRoot(path), i, short(got), short(we))
			}
		}
		return ""
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			return fmt.Sprintf("%s: expected %s, got %s", orRoot(path), short(want), short(got))
		}
		return ""
	}
}

func orRoot(p string) string {
	if p == "" {
		return "(object)"
	}
	return strings.TrimPrefix(p, ".")
}

func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
