package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
)

// Window profiles a stretch of a process: CPU from Start to Stop, and the
// allocations made in between (the allocs profile is cumulative since the
// process started, so the one at Start is subtracted from the one at Stop).
type Window struct {
	cpu  *os.File
	base []byte
}

// StartWindow starts the CPU profile, written to cpuPath.
func StartWindow(cpuPath string) (*Window, error) {
	if err := os.MkdirAll(filepath.Dir(cpuPath), 0o755); err != nil {
		return nil, err
	}
	base, err := allocs()
	if err != nil {
		return nil, err
	}
	f, err := os.Create(cpuPath)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return &Window{cpu: f, base: base}, nil
}

// Stop ends the CPU profile and writes the allocations of the window to
// allocPath.
func (w *Window) Stop(allocPath string) error {
	pprof.StopCPUProfile()
	if err := w.cpu.Close(); err != nil {
		return err
	}
	final, err := allocs()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tollgate-bench-allocs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	basePath, finalPath := filepath.Join(dir, "base.pprof"), filepath.Join(dir, "final.pprof")
	if err := os.WriteFile(basePath, w.base, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(finalPath, final, 0o644); err != nil {
		return err
	}
	out, err := exec.Command("go", "tool", "pprof", "-proto", "-base", basePath, finalPath).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof -base: %w", exitDetail(err))
	}
	return os.WriteFile(allocPath, out, 0o644)
}

// allocs returns the allocs profile as of a fresh garbage collection (the
// runtime publishes allocation samples at the end of each cycle).
func allocs() ([]byte, error) {
	runtime.GC()
	var b bytes.Buffer
	err := pprof.Lookup("allocs").WriteTo(&b, 0)
	return b.Bytes(), err
}

func exitDetail(err error) error {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}

// FuncShare is one function's share of a profile, in percent.
type FuncShare struct {
	Name string  `json:"name"`
	Flat float64 `json:"flat"`
	Cum  float64 `json:"cum"`
}

// Summary is what the report shows of one profile.
type Summary struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Total string `json:"total"`
	// Parts split the profile by what each sample was doing (parts),
	// in percent.
	Parts []FuncShare `json:"parts"`
	// Top are the functions with the most flat (own) weight.
	Top []FuncShare `json:"top"`
}

// part is one share of a breakdown: a sample belongs to the first part
// with a frame whose function name starts with one of prefixes. The order
// goes from the innermost work out, so that evaluation inside the review
// path counts as evaluation, and allocation and GC assists as the work
// that caused them. Shares are exact even when the CPU profiler cut a
// deep stack (it keeps the innermost 64 frames).
var parts = []struct {
	name     string
	prefixes []string
}{
	{"Rego evaluation (OPA topdown)", []string{"github.com/open-policy-agent/opa/v1/topdown.", "github.com/open-policy-agent/opa/v1/rego."}},
	{"input: typed objects re-encoded to Rego (review.toValue)", []string{"github.com/tollgate-dev/tollgate/internal/review.toValue"}},
	{"input: raw JSON parsed to Rego values (astjson)", []string{"github.com/tollgate-dev/tollgate/internal/astjson."}},
	{"state gatherers", []string{"github.com/tollgate-dev/tollgate/internal/gather.", "github.com/tollgate-dev/tollgate/internal/iam.", "github.com/tollgate-dev/tollgate/internal/state."}},
	{"mutators and their patch", []string{"github.com/tollgate-dev/tollgate/mutators.", "github.com/tollgate-dev/tollgate/internal/review.(*Reviewer).runMutator", "github.com/tollgate-dev/tollgate/internal/review.PatchAgainstRaw", "gomodules.xyz/jsonpatch"}},
	{"rest of the review path (input assembly, defaults, actions)", []string{"github.com/tollgate-dev/tollgate/internal/review.", "github.com/tollgate-dev/tollgate/internal/kubeobjects.Default", "github.com/tollgate-dev/tollgate/internal/engine."}},
	{"decoding the request (AdmissionReview, object)", []string{"github.com/tollgate-dev/tollgate/webhooks.decode", "github.com/tollgate-dev/tollgate/internal/kubeobjects.", "sigs.k8s.io/json."}},
	{"handler and response (controller-runtime admission, JSON encoding, metrics)", []string{"github.com/tollgate-dev/tollgate/webhooks.", "sigs.k8s.io/controller-runtime/", "github.com/prometheus/"}},
	{"TLS", []string{"crypto/"}},
	{"HTTP/2, net/http and the network", []string{"net/http.", "net.", "internal/poll.", "io."}},
	{"profiler", []string{"runtime/pprof."}},
	{"GC (background marking)", []string{"runtime.gcBgMarkWorker"}},
	{"runtime (scheduler, syscalls, other)", []string{"runtime.", "internal/runtime/"}},
}

// Summarize reads a profile with `go tool pprof`: the breakdown from its
// samples' stacks (-traces) and the top functions (-top).
func Summarize(name, path, sampleIndex string, top int) (*Summary, error) {
	s := &Summary{Name: name, File: path}
	var err error
	if s.Top, s.Total, err = topFunctions(path, sampleIndex, top); err != nil {
		return nil, err
	}
	s.Parts, err = breakdown(path, sampleIndex)
	return s, err
}

func pprofText(path, sampleIndex string, args ...string) ([]byte, error) {
	args = append([]string{"tool", "pprof"}, args...)
	if sampleIndex != "" {
		args = append(args, "-sample_index="+sampleIndex)
	}
	out, err := exec.Command("go", append(args, path)...).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof %s: %w", path, exitDetail(err))
	}
	return out, nil
}

func topFunctions(path, sampleIndex string, top int) ([]FuncShare, string, error) {
	out, err := pprofText(path, sampleIndex, "-top", fmt.Sprintf("-nodecount=%d", top))
	if err != nil {
		return nil, "", err
	}
	var all []FuncShare
	total := ""
	inTable := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Showing nodes accounting for") {
			// "Showing nodes accounting for 4.5s, 80% of 5.6s total"
			if i := strings.LastIndex(line, " of "); i >= 0 {
				total = strings.TrimSuffix(line[i+4:], " total")
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 5 && f[0] == "flat" && f[1] == "flat%" {
			inTable = true
			continue
		}
		if !inTable || len(f) < 6 {
			continue
		}
		flat, err1 := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
		cum, err2 := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
		if err1 != nil || err2 != nil {
			continue
		}
		all = append(all, FuncShare{Name: strings.TrimSuffix(strings.Join(f[5:], " "), " (inline)"), Flat: flat, Cum: cum})
	}
	return all, total, sc.Err()
}

// breakdown splits a profile's samples into parts (their Flat is the share).
func breakdown(path, sampleIndex string) ([]FuncShare, error) {
	out, err := pprofText(path, sampleIndex, "-traces")
	if err != nil {
		return nil, err
	}
	weights := make([]float64, len(parts)+1)
	var total float64
	var value float64
	var frames []string
	flush := func() {
		if frames == nil {
			return
		}
		i := classify(frames)
		weights[i] += value
		total += value
		frames = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if frames == nil {
			// A sample starts with its value and innermost frame; label
			// lines ("bytes:  256kB") come before it.
			if len(f) < 2 || strings.HasSuffix(f[0], ":") {
				continue
			}
			v, ok := quantity(f[0])
			if !ok {
				continue
			}
			value, frames = v, []string{strings.Join(f[1:], " ")}
			continue
		}
		frames = append(frames, strings.Join(f, " "))
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var shares []FuncShare
	for i, w := range weights {
		if w == 0 || total == 0 {
			continue
		}
		name := "other"
		if i < len(parts) {
			name = parts[i].name
		}
		shares = append(shares, FuncShare{Name: name, Flat: w / total * 100})
	}
	return shares, nil
}

// classify returns the index of the first part a stack belongs to, or
// len(parts) for none.
func classify(frames []string) int {
	for i, p := range parts {
		for _, f := range frames {
			for _, pre := range p.prefixes {
				if strings.HasPrefix(f, pre) {
					return i
				}
			}
		}
	}
	return len(parts)
}

// quantity parses a pprof value such as "10ms", "1.5s", "650.62kB", "144B".
func quantity(s string) (float64, bool) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, false
	}
	scale := map[string]float64{
		"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "mins": 60, "hrs": 3600,
		"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40,
	}[s[i:]]
	if scale == 0 {
		return 0, false
	}
	return v * scale, true
}
