package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tollgate-dev/tollgate/conformance/bench/loadgen"
)

// E2ERow is pod creation through the API server at one concurrency.
type E2ERow struct {
	Clients int             `json:"clients"`
	Without *loadgen.Result `json:"without"`
	With    *loadgen.Result `json:"with"`
	// Handlers is the time serve's handlers spent during the run with
	// the webhooks, per webhook (its own metrics).
	Handlers []HandlerTime `json:"handlers"`
}

// Overhead returns what Tollgate's webhooks add to the median and the 99th
// percentile.
func (r *E2ERow) Overhead() (p50, p99 time.Duration) {
	return r.With.P50 - r.Without.P50, r.With.P99 - r.Without.P99
}

// E2EPods returns the pods of the corpus to create, as a client submits
// them: those that Tollgate admits and that the API server admits without
// Tollgate (the examples' quota refuses pods without CPU and memory
// requests), so that every creation runs the whole admission chain. Call it
// while no webhook is registered.
func E2EPods(ctx context.Context, cl *Cluster, d *Deciders, c Corpus) ([]*corev1.Pod, error) {
	var pods []*corev1.Pod
	for _, e := range c.Pods() {
		p, err := d.prepare(ctx, e)
		if err != nil {
			return nil, err
		}
		res, err := d.Full.Review(ctx, p.request(true))
		if err != nil {
			return nil, err
		}
		if !res.Allowed {
			continue
		}
		pod := &corev1.Pod{}
		if err := json.Unmarshal(e.Submitted, pod); err != nil {
			return nil, err
		}
		if _, err := cl.CS.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			continue
		}
		pods = append(pods, pod)
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("no pod of the corpus is admitted")
	}
	return pods, nil
}

// CreatePods creates pods with server-side dry-run from clients concurrent
// clients (closed loop) for the load's duration: the webhooks declare
// sideEffects: None, so the API server calls them on dry-run requests, and
// nothing is stored.
func CreatePods(ctx context.Context, cl *Cluster, pods []*corev1.Pod, clients int, o loadgen.Options) (*loadgen.Result, error) {
	o.Rate, o.Concurrency = 0, clients
	return loadgen.RunOp(ctx, o, func(ctx context.Context, i int) error {
		p := pods[i%len(pods)]
		_, err := cl.CS.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	})
}
