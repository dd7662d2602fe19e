package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/internal/engine"
	bundle "github.com/tollgate-dev/tollgate/rego"
)

// Operator bundles run on the admission path of every pod next to the
// embedded policies. These tests hold the engine to what issue 17 item 6
// asks: no built-in that calls out or changes between evaluations, a
// violation rule of the wrong kind refused at load, one policy's error
// confined to that policy, and a canary corpus a bundle must pass.

// operatorPolicy is a package acme.<name> with METADATA and body.
func operatorPolicy(name, extra, body string) string {
	return `# METADATA
# title: t
# description: d
# custom:
#   id: acme.` + name + `
#   severity: high
#   action: deny
#   targets: [pod, iampolicy]
#   remediation: r
` + extra + `package acme.` + name + "\n\n" + body + "\n"
}

// withEmbedded builds an engine from the embedded bundle and an operator
// bundle "acme" of files.
func withEmbedded(t *testing.T, files map[string]string) (*engine.Engine, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, src := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	loaded, err := engine.Load(
		engine.Source{Name: "embedded", FS: bundle.FS, Builtin: true},
		engine.Source{Name: "acme", FS: fsys},
	)
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(context.Background(), loaded, engine.Options{PSSLevel: "restricted", PSSVersion: engine.LatestPSSVersion})
}

// wantBundleError fails unless err is a bundle error holding every want.
func wantBundleError(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the bundle loaded, want an error saying %q", want)
	}
	if !errors.Is(err, engine.ErrBundle) {
		t.Errorf("error %v is not an engine.ErrBundle", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

// TestWithheldBuiltins: a policy calling out (http.send, DNS), reading the
// process (opa.runtime) or calling a nondeterministic built-in does not
// compile; the error names the file, the line and the reason.
func TestWithheldBuiltins(t *testing.T) {
	for _, tc := range []struct{ name, call, reason string }{
		{"http.send", `http.send({"method": "GET", "url": "http://attacker.example"}).status_code == 200`, "network"},
		{"net.lookup_ip_addr", `net.lookup_ip_addr("attacker.example")`, "network"},
		{"opa.runtime", `opa.runtime().env.HOME`, "environment"},
		{"time.now_ns", `time.now_ns() > 0`, "changes"},
		{"rand.intn", `rand.intn("x", 10) == 1`, "random"},
		{"uuid.rfc4122", `uuid.rfc4122("x")`, "random"},
		{"net.cidr_expand", `count(net.cidr_expand("10.0.0.0/8")) > 0`, "exponentially"},
		{"net.cidr_contains", `net.cidr_contains("10.0.0.0/8", "10.0.0.1")`, "net.* built-ins"},
		{"numbers.range", `count(numbers.range(0, 1000000000)) > 0`, "bounded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := withEmbedded(t, map[string]string{"p.rego": operatorPolicy("p", "", "violation contains \"x\" if {\n\tinput.pod\n\t"+tc.call+"\n}")})
			wantBundleError(t, err, "acme/p.rego:14", tc.name+" is not available to Tollgate policies", tc.reason)
		})
	}
	if !strings.Contains(strings.Join(engine.Withheld(), " "), "http.send") {
		t.Errorf("Withheld() = %v, want http.send in it", engine.Withheld())
	}
}

// TestViolationMustBeAPartialSet: a violation rule that is not a partial
// set of findings is refused at load, naming the file and the rule; it
// used to load and then fail every review ("0 result sets").
func TestViolationMustBeAPartialSet(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"complete rule", `violation := {"msg": "x"} if input.pod.spec.hostNetwork`, "acme/p.rego:12: violation is a complete rule"},
		{"complete boolean", `violation if input.pod.spec.hostNetwork`, "acme/p.rego:12: violation is a complete rule"},
		{"function", `violation(x) := x if input.pod`, "acme/p.rego:12: violation is a function"},
		{"object", `violation[name] := "x" if some name in input.pod.metadata.labels`, "acme/p.rego:12: violation[...] makes violation an object"},
		{"numbers", `violation contains count(input.pod.containers) if input.pod`, "acme/p.rego:12: violation holds number values"},
		{"objects without msg", `violation contains {"message": "x"} if input.pod`, "objects without msg"},
		{"msg that is a number", `violation contains {"msg": 1} if input.pod`, "msg is not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := withEmbedded(t, map[string]string{"p.rego": operatorPolicy("p", "", tc.body)})
			wantBundleError(t, err, "policy acme.p", tc.want)
		})
	}
	for _, ok := range []string{
		`violation contains "plain string" if input.pod.spec.hostNetwork`,
		`violation contains {"msg": "x", "path": "spec.hostNetwork"} if input.pod.spec.hostNetwork`,
		`violation contains {"msg": m, "path": p} if {
	some i, c in input.pod.containers
	m := sprintf("%v", [c.name])
	p := input.pod.containerPaths[i]
}`,
	} {
		if _, err := withEmbedded(t, map[string]string{"p.rego": operatorPolicy("p", "", ok)}); err != nil {
			t.Errorf("a partial set of findings is refused: %v\n%s", err, ok)
		}
	}
}

// conflicting is a body whose helper has two values when when holds: an
// evaluation error (eval_conflict_error) on those inputs only.
func conflicting(when string) string {
	return `_x := 1 if ` + when + `

_x := 2 if ` + when + `

violation contains "conflict" if _x == 1`
}

// TestPolicyErrorIsThatPolicysOutcome: a policy that fails to evaluate is
// a finding of its own, enforced at its action on error; every other
// policy, embedded or operator, memoised or not, is judged as usual.
func TestPolicyErrorIsThatPolicysOutcome(t *testing.T) {
	e, err := withEmbedded(t, map[string]string{
		"broken.rego":    operatorPolicy("broken", "", conflicting(`input.pod.metadata.name == "boom"`)),
		"lenient.rego":   operatorPolicy("lenient", "#   onError: audit\n", conflicting(`input.pod.metadata.name == "boom"`)),
		"hostnet.rego":   operatorPolicy("hostnet", "", `violation contains {"msg": "host network", "path": "spec.hostNetwork"} if input.pod.spec.hostNetwork`),
		"iambroken.rego": operatorPolicy("iambroken", "#   reads: [state.iam]\n", conflicting(`input.state.iam.status == "boom"`)),
		"iamok.rego":     operatorPolicy("iamok", "#   reads: [state.iam]\n", `violation contains "iam unknown" if input.state.iam.status != "ok"`),
		// A failing built-in is an error of an operator's policy (strict
		// built-in errors), not a silent pass.
		"builtin.rego": operatorPolicy("builtin", "", `violation contains "too many replicas" if to_number(object.get(input.pod.metadata.labels, "replicas", "0")) > 3`),
	})
	if err != nil {
		t.Fatal(err)
	}
	sel := engine.Selector{Target: engine.TargetPod, Level: "restricted", Version: engine.LatestPSSVersion}
	p := pod(1, features{privileged: true})
	p["metadata"].(map[string]any)["name"] = "boom"
	p["metadata"].(map[string]any)["labels"].(map[string]any)["replicas"] = "many"
	p["spec"].(map[string]any)["hostNetwork"] = true
	in := podInput(t, p, "restricted", 37)
	in.(ast.Object).Get(ast.StringTerm("state")).Value.(ast.Object).Insert(ast.StringTerm("iam"), ast.MustParseTerm(`{"status": "boom"}`))

	for round := range 2 { // the second round reads the memoised findings
		fs, err := e.Evaluate(context.Background(), sel, in)
		if err != nil {
			t.Fatalf("round %d: the request failed (%v); only the broken policies should", round, err)
		}
		got := map[string]engine.Finding{}
		for _, f := range fs {
			got[f.Policy.ID] = f
		}
		for _, id := range []string{"acme.broken", "acme.lenient", "acme.iambroken", "acme.builtin"} {
			f, ok := got[id]
			var pe *engine.PolicyError
			if !ok || !errors.As(f.Err, &pe) || pe.Policy != id {
				t.Fatalf("round %d: %s: finding %+v, want a *PolicyError", round, id, f)
			}
			if !strings.Contains(f.Message, "policy "+id) || !strings.Contains(f.Message, "could not be evaluated") {
				t.Errorf("round %d: %s: message %q does not name the policy and say it failed", round, id, f.Message)
			}
		}
		for _, id := range []string{"acme.hostnet", "pss.baseline.privileged", "pss.baseline.hostNamespaces", "acme.iamok"} {
			if f, ok := got[id]; !ok || f.Err != nil {
				t.Errorf("round %d: %s: finding %+v, want its violation", round, id, f)
			}
		}
		// Default on error: deny (fail closed), never more than the
		// policy's resolved action.
		if a := got["acme.broken"].Action(engine.ActionDeny); a != engine.ActionDeny {
			t.Errorf("acme.broken at deny: %s on error, want deny", a)
		}
		if a := got["acme.broken"].Action(engine.ActionWarn); a != engine.ActionWarn {
			t.Errorf("acme.broken at warn: %s on error, want warn", a)
		}
		if a := got["acme.lenient"].Action(engine.ActionDeny); a != engine.ActionAudit {
			t.Errorf("acme.lenient (onError: audit) at deny: %s on error, want audit", a)
		}
		if a := got["acme.hostnet"].Action(engine.ActionDeny); a != engine.ActionDeny {
			t.Errorf("a violation at deny is %s, want deny", a)
		}
	}

	// On other inputs nobody fails.
	fine := podInput(t, pod(1, features{}), "restricted", 37)
	fs, err := e.Evaluate(context.Background(), sel, fine)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Err != nil {
			t.Errorf("%s failed on an ordinary pod: %v", f.Policy.ID, f.Err)
		}
	}

	// A cancelled request is the request's error, not a policy's.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Evaluate(ctx, sel, in); err == nil {
		t.Error("a cancelled evaluation returned no error")
	}
}

// TestOnErrorMetadata: custom.onError takes an action name.
func TestOnErrorMetadata(t *testing.T) {
	_, err := withEmbedded(t, map[string]string{"p.rego": operatorPolicy("p", "#   onError: allow\n", `violation contains "x" if input.pod.spec.hostNetwork`)})
	wantBundleError(t, err, "custom.onError", `unknown action "allow"`)
	e, err := withEmbedded(t, map[string]string{"p.rego": operatorPolicy("p", "#   onError: warn\n", `violation contains "x" if input.pod.spec.hostNetwork`)})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := e.Policy("acme.p"); p.OnError != engine.ActionWarn {
		t.Errorf("OnError = %q, want warn", p.OnError)
	}
	if p, _ := e.Policy("pss.baseline.privileged"); p.OnError != engine.ActionDeny {
		t.Errorf("embedded OnError = %q, want the default, deny", p.OnError)
	}
}

// TestCanary: a bundle whose policy fails on ordinary objects is refused
// before it is used, naming the file, the policy and the canary case; the
// embedded bundle passes, and the canary corpus makes most embedded
// policies report, so that it exercises what operators' helpers build on.
func TestCanary(t *testing.T) {
	_, err := withEmbedded(t, map[string]string{"p.rego": operatorPolicy("p", "", conflicting(`input.pod.containers[0]`))})
	wantBundleError(t, err, "canary", "acme/p.rego: policy acme.p fails on the canary", "ordinary pod", "eval_conflict_error")
	if !errors.Is(err, engine.ErrCanary) {
		t.Errorf("error %v is not an engine.ErrCanary", err)
	}
	_, err = withEmbedded(t, map[string]string{"p.rego": operatorPolicy("p", "", conflicting(`input.state.iam.status == "ok"`))})
	wantBundleError(t, err, "acme.p fails on the canary \"IAM Policy\"")

	e := embeddedEngine(t)
	if err := e.Smoke(context.Background(), nil); err != nil {
		t.Fatalf("the embedded bundle fails its canary: %v", err)
	}
	reported := map[string]bool{}
	for _, c := range engine.DefaultCanary() {
		fs, err := e.Evaluate(context.Background(), c.Selector, c.Input)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		for _, f := range fs {
			reported[f.Policy.ID] = true
		}
	}
	var silent []string
	for _, p := range e.Policies() {
		if !reported[p.ID] {
			silent = append(silent, p.ID)
		}
	}
	if len(reported) < len(e.Policies())/2 {
		t.Errorf("the canary corpus makes %d of %d policies report; silent: %v", len(reported), len(e.Policies()), silent)
	}
	t.Logf("canary: %d of %d policies report; silent: %s", len(reported), len(e.Policies()), fmt.Sprint(silent))
}

// TestPolicyErrorsConcurrently: the per-policy queries prepared on the
// first failure are shared safely by concurrent reviews.
func TestPolicyErrorsConcurrently(t *testing.T) {
	e, err := withEmbedded(t, map[string]string{
		"broken.rego":  operatorPolicy("broken", "", conflicting(`input.pod.metadata.name == "boom"`)),
		"hostnet.rego": operatorPolicy("hostnet", "", `violation contains "host network" if input.pod.spec.hostNetwork`),
	})
	if err != nil {
		t.Fatal(err)
	}
	sel := engine.Selector{Target: engine.TargetPod, Level: "baseline", Version: engine.LatestPSSVersion}
	p := pod(2, features{})
	p["metadata"].(map[string]any)["name"] = "boom"
	p["spec"].(map[string]any)["hostNetwork"] = true
	in := podInput(t, p, "baseline", 37)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			fs, err := e.Evaluate(context.Background(), sel, in)
			if err == nil {
				var broken, hostnet bool
				for _, f := range fs {
					broken = broken || (f.Policy.ID == "acme.broken" && f.Err != nil)
					hostnet = hostnet || (f.Policy.ID == "acme.hostnet" && f.Err == nil)
				}
				if !broken || !hostnet {
					err = fmt.Errorf("findings %+v: want acme.broken's error and acme.hostnet's violation", fs)
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
