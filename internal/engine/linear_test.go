package engine_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/tollgate-dev/tollgate/internal/engine"
	bundle "github.com/tollgate-dev/tollgate/rego"
)

// A review must cost time linear in the size of the object: a pod the API
// server accepts (1.5 MiB: some 10,000 containers) must be judged well
// within the webhook's timeout. These tests measure the cost of evaluating
// the embedded policies without a clock: workCounter counts the
// interpreter's steps and the elements handed to built-in functions, which
// is what a quadratic rule spends its time on (a membership test over a
// list that grows with the pod, once per element, is one step but n
// elements).

// workCounter is a query tracer that adds up evaluation work per Rego file.
type workCounter struct {
	work map[string]int64
}

func newWorkCounter() *workCounter { return &workCounter{work: map[string]int64{}} }

func (w *workCounter) Enabled() bool { return true }

func (w *workCounter) Config() topdown.TraceConfig { return topdown.TraceConfig{} }

func (w *workCounter) TraceEvent(evt topdown.Event) {
	file := "query"
	if evt.Location != nil && evt.Location.File != "" {
		file = evt.Location.File
	}
	n := int64(1)
	if x, ok := evt.Node.(*ast.Expr); ok && evt.Op == topdown.EvalOp && x.IsCall() {
		n += builtinWork(evt, x)
	}
	w.work[file] += n
}

// constantTime are built-ins whose cost does not grow with their operands
// (hash lookups, unifications, type tests).
var constantTime = map[string]bool{
	"eq": true, "assign": true, "count": true, "object.get": true, "type_name": true,
	"is_string": true, "is_number": true, "is_boolean": true, "is_array": true,
	"is_object": true, "is_set": true, "is_null": true,
}

// builtinWork is the size of a built-in call's operands: elements of
// collections, 64-byte words of strings. Calls of Rego functions cost
// nothing here (arguments are passed by reference); their bodies are
// counted as they run.
func builtinWork(evt topdown.Event, x *ast.Expr) int64 {
	name := x.Operator().String()
	if _, builtin := ast.BuiltinMap[name]; !builtin || constantTime[name] {
		return 0
	}
	if name == "array.slice" {
		return sliceWork(evt, x)
	}
	var n int64
	for _, op := range x.Operands() {
		switch v := evt.Plug(op).Value.(type) {
		case *ast.Array:
			n += int64(v.Len())
		case ast.Set:
			n += int64(v.Len())
		case ast.Object:
			n += int64(v.Len())
		case ast.String:
			n += int64(len(v) / 64)
		}
	}
	return n
}

// sliceWork is the length of array.slice's result: OPA shares the
// operand's elements and rehashes only the slice (topdown/array.go
// builtinArraySlice, ast.Array.Slice in OPA v1.22).
func sliceWork(evt topdown.Event, x *ast.Expr) int64 {
	ops := x.Operands()
	if len(ops) < 3 {
		return 0
	}
	arr, ok := evt.Plug(ops[0]).Value.(*ast.Array)
	if !ok {
		return 0
	}
	bound := func(t *ast.Term) int64 {
		n, ok := evt.Plug(t).Value.(ast.Number)
		if !ok {
			return 0
		}
		i, _ := n.Int64()
		return min(max(i, 0), int64(arr.Len()))
	}
	return max(bound(ops[2])-bound(ops[1]), 0)
}

// work evaluates input with a work counter and returns the work per file.
func work(t testing.TB, e *engine.Engine, sel engine.Selector, input ast.Value) map[string]int64 {
	t.Helper()
	w := newWorkCounter()
	if _, err := e.EvaluateWith(context.Background(), sel, input, rego.EvalQueryTracer(w)); err != nil {
		t.Fatal(err)
	}
	return w.work
}

var (
	embeddedOnce sync.Once
	embedded     *engine.Engine
	embeddedErr  error
)

// embeddedEngine compiles the embedded bundle once per test binary.
func embeddedEngine(t testing.TB) *engine.Engine {
	t.Helper()
	embeddedOnce.Do(func() {
		files, err := engine.Load(engine.Source{Name: "embedded", FS: bundle.FS, Builtin: true})
		if err != nil {
			embeddedErr = err
			return
		}
		embedded, embeddedErr = engine.New(context.Background(), files, engine.Options{PSSLevel: "restricted", PSSVersion: engine.LatestPSSVersion})
	})
	if embeddedErr != nil {
		t.Fatal(embeddedErr)
	}
	return embedded
}

// shapes are the pods whose cost must grow linearly: every violation at
// once at each level, each violation with many elements per container,
// repeated names, and a pod with nothing to find.
var shapes = []struct {
	name    string
	f       features
	level   string
	version int
}{
	{"every violation, restricted", every, "restricted", 37},
	{"every violation, baseline", every, "baseline", 37},
	{"every violation, baseline v1.18 annotations", every, "baseline", 18},
	{"host ports, 8 per container", features{hostPorts: true, ports: 8}, "baseline", 37},
	{"added capabilities, repeated names", features{capsAdd: true, sharedName: true, ports: 1}, "baseline", 37},
	{"probe and lifecycle hosts", features{probeHost: true, lifecycleHost: true}, "baseline", 37},
	{"GPU and MIG requests", features{gpu: true, mixedMIG: true, env: 20}, "restricted", 37},
	{"nothing to find", features{ports: 2, env: 5}, "restricted", 37},
}

// maxGrowth bounds how much more work 8 times the containers may cost: 8
// for linear work, with room for n log n sorting and fixed costs (a
// quadratic rule costs 64 times more).
const (
	small, large = 40, 320
	maxGrowth    = 10.0
	// minWork ignores files that do a fixed amount of work at both sizes.
	minWork = 200
)

// TestEvaluationWorkIsLinear evaluates each shape at two sizes and checks
// that no Rego file's work grows faster than the pod.
func TestEvaluationWorkIsLinear(t *testing.T) {
	e := embeddedEngine(t)
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			sel := engine.Selector{Target: engine.TargetPod, Level: s.level, Version: engine.Version(s.version)}
			in1 := podInput(t, pod(small, s.f), s.level, s.version)
			in2 := podInput(t, pod(large, s.f), s.level, s.version)
			work(t, e, sel, in1) // warm the memoised policies
			w1, w2 := work(t, e, sel, in1), work(t, e, sel, in2)
			checkGrowth(t, w1, w2, float64(large)/float64(small))
		})
	}
}

// checkGrowth fails for every file whose work grew more than maxGrowth
// times when the pod grew by factor.
func checkGrowth(t testing.TB, w1, w2 map[string]int64, factor float64) {
	t.Helper()
	for _, p := range growthProblems(w1, w2, factor) {
		t.Error(p)
	}
	t.Logf("total work %d to %d (%.1f times)", total(w1), total(w2), float64(total(w2))/float64(total(w1)))
}

// growthProblems names the files whose work grew more than maxGrowth times
// when the input grew by factor (8).
func growthProblems(w1, w2 map[string]int64, factor float64) []string {
	var problems []string
	for _, f := range slices.Sorted(maps.Keys(w2)) {
		a, b := w1[f], w2[f]
		if b < minWork {
			continue
		}
		if g := float64(b) / float64(max(a, 1)); g > maxGrowth*factor/8 {
			problems = append(problems, fmt.Sprintf("%s: work grew %.1f times (%d to %d) for an input %.0f times larger", f, g, a, b, factor))
		}
	}
	return problems
}

func total(w map[string]int64) int64 {
	var n int64
	for _, v := range w {
		n += v
	}
	return n
}

// BenchmarkEvaluateLargePods evaluates the embedded policies on pods whose
// every container carries every violation, and reports the time per
// container, which must stay flat from 10 to 10,000 containers.
//
//	go test ./internal/engine -run '^$' -bench LargePods -benchtime 3x
//
// The "hostPorts" shape is issue 17's: minimal containers with one host
// port each, 20,000 of which fit in the 1.5 MiB the API server accepts
// (the "every" containers are 1.5 KB each: 1,000 fit).
func BenchmarkEvaluateLargePods(b *testing.B) {
	e := embeddedEngine(b)
	for _, shape := range []struct {
		name  string
		pod   func(n int) map[string]any
		sizes []int
	}{
		{"every", func(n int) map[string]any { return pod(n, every) }, []int{10, 100, 1000, 10000}},
		{"hostPorts", minimalHostPortPod, []int{100, 1000, 20000}},
	} {
		for _, level := range []string{"baseline", "restricted"} {
			for _, n := range shape.sizes {
				benchmarkPod(b, e, fmt.Sprintf("%s/%s/containers=%d", shape.name, level, n), shape.pod(n), level, n)
			}
		}
	}
}

// minimalHostPortPod is issue 17's pod: n containers of a name, an image
// and one host port, some 75 bytes each.
func minimalHostPortPod(n int) map[string]any {
	cs := make([]any, n)
	for i := range cs {
		cs[i] = map[string]any{"name": fmt.Sprintf("c%d", i), "image": "busybox", "ports": []any{map[string]any{"containerPort": 80, "hostPort": 1 + i%65535}}}
	}
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "hostile", "namespace": "ai-inference"},
		"spec":     map[string]any{"containers": cs},
	}
}

func benchmarkPod(b *testing.B, e *engine.Engine, name string, p map[string]any, level string, n int) {
	b.Run(name, func(b *testing.B) {
		sel := engine.Selector{Target: engine.TargetPod, Level: level, Version: engine.LatestPSSVersion}
		input := podInput(b, p, level, int(engine.LatestPSSVersion))
		ctx := context.Background()
		cpu0 := cpuTime()
		for b.Loop() {
			fs, err := e.Evaluate(ctx, sel, input)
			if err != nil {
				b.Fatal(err)
			}
			if len(fs) == 0 {
				b.Fatal("no findings")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/container")
		// CPU time tells the cost apart from waiting on a busy machine.
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/container")
	})
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// FuzzEvaluationWorkIsLinear draws the violations of a pod's containers
// and its level from the fuzzer's bytes and checks, as
// TestEvaluationWorkIsLinear does, that no Rego file's work grows faster
// than the pod from 20 to 160 containers.
//
//	go test ./internal/engine -run '^$' -fuzz FuzzEvaluationWorkIsLinear -fuzztime 10s
func FuzzEvaluationWorkIsLinear(f *testing.F) {
	f.Add(uint32(0xffffffff), uint8(2), uint8(3), true)
	f.Add(uint32(1<<4), uint8(8), uint8(0), false)
	f.Add(uint32(1<<2|1<<17), uint8(1), uint8(0), false)
	f.Add(uint32(0), uint8(0), uint8(0), true)
	e := embeddedEngine(f)
	f.Fuzz(func(t *testing.T, bits uint32, ports, env uint8, restricted bool) {
		bit := func(i int) bool { return bits&(1<<i) != 0 }
		ft := features{
			privileged: bit(0), escalation: bit(1), capsAdd: bit(2), noDrop: bit(3), hostPorts: bit(4), procMount: bit(5),
			runAsRoot: bit(6), runAsUser0: bit(7), seLinux: bit(8), seccomp: bit(9), appArmor: bit(10), hostProcess: bit(11),
			probeHost: bit(12), lifecycleHost: bit(13), gpu: bit(14), mixedMIG: bit(15), annotations: bit(16), sharedName: bit(17),
			training: bit(18),
			ports:    int(ports % 9), env: int(env % 6),
		}
		level := "baseline"
		if restricted {
			level = "restricted"
		}
		const a, b = 20, 160
		sel := engine.Selector{Target: engine.TargetPod, Level: level, Version: engine.LatestPSSVersion}
		in1, in2 := podInput(t, pod(a, ft), level, 37), podInput(t, pod(b, ft), level, 37)
		work(t, e, sel, in1) // warm the memoised policies
		for _, p := range growthProblems(work(t, e, sel, in1), work(t, e, sel, in2), float64(b)/float64(a)) {
			t.Errorf("%+v at %s: %s", ft, level, p)
		}
	})
}
