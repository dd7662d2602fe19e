package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Policies run on the admission path of every pod, operators' as well as
// the embedded ones. Rego in Tollgate never calls out and judges only the
// input: the compiler knows no built-in function that reaches the network,
// the process or a clock, returns something else each time, or allocates
// without bound before a deadline can stop it. A bundle that calls one
// fails to compile, with the file, the line and the reason.

// withheld are the built-in functions Tollgate policies may not call, with
// the reason a compile error gives. Every built-in OPA marks
// nondeterministic is withheld too (nondeterministicReason).
var withheld = map[string]string{
	"http.send":          "it calls out over the network; gather what a policy needs in Go (docs/policy-input.md)",
	"net.lookup_ip_addr": "it resolves names over the network",
	"opa.runtime":        "it reads the process's environment and configuration",
	"time.now_ns":        "its result changes from one evaluation to the next; Tollgate decides time-bound questions (exception expiry) in Go with one clock",
	"rand.intn":          "its result is random",
	"uuid.rfc4122":       "its result is random",
	"json.match_schema":  "a schema's $ref may be fetched over the network",
	"json.verify_schema": "a schema's $ref may be fetched over the network",
	"crypto.x509.parse_and_verify_certificates":              "it verifies against the current time",
	"crypto.x509.parse_and_verify_certificates_with_options": "it verifies against the current time unless told otherwise",
	"io.jwt.decode_verify":                                   "it verifies against the current time",
	"io.jwt.encode_sign":                                     "its signatures are random",
	"io.jwt.encode_sign_raw":                                 "its signatures are random",
	"net.cidr_expand":                                        "its result grows exponentially with its input (10.0.0.0/8 is 16 million addresses)",
	"numbers.range":                                          "its result is not bounded by the input and is allocated at once, before a deadline can stop it; iterate with some i, x in xs",
	"numbers.range_step":                                     "its result is not bounded by the input and is allocated at once, before a deadline can stop it; iterate with some i, x in xs",
	"rego.parse_module":                                      "it parses Rego at admission, which no policy needs",
}

const nondeterministicReason = "its result may change from one evaluation to the next"

// netReason covers the rest of the net.* family: withheld whole, so that
// a built-in OPA adds to it later is not available before it is judged.
const netReason = "Tollgate withholds the net.* built-ins (some resolve names over the network, some grow exponentially with their input); compare addresses the policy input holds as strings"

// Capabilities are the Rego capabilities Tollgate policies compile with:
// OPA's, without the withheld built-ins, and with no network access for
// the type checker (remote JSON schema references). Callers must not
// modify them; the Rego test runner should compile with them too, so that
// tests see what production sees.
var Capabilities = sync.OnceValue(func() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool {
		_, denied := withheldReason(b.Name)
		return denied
	})
	caps.AllowNet = []string{}
	return caps
})

// withheldReason says why a built-in is not available, and whether it is.
func withheldReason(name string) (string, bool) {
	if r, ok := withheld[name]; ok {
		return r, true
	}
	if b, ok := ast.BuiltinMap[name]; ok && b.Nondeterministic {
		return nondeterministicReason, true
	}
	if strings.HasPrefix(name, "net.") {
		return netReason, true
	}
	return "", false
}

// Withheld lists the built-in functions Tollgate policies may not call,
// sorted, for documentation and `tollgate policies`.
func Withheld() []string {
	names := slices.Collect(maps.Keys(withheld))
	for name := range ast.BuiltinMap {
		if _, denied := withheldReason(name); denied && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// explainWithheld turns the type checker's "undefined function http.send"
// into the reason the function is withheld; other errors are unchanged.
func explainWithheld(errs ast.Errors) ast.Errors {
	for _, e := range errs {
		name, ok := strings.CutPrefix(e.Message, "undefined function ")
		if !ok || e.Code != ast.TypeErr {
			continue
		}
		if reason, denied := withheldReason(name); denied {
			e.Message = fmt.Sprintf("%s is not available to Tollgate policies: %s", name, reason)
		}
	}
	return errs
}
