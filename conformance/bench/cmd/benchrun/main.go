// Command benchrun runs Tollgate's performance harness (package
// conformance/bench) and writes docs/performance.md; scripts/bench.sh is the
// documented way to run it.
//
//	benchrun [flags]              the harness (see -h)
//	benchrun baredecoder ...      the bare decoder server (a child process)
//	benchrun webhook ...          Tollgate's handlers, profiled (a child process)
//	benchrun large [flags]        serve's memory under concurrent maximum-size reviews
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tollgate-dev/tollgate/conformance/bench"
	"github.com/tollgate-dev/tollgate/internal/controlplane"
)

// stackDepth makes profiles record stacks up to 512 frames deep: the
// default, 128, cuts Rego evaluation's deep recursion off from the frames
// that called it. (1,024, the maximum, can overflow the runtime's own
// bound once inlined frames are expanded.) The runtime reads GODEBUG only
// at start.
const stackDepth = "profstackdepth=512"

func main() {
	if godebug := os.Getenv("GODEBUG"); !strings.Contains(godebug, "profstackdepth=") {
		if self, err := os.Executable(); err == nil {
			if godebug != "" {
				godebug += ","
			}
			env := []string{"GODEBUG=" + godebug + stackDepth}
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GODEBUG=") {
					env = append(env, kv)
				}
			}
			// Exec returns only when it fails; run as is then.
			_ = syscall.Exec(self, os.Args, env)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "baredecoder":
			return bareDecoder(ctx, args[1:])
		case "webhook":
			return webhook(ctx, args[1:])
		case "large":
			return large(ctx, args[1:])
		}
	}
	return harness(ctx, args)
}

func harness(ctx context.Context, args []string) error {
	o := bench.Defaults()
	fs := flag.NewFlagSet("benchrun", flag.ContinueOnError)
	smoke := fs.Bool("smoke", false, "run every layer for a moment, to check that the harness works (numbers mean nothing); writes under <out>/smoke and no report in docs/")
	out := fs.String("out", "out/bench", "directory for the corpus, logs, profiles and results.json")
	doc := fs.String("doc", "docs/performance.md", "Markdown report to write")
	layers := fs.String("layers", "1,2,3,4", "layers to run: 1 in-process, 2 HTTPS webhook, 3 through the API server, 4 memory")
	command := fs.String("command", "scripts/bench.sh", "the command shown in the report")
	fs.StringVar(&o.Benchtime, "benchtime", o.Benchtime, "layer 1: testing's benchtime per round of a benchmark")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "layer 1: rounds per benchmark; the fastest counts")
	fs.DurationVar(&o.ProfileDuration, "profile-duration", o.ProfileDuration, "how long each CPU and allocation profile runs")
	rates := fs.String("rates", "500,1000,2000", "layer 2: open-loop rates, requests per second")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "layer 2: measured time of each run")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "warm-up before each layer 2 and 3 run")
	fs.IntVar(&o.MaxConcurrency, "max-concurrency", o.MaxConcurrency, "layer 2: concurrent streams of the maximum-throughput runs")
	clients := fs.String("clients", "1,10,50", "layer 3: concurrent clients")
	fs.DurationVar(&o.E2EDuration, "e2e-duration", o.E2EDuration, "layer 3: measured time of each run")
	fs.IntVar(&o.Population.Pods, "pods", o.Population.Pods, "layer 4: pods to create")
	fs.IntVar(&o.Population.Namespaces, "namespaces", o.Population.Namespaces, "layer 4: namespaces to create")
	fs.IntVar(&o.Population.NodePools, "nodepools", o.Population.NodePools, "layer 4: NodePools to create")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "layer 4: how long serve runs after syncing before its memory is read")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.Layers, err = ints(*layers); err != nil {
		return fmt.Errorf("-layers: %w", err)
	}
	if o.Rates, err = floats(*rates); err != nil {
		return fmt.Errorf("-rates: %w", err)
	}
	if o.Clients, err = ints(*clients); err != nil {
		return fmt.Errorf("-clients: %w", err)
	}
	if o.Root, err = controlplane.RepoRoot(); err != nil {
		return err
	}
	if o.Self, err = os.Executable(); err != nil {
		return err
	}
	o.Out, o.Doc, o.Command, o.Log = abs(o.Root, *out), abs(o.Root, *doc), *command, os.Stderr
	if *smoke {
		o = bench.Smoke(o)
		o.Out = filepath.Join(o.Out, "smoke")
		o.Doc = filepath.Join(o.Out, "performance.md")
	}
	res, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	for _, g := range res.Goals() {
		fmt.Fprintf(os.Stderr, "bench: %-9s %s: %s\n", g.Status, g.Name, g.Result)
	}
	fmt.Fprintf(os.Stderr, "bench: done in %s; report %s, results and profiles in %s\n", res.Elapsed.Round(time.Second), o.Doc, o.Out)
	return nil
}

func bareDecoder(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("benchrun baredecoder", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9444", "listen address")
	certDir := fs.String("cert-dir", "", "directory with tls.crt and tls.key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return bench.ServeBareDecoder(ctx, *addr, *certDir)
}

func webhook(ctx context.Context, args []string) error {
	var p bench.ProfiledWebhook
	fs := flag.NewFlagSet("benchrun webhook", flag.ContinueOnError)
	fs.StringVar(&p.Root, "root", ".", "repository root")
	fs.StringVar(&p.ConfigPath, "config", "", "Tollgate configuration file")
	fs.StringVar(&p.Addr, "addr", "127.0.0.1:9445", "listen address")
	fs.StringVar(&p.CertDir, "cert-dir", "", "directory with tls.crt and tls.key")
	fs.StringVar(&p.CPUPath, "cpuprofile", "", "CPU profile to write (from SIGUSR1 to exit)")
	fs.StringVar(&p.AllocPath, "allocprofile", "", "allocation profile to write (from SIGUSR1 to exit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if p.CPUPath == "" || p.AllocPath == "" {
		return errors.New("-cpuprofile and -allocprofile are required")
	}
	return p.Serve(ctx)
}

func abs(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func floats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// large measures serve's memory under concurrent maximum-size reviews and
// prints the result as JSON (docs/reliability.md quotes it).
func large(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("benchrun large", flag.ContinueOnError)
	var o bench.LargeOptions
	fs.IntVar(&o.Concurrency, "concurrency", 64, "maximum-size reviews in flight at once")
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "how long they are sent")
	fs.DurationVar(&o.Recovery, "recovery", time.Minute, "how long RSS is watched after the load")
	out := fs.String("out", "out/bench/large", "directory for the binary and logs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	res, err := bench.LargeRequestMemory(ctx, root, dir, o)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	fmt.Fprintf(os.Stderr, "settled RSS %.1f MiB (anonymous %.1f), peak %.1f MiB, after %.1f MiB (anonymous %.1f); within 20%% of settled after %.0f s (anonymous: %.0f s; -1: not within the recovery); answers %v\n",
		bench.MiB(res.SettledRSS), bench.MiB(res.SettledAnon), bench.MiB(res.PeakRSS), bench.MiB(res.AfterRSS), bench.MiB(res.AfterAnon), res.RecoveredSeconds, res.RecoveredAnonSeconds, res.Status)
	return enc.Encode(res)
}
