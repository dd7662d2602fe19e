package gpus

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/parser"
)

// selectorFacts is what one CEL device selector requires of a device for
// certain: the comparisons with a string literal found at its top, through
// && and cel.bind. Anything else in the selector only narrows which devices
// match, which never changes how many are allocated, except for the MIG
// profile, which decides what a device counts as.
type selectorFacts struct {
	// drivers are the values of device.driver == '...'.
	drivers []string
	// domains are the attribute domains compared with ==.
	domains []string
	// profiles are the values the profile attribute must have.
	profiles []string
	// unreadable is the parse error of a selector that is not CEL.
	unreadable string
	// unclear says how the selector reads the profile when it does so in
	// a way that does not name one (||, in with several values, ...).
	unclear string
}

// maxExpression is the longest selector Kubernetes accepts (10 Ki, k8s.io/api
// resource/v1 CELDeviceSelector.Expression).
const maxExpression = 10 * 1024

// celParser parses without macros: cel.bind and has() stay plain calls,
// which is all the reader needs. Optional syntax (.?name, orValue) is on, as
// in the Kubernetes DRA CEL environment. A Parser is safe for concurrent use.
var celParser = func() *parser.Parser {
	p, err := parser.NewParser(
		parser.EnableOptionalSyntax(true),
		parser.ExpressionSizeCodePointLimit(maxExpression),
		parser.ErrorReportingLimit(3),
	)
	if err != nil {
		panic(err) // the options are constants
	}
	return p
}()

// selectorCache remembers what selectors say: informer-fed counting reads
// the same few expressions for every pod. Selectors come from users, so it
// keeps only expressions up to maxCachedLength and stops growing at
// maxCachedSelectors entries: at most 4 MiB of keys.
type selectorCache struct {
	m sync.Map // string -> selectorFacts
	n atomic.Int64
}

const (
	maxCachedSelectors = 4096
	maxCachedLength    = 1024
)

func (c *selectorCache) read(expr string, profile attrName) selectorFacts {
	if f, ok := c.m.Load(expr); ok {
		return f.(selectorFacts)
	}
	f := readSelector(expr, profile)
	if len(expr) <= maxCachedLength && c.n.Load() < maxCachedSelectors {
		if _, loaded := c.m.LoadOrStore(expr, f); !loaded {
			c.n.Add(1)
		}
	}
	return f
}

// attrName is a fully qualified device attribute.
type attrName struct{ domain, name string }

func parseAttrName(s string) attrName {
	d, n, _ := strings.Cut(s, "/")
	return attrName{d, n}
}

// readSelector reads one selector.
func readSelector(expr string, profile attrName) selectorFacts {
	var f selectorFacts
	tree, errs := celParser.Parse(common.NewTextSource(expr))
	if errs != nil && len(errs.GetErrors()) > 0 {
		msg := errs.GetErrors()[0].Message
		f.unreadable = fmt.Sprintf("not a CEL expression (%s)", truncate(msg, 120))
		return f
	}
	r := reader{profile: profile, facts: &f}
	r.conjunct(tree.Expr())
	return f
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// reader walks a selector's top-level conjuncts.
type reader struct {
	profile attrName
	// bound maps cel.bind variables to the attribute domain they stand
	// for: cel.bind(dra, device.attributes['gpu.nvidia.com'], dra.profile == '1g.10gb').
	bound map[string]string
	facts *selectorFacts
}

func (r *reader) conjunct(e ast.Expr) {
	if e.Kind() == ast.CallKind {
		call := e.AsCall()
		args := call.Args()
		switch fn := call.FunctionName(); {
		case fn == operators.LogicalAnd:
			for _, a := range args {
				r.conjunct(a)
			}
			return
		case fn == operators.Equals && len(args) == 2:
			if r.equality(args[0], args[1]) || r.equality(args[1], args[0]) {
				return
			}
		case fn == operators.In && len(args) == 2 && args[1].Kind() == ast.ListKind:
			elems := args[1].AsList().Elements()
			if len(elems) == 1 && r.equality(args[0], elems[0]) {
				return
			}
			if r.isProfile(args[0]) {
				r.unclearly(fmt.Sprintf("allows %d profiles with in", len(elems)))
				return
			}
		case fn == "includes" && call.IsMemberFunction() && len(args) == 1:
			// includes() works on scalar and list attributes alike
			// (k8s.io/api resource/v1 CELDeviceSelector).
			if r.equality(call.Target(), args[0]) {
				return
			}
		case fn == "bind" && call.IsMemberFunction() && len(args) == 3 && isIdent(call.Target(), "cel") && args[0].Kind() == ast.IdentKind:
			if domain, ok := r.attributes(args[1]); ok {
				v := args[0].AsIdent()
				prev, had := r.bound[v]
				if r.bound == nil {
					r.bound = map[string]string{}
				}
				r.bound[v] = domain
				r.conjunct(args[2])
				if had {
					r.bound[v] = prev
				} else {
					delete(r.bound, v)
				}
				return
			}
		}
	}
	if r.mentionsProfile(e) {
		how := "reads the profile in a way Tollgate does not (only ==, in with one value and includes name a profile)"
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalOr {
			how = "allows several profiles with ||"
		}
		r.unclearly(how)
	}
}

func (r *reader) unclearly(how string) {
	if r.facts.unclear == "" {
		r.facts.unclear = how
	}
}

// equality records lhs == rhs when lhs reads the driver or an attribute and
// rhs is a string literal, and reports whether it did.
func (r *reader) equality(lhs, rhs ast.Expr) bool {
	a, def, ok := r.attr(lhs)
	if !ok {
		return false
	}
	v, isString := stringLiteral(rhs)
	isProfile := a == r.profile
	switch {
	case !isString:
		if isProfile {
			r.unclearly("compares the profile with something other than a string")
			return true
		}
		return false
	case def != nil && *def == v:
		// .?profile.orValue('x') == 'x' also holds for devices without the
		// attribute: it requires nothing.
		return true
	case a.domain == "" && a.name == "driver":
		r.facts.drivers = appendNew(r.facts.drivers, v)
	default:
		r.facts.domains = appendNew(r.facts.domains, a.domain)
		if isProfile {
			r.facts.profiles = appendNew(r.facts.profiles, v)
		}
	}
	return true
}

// attr names what an expression reads: device.driver (as the attribute
// with no domain), device.attributes[domain].name,
// device.attributes[domain][name], device.attributes[domain].?name.orValue(x)
// (with x as def), or the same through a cel.bind variable.
func (r *reader) attr(e ast.Expr) (a attrName, def *string, ok bool) {
	switch e.Kind() {
	case ast.SelectKind:
		s := e.AsSelect()
		if s.IsTestOnly() {
			return a, nil, false
		}
		if isIdent(s.Operand(), "device") && s.FieldName() == "driver" {
			return attrName{"", "driver"}, nil, true
		}
		if d, ok := r.attributes(s.Operand()); ok {
			return attrName{d, s.FieldName()}, nil, true
		}
	case ast.CallKind:
		c := e.AsCall()
		args := c.Args()
		switch c.FunctionName() {
		case operators.Index, operators.OptSelect, operators.OptIndex:
			if len(args) != 2 {
				return a, nil, false
			}
			// OptSelect alone yields an optional, which never equals a
			// string: only orValue below makes it comparable.
			if d, ok := r.attributes(args[0]); ok && c.FunctionName() == operators.Index {
				if n, ok := stringLiteral(args[1]); ok {
					return attrName{d, n}, nil, true
				}
			}
		case "orValue":
			if !c.IsMemberFunction() || len(args) != 1 || c.Target().Kind() != ast.CallKind {
				return a, nil, false
			}
			inner := c.Target().AsCall()
			if fn := inner.FunctionName(); (fn != operators.OptSelect && fn != operators.OptIndex) || len(inner.Args()) != 2 {
				return a, nil, false
			}
			d, ok := r.attributes(inner.Args()[0])
			n, isName := stringLiteral(inner.Args()[1])
			v, isString := stringLiteral(args[0])
			if ok && isName && isString {
				return attrName{d, n}, &v, true
			}
		}
	}
	return a, nil, false
}

// attributes reports the domain of device.attributes[domain] or of a
// cel.bind variable standing for it.
func (r *reader) attributes(e ast.Expr) (string, bool) {
	switch e.Kind() {
	case ast.IdentKind:
		d, ok := r.bound[e.AsIdent()]
		return d, ok
	case ast.CallKind:
		c := e.AsCall()
		if c.FunctionName() != operators.Index || len(c.Args()) != 2 {
			return "", false
		}
		op := c.Args()[0]
		if op.Kind() != ast.SelectKind || op.AsSelect().FieldName() != "attributes" || !isIdent(op.AsSelect().Operand(), "device") {
			return "", false
		}
		return stringLiteral(c.Args()[1])
	}
	return "", false
}

// isProfile reports whether an expression reads the profile attribute.
func (r *reader) isProfile(e ast.Expr) bool {
	if a, _, ok := r.attr(e); ok && a == r.profile {
		return true
	}
	// .?profile without orValue, and has(...) style selects.
	if e.Kind() == ast.CallKind {
		c := e.AsCall()
		if fn := c.FunctionName(); (fn == operators.OptSelect || fn == operators.OptIndex) && len(c.Args()) == 2 {
			d, ok := r.attributes(c.Args()[0])
			n, isName := stringLiteral(c.Args()[1])
			return ok && isName && (attrName{d, n}) == r.profile
		}
	}
	if e.Kind() == ast.SelectKind {
		s := e.AsSelect()
		d, ok := r.attributes(s.Operand())
		return ok && (attrName{d, s.FieldName()}) == r.profile
	}
	return false
}

// mentionsProfile reports whether the profile attribute is read anywhere
// in e, or e reads a whole attribute map of its domain some other way.
func (r *reader) mentionsProfile(e ast.Expr) bool {
	found := false
	ast.PreOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		if !found && r.isProfile(x) {
			found = true
		}
	}))
	return found
}

func isIdent(e ast.Expr, name string) bool {
	return e != nil && e.Kind() == ast.IdentKind && e.AsIdent() == name
}

func stringLiteral(e ast.Expr) (string, bool) {
	if e == nil || e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().Value().(string)
	return s, ok
}

func appendNew(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}
