package gpus

import (
	"fmt"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestCounterConcurrent shares one counter (and its selector cache)
// between goroutines, as admission does (run with -race).
func TestCounterConcurrent(t *testing.T) {
	tmpl := template("ai", "mig", exact("m", "mig.nvidia.com", 2, prof("3g.40gb")))
	c := newCounter(t, static(t, migClass(), tmpl))
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				// New expressions too, so that the cache grows while read.
				p := pod("ai", "p", nil, "g@mig")
				got := c.Pod("ai", p)
				extra := c.ClaimTemplate(template("ai", "x", exact("m", "mig.nvidia.com", 1, fmt.Sprintf("device.attributes['gpu.nvidia.com'].index == %d && %s", g*1000+i, prof("1g.10gb")))))
				if got.GPUs != 0.857143 || extra.GPUs != 0.142857 {
					errs <- fmt.Sprintf("%v, %v", got.GPUs, extra.GPUs)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// BenchmarkPod is what one admission pays to count a pod with a MIG
// template claim and container resources.
func BenchmarkPod(b *testing.B) {
	tmpl := template("ai", "mig-devices",
		exact("a", "mig.nvidia.com", 0, prof("1g.10gb")),
		exact("b", "mig.nvidia.com", 0, prof("2g.20gb")),
		exact("c", "mig.nvidia.com", 0, prof("3g.40gb")),
	)
	c := newCounter(b, static(b, migClass(), gpuClass(), tmpl))
	p := pod("ai", "p", []corev1.Container{ctr(res("nvidia.com/gpu", "1", "cpu", "4"), nil)}, "g@mig-devices")
	b.ReportAllocs()
	for b.Loop() {
		if c.Pod("ai", p).GPUs != Round(1+6.0/7) {
			b.Fatal("wrong count")
		}
	}
}

// BenchmarkSum is what one admission pays to read a namespace's usage
// from kept contributions: 40 pods, 10 shared claims.
func BenchmarkSum(b *testing.B) {
	var uses []PodUse
	var states []ClaimState
	for i := range 40 {
		uses = append(uses, PodUse{Name: fmt.Sprintf("p%d", i), Resources: 1, Claims: []ClaimRef{{Name: fmt.Sprintf("c%d", i%10), GPUs: 2}}})
	}
	for i := range 10 {
		states = append(states, ClaimState{Name: fmt.Sprintf("c%d", i), GPUs: 2, Allocated: true})
	}
	b.ReportAllocs()
	for b.Loop() {
		if Sum(uses, states, "p3").GPUs != 59 {
			b.Fatal("wrong usage")
		}
	}
}
