package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/conformance/bench/loadgen"
	"github.com/tollgate-dev/tollgate/webhooks"
)

// LargeOptions shape the large-request memory run.
type LargeOptions struct {
	// Concurrency is how many maximum-size reviews are in flight at once.
	Concurrency int
	// Duration is how long they are sent, back to back.
	Duration time.Duration
	// Recovery is how long RSS is watched after the load stops.
	Recovery time.Duration
}

// LargeResult is `tollgate serve`'s memory under the largest requests it
// accepts, sent by many clients at once.
type LargeResult struct {
	LargeOptions
	// BodyBytes is the size of each AdmissionReview.
	BodyBytes int `json:"bodyBytes"`
	// Status counts the answers by HTTP status.
	Status map[int]int `json:"status"`
	// SettledRSS is RSS before the load, PeakRSS the high-water mark
	// (VmHWM) during it, AfterRSS the last sample of the recovery, and
	// RecoveredSeconds how long after the load RSS first came within 20%
	// of SettledRSS (-1: not within Recovery).
	SettledRSS       uint64  `json:"settledRSS"`
	PeakRSS          uint64  `json:"peakRSS"`
	AfterRSS         uint64  `json:"afterRSS"`
	RecoveredSeconds float64 `json:"recoveredSeconds"`
	// SettledAnon and AfterAnon are the anonymous part of the RSS (heap,
	// stacks), without the binary's file-backed pages, which the kernel
	// reclaims under pressure; RecoveredAnonSeconds is as RecoveredSeconds
	// for it.
	SettledAnon          uint64  `json:"settledAnon"`
	AfterAnon            uint64  `json:"afterAnon"`
	RecoveredAnonSeconds float64 `json:"recoveredAnonSeconds"`
}

// largeReview is an AdmissionReview of a pod whose body is close to
// webhooks.MaxBodyBytes: many containers with long environment values,
// the bulk a client can put in a pod.
func largeReview(size int) ([]byte, error) {
	const containers = 200
	value := strings.Repeat("x", size/containers-200)
	var cs []map[string]any
	for i := range containers {
		cs = append(cs, map[string]any{
			"name": fmt.Sprintf("c%d", i), "image": "registry.k8s.io/pause:3.10",
			"env": []map[string]string{{"name": "BULK", "value": value}},
		})
	}
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "large", "namespace": "default"},
		"spec":     map[string]any{"containers": cs},
	}
	return json.Marshal(map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid":       "large-1",
			"kind":      map[string]string{"group": "", "version": "v1", "kind": "Pod"},
			"resource":  map[string]string{"group": "", "version": "v1", "resource": "pods"},
			"namespace": "default", "operation": "CREATE",
			"userInfo": map[string]any{"username": "bench"},
			"object":   pod,
		},
	})
}

// LargeRequestMemory starts the control plane and `tollgate serve`, lets
// serve settle, sends o.Concurrency maximum-size reviews at once for
// o.Duration (each client sends its next as soon as the last is answered),
// and watches serve's RSS during the load and for o.Recovery after it.
// Requests the in-flight byte bound keeps waiting past their timeout get
// 503: counted in Status, as the API server would see them.
func LargeRequestMemory(ctx context.Context, root, dir string, o LargeOptions) (*LargeResult, error) {
	cl, err := StartCluster(root)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cl.Stop() }()
	env, err := NewEnv(root, dir)
	if err != nil {
		return nil, err
	}
	bin, err := BuildTollgate(root, dir)
	if err != nil {
		return nil, err
	}
	s, err := StartServe(ctx, bin, cl, env, filepath.Join(dir, "serve-large.log"), 2*time.Minute)
	if err != nil {
		return nil, err
	}
	defer s.Stop(15 * time.Second)
	body, err := largeReview(webhooks.MaxBodyBytes - 256<<10)
	if err != nil {
		return nil, err
	}
	client, err := loadgen.NewClient(cl.CP.WebhookCA, false)
	if err != nil {
		return nil, err
	}
	res := &LargeResult{LargeOptions: o, BodyBytes: len(body), Status: map[int]int{}, RecoveredSeconds: -1, RecoveredAnonSeconds: -1}
	time.Sleep(5 * time.Second)
	u, err := ReadUsage(s.Pid())
	if err != nil {
		return nil, err
	}
	res.SettledRSS, res.SettledAnon = u.RSS, u.RSSAnon
	if err := ResetPeak(s.Pid()); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	end := time.Now().Add(o.Duration)
	for range o.Concurrency {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				code := 0
				resp, err := client.Post(s.URL+"/validate?timeout=10s", "application/json", bytes.NewReader(body))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				res.Status[code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if u, err = ReadUsage(s.Pid()); err != nil {
		return nil, err
	}
	res.PeakRSS = u.PeakRSS
	stopped := time.Now()
	for time.Since(stopped) < o.Recovery {
		time.Sleep(time.Second)
		if u, err = ReadUsage(s.Pid()); err != nil {
			return nil, err
		}
		res.AfterRSS, res.AfterAnon = u.RSS, u.RSSAnon
		if res.RecoveredSeconds < 0 && float64(u.RSS) <= 1.2*float64(res.SettledRSS) {
			res.RecoveredSeconds = time.Since(stopped).Seconds()
		}
		if res.RecoveredAnonSeconds < 0 && float64(u.RSSAnon) <= 1.2*float64(res.SettledAnon) {
			res.RecoveredAnonSeconds = time.Since(stopped).Seconds()
		}
	}
	return res, nil
}
