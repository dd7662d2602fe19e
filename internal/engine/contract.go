package engine

import (
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/types"
)

// The engine reads a policy's violation as a partial set of findings
// (docs/policy-input.md): violation contains {"msg": ..., "path": ...}.
// A complete rule, a function or an object compiles, but no evaluation of
// it can give findings; checking the rule kind and the type the compiler
// inferred refuses such a bundle when it loads, naming the file and the
// rule, instead of failing every review afterwards.

// isViolation reports whether r defines violation or a document below it.
func isViolation(r *ast.Rule) bool {
	ref := r.Head.Ref()
	return len(ref) > 0 && ref[0].Equal(ast.VarTerm("violation"))
}

const violationShape = `violation contains {"msg": ..., "path": ...} if { ... }`

// checkViolation verifies that the violation rules of module m form a
// partial set whose elements can be findings.
func checkViolation(c *ast.Compiler, m *ast.Module, file string) error {
	var problems []string
	for _, r := range m.Rules {
		if !isViolation(r) {
			continue
		}
		at := fmt.Sprintf("%s:%d", file, r.Location.Row)
		switch ref := r.Head.Ref(); {
		case len(r.Head.Args) > 0:
			problems = append(problems, fmt.Sprintf("%s: violation is a function; it must be a partial set rule: %s", at, violationShape))
		case len(ref) > 1:
			problems = append(problems, fmt.Sprintf("%s: violation[...] makes violation an object; it must be a partial set rule: %s", at, violationShape))
		case r.Head.RuleKind() != ast.MultiValue:
			problems = append(problems, fmt.Sprintf("%s: violation is a complete rule (one value); it must be a partial set rule: %s", at, violationShape))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	set, ok := c.TypeEnv.GetByRef(m.Package.Path.Append(ast.StringTerm("violation"))).(*types.Set)
	if !ok {
		return nil
	}
	if p := elementProblem(set.Of()); p != "" {
		loc := file
		for _, r := range m.Rules {
			if isViolation(r) {
				loc = fmt.Sprintf("%s:%d", file, r.Location.Row)
				break
			}
		}
		return fmt.Errorf("%s: violation holds %s; its elements must be objects with a string msg (and path), or strings", loc, p)
	}
	return nil
}

// elementProblem describes an element type that cannot be a finding, or
// returns "" when it can (types the compiler could not narrow included).
func elementProblem(t types.Type) string {
	switch x := t.(type) {
	case types.Any:
		for _, m := range x {
			if p := elementProblem(m); p != "" {
				return p
			}
		}
		return ""
	case types.String:
		return ""
	case *types.Object:
		msg := x.Select("msg")
		if msg == nil {
			return fmt.Sprintf("objects without msg (%s)", x)
		}
		if !mayBeString(msg) {
			return fmt.Sprintf("objects whose msg is not a string (%s)", x)
		}
		if path := x.Select("path"); path != nil && !mayBeString(path) {
			return fmt.Sprintf("objects whose path is not a string (%s)", x)
		}
		return ""
	}
	return types.Sprint(t) + " values"
}

func mayBeString(t types.Type) bool {
	switch x := t.(type) {
	case types.String:
		return true
	case types.Any:
		if len(x) == 0 {
			return true
		}
		for _, m := range x {
			if mayBeString(m) {
				return true
			}
		}
	}
	return false
}
