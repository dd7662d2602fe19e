package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/conformance/bench/loadgen"
	"github.com/tollgate-dev/tollgate/internal/controlplane"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/manifest"
)

// Options configure a run of the harness.
type Options struct {
	// Root is the repository.
	Root string
	// Out receives the corpus, logs, profiles and results.json.
	Out string
	// Doc is where the Markdown report goes.
	Doc string
	// Self is the benchrun binary, re-executed for the bare decoder and
	// the profiled webhook.
	Self string
	// Command is how the run was started, for the report.
	Command string
	// Layers selects what runs (1 to 4).
	Layers []int
	Smoke  bool

	// Benchtime is testing's -test.benchtime for each of Rounds rounds
	// of layer 1.
	Benchtime string
	Rounds    int
	// ProfileDuration is how long each profile runs.
	ProfileDuration time.Duration

	// Rates are the open-loop rates of layer 2, in requests per second.
	Rates []float64
	// Duration and Warmup of each layer 2 run.
	Duration, Warmup time.Duration
	// MaxConcurrency is the number of closed-loop streams of the maximum
	// throughput runs.
	MaxConcurrency int

	// Clients are the concurrencies of layer 3.
	Clients     []int
	E2EDuration time.Duration

	// Population is what layer 4 creates; Settle how long serve runs
	// after its caches synced before its memory is read.
	Population Population
	Settle     time.Duration

	Log io.Writer
}

// Defaults are the full run's settings.
func Defaults() Options {
	return Options{
		Layers:          []int{1, 2, 3, 4},
		Benchtime:       "200ms",
		Rounds:          5,
		ProfileDuration: 10 * time.Second,
		Rates:           []float64{500, 1000, 2000},
		Duration:        10 * time.Second,
		Warmup:          2 * time.Second,
		MaxConcurrency:  32,
		Clients:         []int{1, 10, 50},
		E2EDuration:     10 * time.Second,
		Population:      Population{Pods: 10000, Namespaces: 500, NodePools: 50},
		Settle:          10 * time.Second,
	}
}

// Smoke shrinks every layer to seconds, so that CI keeps the harness
// working; its numbers mean nothing.
func Smoke(o Options) Options {
	o.Smoke = true
	o.Benchtime, o.Rounds = "3x", 1
	o.ProfileDuration = 300 * time.Millisecond
	o.Rates = []float64{200}
	o.Duration, o.Warmup = 500*time.Millisecond, 200*time.Millisecond
	o.MaxConcurrency = 4
	o.Clients = []int{2}
	o.E2EDuration = 500 * time.Millisecond
	o.Population = Population{Pods: 40, Namespaces: 4, NodePools: 2}
	o.Settle = 200 * time.Millisecond
	return o
}

// Results is everything a run measured (results.json, and the report).
type Results struct {
	Machine  Machine       `json:"machine"`
	Command  string        `json:"command"`
	Smoke    bool          `json:"smoke"`
	Started  time.Time     `json:"started"`
	Elapsed  time.Duration `json:"elapsed"`
	Settings Settings      `json:"settings"`
	// Loads are the load averages when each layer started.
	Loads  []Load       `json:"loads"`
	Corpus []CorpusInfo `json:"corpus"`

	InProcess      []*InProcessRow `json:"inProcess,omitempty"`
	InProcessTotal *InProcessRow   `json:"inProcessTotal,omitempty"`
	HTTPS          []*HTTPSRow     `json:"https,omitempty"`
	// Profiled is the load run while the HTTPS profiles were taken.
	Profiled *HTTPSRow     `json:"profiled,omitempty"`
	E2E      []*E2ERow     `json:"e2e,omitempty"`
	Memory   *MemoryResult `json:"memory,omitempty"`
	Profiles []*Summary    `json:"profiles,omitempty"`
}

// Settings are the options that shape the numbers.
type Settings struct {
	Benchtime       string        `json:"benchtime"`
	Rounds          int           `json:"rounds"`
	ProfileDuration time.Duration `json:"profileDuration"`
	Rates           []float64     `json:"rates"`
	Duration        time.Duration `json:"duration"`
	Warmup          time.Duration `json:"warmup"`
	MaxConcurrency  int           `json:"maxConcurrency"`
	Clients         []int         `json:"clients"`
	E2EDuration     time.Duration `json:"e2eDuration"`
	Population      Population    `json:"population"`
	Settle          time.Duration `json:"settle"`
}

// Load is the load average at a moment of the run.
type Load struct {
	At      string `json:"at"`
	Average string `json:"average"`
}

// CorpusInfo describes one corpus entry in the report.
type CorpusInfo struct {
	Name       string `json:"name"`
	Source     string `json:"source"`
	Containers int    `json:"containers"`
	Bytes      int    `json:"bytes"`
	Captured   bool   `json:"captured"`
}

type runner struct {
	o   Options
	res *Results
	dir struct{ logs, profiles, corpus, opa, bin string }

	corpus   Corpus
	env      *Env
	deciders *Deciders
	cluster  *Cluster
	serve    *Serve
	tollgate string
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Log, "bench: "+format+"\n", args...)
}

func (r *runner) load(at string) {
	r.res.Loads = append(r.res.Loads, Load{At: at, Average: loadAverage()})
}

// Run runs the selected layers and writes the report.
func Run(ctx context.Context, o Options) (*Results, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	r := &runner{o: o, res: &Results{Command: o.Command, Smoke: o.Smoke, Started: time.Now(), Settings: Settings{
		Benchtime: o.Benchtime, Rounds: o.Rounds, ProfileDuration: o.ProfileDuration, Rates: o.Rates, Duration: o.Duration, Warmup: o.Warmup,
		MaxConcurrency: o.MaxConcurrency, Clients: o.Clients, E2EDuration: o.E2EDuration, Population: o.Population, Settle: o.Settle,
	}}}
	r.res.Machine = ReadMachine()
	r.load("start")
	r.dir.logs = filepath.Join(o.Out, "logs")
	r.dir.profiles = filepath.Join(o.Out, "profiles")
	r.dir.corpus = filepath.Join(o.Out, "corpus")
	r.dir.opa = filepath.Join(o.Out, "opa")
	r.dir.bin = filepath.Join(o.Out, "bin")
	for _, d := range []string{r.dir.logs, r.dir.profiles} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	err := r.run(ctx)
	if r.serve != nil {
		r.serve.Stop(20 * time.Second)
	}
	if r.cluster != nil {
		err = errors.Join(err, r.cluster.Stop())
	}
	r.load("end")
	r.res.Elapsed = time.Since(r.res.Started)
	// results.json is written even when a layer failed, for what ran.
	b, jerr := json.MarshalIndent(r.res, "", "  ")
	if jerr == nil {
		jerr = os.WriteFile(filepath.Join(o.Out, "results.json"), b, 0o644)
	}
	if err := errors.Join(err, jerr); err != nil {
		return r.res, err
	}
	if o.Doc != "" {
		if err := os.MkdirAll(filepath.Dir(o.Doc), 0o755); err != nil {
			return r.res, err
		}
		if err := os.WriteFile(o.Doc, []byte(Markdown(r.res, o.Root)), 0o644); err != nil {
			return r.res, err
		}
	}
	return r.res, nil
}

func (r *runner) layer(n int) bool { return slices.Contains(r.o.Layers, n) }

func (r *runner) run(ctx context.Context) error {
	var err error
	if r.corpus, err = LoadCorpus(r.o.Root); err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	if r.env, err = NewEnv(r.o.Root, filepath.Join(r.o.Out, "env")); err != nil {
		return err
	}
	r.logf("compiling the full and PSS-only engines")
	if r.deciders, err = NewDeciders(ctx, r.env); err != nil {
		return err
	}
	if r.layer(2) || r.layer(3) || r.layer(4) {
		r.logf("building tollgate")
		if r.tollgate, err = BuildTollgate(r.o.Root, r.dir.bin); err != nil {
			return err
		}
		r.logf("starting the control plane (kube-apiserver %s, etcd %s)", controlplane.KubernetesVersion, controlplane.EtcdVersion)
		if r.cluster, err = StartCluster(r.o.Root); err != nil {
			return err
		}
		if err := r.cluster.Apply(ctx, r.env.StateDocs); err != nil {
			return fmt.Errorf("applying the cluster state: %w", err)
		}
		r.logf("capturing the AdmissionReviews kube-apiserver sends for %d objects", len(r.corpus))
		if err := r.cluster.Capture(ctx, r.corpus); err != nil {
			return err
		}
	}
	if err := WriteCorpus(r.dir.corpus, r.corpus); err != nil {
		return err
	}
	for _, e := range r.corpus {
		r.res.Corpus = append(r.res.Corpus, CorpusInfo{Name: e.Name, Source: e.Source, Containers: e.Containers, Bytes: len(e.Review), Captured: e.Captured})
	}
	steps := []struct {
		n int
		f func(context.Context) error
	}{{2, r.https}, {3, r.e2e}, {4, r.memory}}
	for _, s := range steps {
		if !r.layer(s.n) {
			continue
		}
		r.load(fmt.Sprintf("layer %d", s.n))
		if err := s.f(ctx); err != nil {
			return fmt.Errorf("layer %d: %w", s.n, err)
		}
	}
	// Layer 1 runs last, with the control plane and servers stopped.
	if r.serve != nil {
		r.serve.Stop(20 * time.Second)
		r.serve = nil
	}
	if r.cluster != nil {
		if err := r.cluster.Stop(); err != nil {
			return err
		}
		r.cluster = nil
	}
	if r.layer(1) {
		r.load("layer 1")
		if err := r.inProcess(ctx); err != nil {
			return fmt.Errorf("layer 1: %w", err)
		}
	}
	return nil
}

func (r *runner) startServe(ctx context.Context, name string, ready time.Duration) error {
	s, err := StartServe(ctx, r.tollgate, r.cluster, r.env, filepath.Join(r.dir.logs, name+".log"), ready)
	if err != nil {
		return err
	}
	r.serve = s
	return nil
}

// https is layer 2.
func (r *runner) https(ctx context.Context) error {
	cp := r.cluster.CP
	if err := r.startServe(ctx, "serve", 2*time.Minute); err != nil {
		return err
	}
	if u, err := ReadUsage(r.serve.Pid()); err == nil {
		r.res.Memory = &MemoryResult{BaselineRSS: u.RSS}
	}
	client, err := loadgen.NewClient(cp.WebhookCA, true)
	if err != nil {
		return err
	}
	pods := r.corpus.Pods()
	reviews := pods.Reviews()

	bareAddr, err := FreeAddr()
	if err != nil {
		return err
	}
	bare, err := StartProc("bare decoder", filepath.Join(r.dir.logs, "baredecoder.log"), r.o.Self,
		[]string{"baredecoder", "-addr", bareAddr, "-cert-dir", cp.WebhookCertDir}, nil)
	if err != nil {
		return err
	}
	defer bare.Stop(10 * time.Second)
	if err := waitHTTP(ctx, client, "POST", "https://"+bareAddr+"/validate", reviews[0], bare, 30*time.Second); err != nil {
		return err
	}

	opaBin, err := OPABinary(r.o.Root)
	if err != nil {
		return err
	}
	level, version := r.env.Config.PSS.Level, engine.LatestPSSVersion
	bundle := filepath.Join(r.dir.opa, "bundle")
	if err := WriteOPABundle(bundle, r.deciders.PSSEngine, level, version); err != nil {
		return err
	}
	var inputs []json.RawMessage
	if err := os.MkdirAll(filepath.Join(r.dir.opa, "inputs"), 0o755); err != nil {
		return err
	}
	for _, e := range pods {
		in, err := r.deciders.Dumper.Input(ctx, e)
		if err != nil {
			return err
		}
		inputs = append(inputs, in)
		if err := os.WriteFile(filepath.Join(r.dir.opa, "inputs", strings.ReplaceAll(e.Name, "/", "_")+".json"), in, 0o644); err != nil {
			return err
		}
	}
	opaBodies, err := OPABodies(inputs)
	if err != nil {
		return err
	}
	opaAddr, err := FreeAddr()
	if err != nil {
		return err
	}
	opa, err := StartOPA(opaBin, bundle, opaAddr, cp.WebhookCertDir, filepath.Join(r.dir.logs, "opa.log"))
	if err != nil {
		return err
	}
	defer opa.Stop(10 * time.Second)
	if err := waitHTTP(ctx, client, "POST", "https://"+opaAddr+OPADecisionPath, opaBodies[0], opa, 30*time.Second); err != nil {
		return err
	}

	targets := []*Target{
		{Server: "bare decoder", Endpoint: "/validate", Proc: bare,
			HTTP: &loadgen.HTTP{URL: "https://" + bareAddr + "/validate", Bodies: reviews, Client: client, Check: CheckReview}},
		{Server: "tollgate serve", Endpoint: "/validate", Proc: r.serve.Proc,
			HTTP: &loadgen.HTTP{URL: r.serve.URL + "/validate", Bodies: reviews, Client: client, Check: CheckReview}},
		{Server: "opa run --server", Endpoint: OPADecisionPath, Proc: opa,
			HTTP: &loadgen.HTTP{URL: "https://" + opaAddr + OPADecisionPath, Bodies: opaBodies, Client: client, Check: CheckOPA}},
	}
	// Servers take turns at each rate, so that noise from the shared
	// machine spreads over all of them.
	for _, rate := range r.o.Rates {
		for _, t := range targets {
			r.logf("layer 2: %s %s at %.0f req/s", t.Server, t.Endpoint, rate)
			row, err := MeasureHTTPS(ctx, t, loadgen.Options{Rate: rate, Duration: r.o.Duration, Warmup: r.o.Warmup})
			if err != nil {
				return err
			}
			r.res.HTTPS = append(r.res.HTTPS, row)
		}
	}
	for _, t := range targets {
		r.logf("layer 2: %s %s at maximum throughput", t.Server, t.Endpoint)
		row, err := MeasureHTTPS(ctx, t, loadgen.Options{Concurrency: r.o.MaxConcurrency, Duration: r.o.Duration, Warmup: r.o.Warmup})
		if err != nil {
			return err
		}
		r.res.HTTPS = append(r.res.HTTPS, row)
	}
	mutate := &Target{Server: "tollgate serve", Endpoint: "/mutate", Proc: r.serve.Proc,
		HTTP: &loadgen.HTTP{URL: r.serve.URL + "/mutate", Bodies: reviews, Client: client, Check: CheckReview}}
	rate := profileRate(r.o.Rates)
	r.logf("layer 2: %s %s at %.0f req/s", mutate.Server, mutate.Endpoint, rate)
	row, err := MeasureHTTPS(ctx, mutate, loadgen.Options{Rate: rate, Duration: r.o.Duration, Warmup: r.o.Warmup})
	if err != nil {
		return err
	}
	r.res.HTTPS = append(r.res.HTTPS, row)
	bare.Stop(10 * time.Second)
	opa.Stop(10 * time.Second)
	return r.profileHTTPS(ctx, reviews, rate)
}

// profileRate is the rate the targets are stated at (1,000 req/s), or the
// closest one run.
func profileRate(rates []float64) float64 {
	best := rates[0]
	for _, r := range rates {
		if abs(r-1000) < abs(best-1000) {
			best = r
		}
	}
	return best
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// profileHTTPS profiles Tollgate's webhook handlers (ProfiledWebhook, in a
// child process) under the same load as the /validate runs.
func (r *runner) profileHTTPS(ctx context.Context, reviews [][]byte, rate float64) error {
	cp := r.cluster.CP
	addr, err := FreeAddr()
	if err != nil {
		return err
	}
	cpu, allocs := filepath.Join(r.dir.profiles, "https-validate.cpu.pprof"), filepath.Join(r.dir.profiles, "https-validate.allocs.pprof")
	p, err := StartProc("Tollgate handlers (profiled)", filepath.Join(r.dir.logs, "webhook-profiled.log"), r.o.Self, []string{"webhook",
		"-root", r.o.Root, "-config", r.env.ConfigPath, "-addr", addr, "-cert-dir", cp.WebhookCertDir,
		"-cpuprofile", cpu, "-allocprofile", allocs}, nil)
	if err != nil {
		return err
	}
	defer p.Stop(30 * time.Second)
	hc, err := loadgen.NewClient(cp.WebhookCA, true)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, hc, "POST", "https://"+addr+"/validate", reviews[0], p, 60*time.Second); err != nil {
		return err
	}
	t := &Target{Server: "Tollgate handlers (profiled)", Endpoint: "/validate", Proc: p,
		HTTP: &loadgen.HTTP{URL: "https://" + addr + "/validate", Bodies: reviews, Client: hc, Check: CheckReview}}
	r.logf("layer 2: profiling Tollgate's handlers at %.0f req/s for %s", rate, r.o.ProfileDuration)
	row, err := MeasureHTTPS(ctx, t, loadgen.Options{Rate: rate, Duration: r.o.ProfileDuration, Warmup: r.o.Warmup,
		BeforeMeasure: func() error { return p.Signal(syscall.SIGUSR1) }})
	if err != nil {
		return err
	}
	r.res.Profiled = row
	p.Stop(30 * time.Second)
	if _, err := p.Exited(); err != nil {
		return fmt.Errorf("the profiled webhook failed (%v):\n%s", err, p.LogTail(20))
	}
	return r.summarize("HTTPS", cpu, allocs)
}

func (r *runner) summarize(name, cpu, allocs string) error {
	c, err := Summarize(name+", CPU", cpu, "", 15)
	if err != nil {
		return err
	}
	a, err := Summarize(name+", bytes allocated", allocs, "alloc_space", 15)
	if err != nil {
		return err
	}
	r.res.Profiles = append(r.res.Profiles, c, a)
	return nil
}

// e2e is layer 3. Runs alternate ABBA-style (without, with, with,
// without, ...) so that drift on the shared machine does not favour
// either side, and the webhooks are switched only between concurrencies.
func (r *runner) e2e(ctx context.Context) error {
	if r.serve == nil {
		if err := r.startServe(ctx, "serve", 2*time.Minute); err != nil {
			return err
		}
	}
	pods, err := E2EPods(ctx, r.cluster, r.deciders, r.corpus)
	if err != nil {
		return err
	}
	installed := false
	set := func(on bool) error {
		if on == installed {
			return nil
		}
		installed = on
		if on {
			return r.cluster.InstallWebhooks(ctx, r.cluster.CP.WebhookPort)
		}
		return r.cluster.RemoveWebhooks(ctx)
	}
	lo := loadgen.Options{Duration: r.o.E2EDuration, Warmup: r.o.Warmup}
	for i, c := range r.o.Clients {
		row := &E2ERow{Clients: c}
		order := []bool{false, true}
		if i%2 == 1 {
			order = []bool{true, false}
		}
		for _, with := range order {
			if err := set(with); err != nil {
				return err
			}
			r.logf("layer 3: %d clients creating pods (dry-run), webhooks registered: %v", c, with)
			o := lo
			var before map[string]HandlerTime
			o.BeforeMeasure = func() error {
				var err error
				before, err = r.serve.HandlerTimes(ctx)
				return err
			}
			res, err := CreatePods(ctx, r.cluster, pods, c, o)
			if err != nil {
				return err
			}
			if !with {
				row.Without = res
				continue
			}
			row.With = res
			after, err := r.serve.HandlerTimes(ctx)
			if err != nil {
				return err
			}
			for _, wh := range []string{"mutate", "validate"} {
				a, b := after[wh], before[wh]
				row.Handlers = append(row.Handlers, HandlerTime{Webhook: wh, Calls: a.Calls - b.Calls, Seconds: a.Seconds - b.Seconds})
			}
		}
		r.res.E2E = append(r.res.E2E, row)
	}
	return set(false)
}

// memory is layer 4.
func (r *runner) memory(ctx context.Context) error {
	if r.serve != nil {
		r.serve.Stop(20 * time.Second)
		r.serve = nil
	}
	if err := r.cluster.RemoveWebhooks(ctx); err != nil {
		return err
	}
	var nodePools []manifest.Document
	for _, d := range r.env.StateDocs {
		if d.Object.GVK.Kind == "NodePool" {
			nodePools = append(nodePools, d)
		}
	}
	p := r.o.Population
	r.logf("layer 4: creating %d pods in %d namespaces and %d NodePools", p.Pods, p.Namespaces, p.NodePools)
	start := time.Now()
	err := Populate(ctx, r.cluster, p, nodePools, 16)
	if err != nil {
		return err
	}
	m := r.res.Memory
	if m == nil {
		m = &MemoryResult{}
		r.res.Memory = m
	}
	m.Population = p
	m.PopulateSeconds = time.Since(start).Seconds()
	if m.EngineHeap, err = EngineHeap(ctx, r.env); err != nil {
		return err
	}
	r.logf("layer 4: starting tollgate serve over them")
	start = time.Now()
	if err := r.startServe(ctx, "serve-memory", 10*time.Minute); err != nil {
		return err
	}
	m.ReadySeconds = time.Since(start).Seconds()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(r.o.Settle):
	}
	u, err := ReadUsage(r.serve.Pid())
	if err != nil {
		return err
	}
	m.RSS, m.PeakRSS, m.RSSAnon, m.RSSFile = u.RSS, u.PeakRSS, u.RSSAnon, u.RSSFile
	m.GoMemStats, err = r.serve.GoMemStats(ctx)
	return err
}

// inProcess is layer 1.
func (r *runner) inProcess(ctx context.Context) error {
	testing.Init()
	if err := flag.Set("test.benchtime", r.o.Benchtime); err != nil {
		return err
	}
	rows, err := RunInProcess(ctx, r.deciders, r.corpus, r.o.Rounds, func(name string) { r.logf("layer 1: %s", name) })
	if err != nil {
		return err
	}
	r.res.InProcess, r.res.InProcessTotal = rows, CorpusTotals(rows)
	for _, p := range []struct {
		name    string
		pssOnly bool
	}{{"inprocess-full", false}, {"inprocess-pss", true}} {
		loop, err := DecisionLoop(ctx, r.deciders, r.corpus, p.pssOnly)
		if err != nil {
			return err
		}
		cpu, allocs := filepath.Join(r.dir.profiles, p.name+".cpu.pprof"), filepath.Join(r.dir.profiles, p.name+".allocs.pprof")
		r.logf("layer 1: profiling %s for %s", p.name, r.o.ProfileDuration)
		w, err := StartWindow(cpu)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(r.o.ProfileDuration)
		for time.Now().Before(deadline) {
			if err = loop(); err != nil {
				break
			}
		}
		if err := errors.Join(err, w.Stop(allocs)); err != nil {
			return err
		}
		name := "in-process, every policy"
		if p.pssOnly {
			name = "in-process, PSS only"
		}
		if err := r.summarize(name, cpu, allocs); err != nil {
			return err
		}
	}
	return nil
}
