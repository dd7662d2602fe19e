package audit

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// chunks is a source of fixed chunks.
type chunks []*Chunk

func (c chunks) Each(_ context.Context, fn func(*Chunk) error) error {
	for _, ch := range c {
		if err := fn(ch); err != nil {
			return err
		}
	}
	return nil
}

type progressLog []string

func (p *progressLog) Update(kind string, done, total int) {
	*p = append(*p, fmt.Sprintf("%s %d/%d", kind, done, total))
}
func (p *progressLog) Done() { *p = append(*p, "done") }

// TestRunnerErrorsAndProgress: an object that cannot be read is counted
// and named, the audit goes on, and progress adds up per kind.
func TestRunnerErrorsAndProgress(t *testing.T) {
	runner, files := fixtureRunner(t, nil)
	var items []Item
	if err := files.Each(context.Background(), func(c *Chunk) error { items = append(items, c.Items...); return nil }); err != nil {
		t.Fatal(err)
	}
	bad := Item{Object: &kubeobjects.Object{GVK: podKind.GroupVersion().WithKind("Pod"), Namespace: "ai", Name: "broken"}, Err: errors.New("field spec.containers: cannot use a JSON string")}
	src := chunks{
		{Kind: "pods", Items: items[:3], Remaining: len(items) - 3 + 1},
		{Kind: "pods", Items: append([]Item{bad}, items[3:]...), Remaining: 0},
	}
	var p progressLog
	runner.Progress = &p
	var seen []string
	sum, err := runner.Run(context.Background(), src, collect(func(r *Result) { seen = append(seen, r.Object.Name) }))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors != 1 || len(sum.ErrorMessages) != 1 || sum.ErrorMessages[0] != "Pod ai/broken: field spec.containers: cannot use a JSON string" {
		t.Errorf("errors %d %q", sum.Errors, sum.ErrorMessages)
	}
	total := len(items) + 1
	want := []string{fmt.Sprintf("pods 3/%d", total), fmt.Sprintf("pods %d/%d", total, total), "done"}
	if fmt.Sprint(p) != fmt.Sprint(want) {
		t.Errorf("progress %q, want %q", p, want)
	}
	if len(seen) != sum.Objects || seen[0] != "gpu-spot" {
		t.Errorf("results %v for %d objects", seen, sum.Objects)
	}
}

// TestRunnerStopsOnCancel: a cancelled audit ends with the context's error.
func TestRunnerStopsOnCancel(t *testing.T) {
	runner, files := fixtureRunner(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := runner.Run(ctx, files, collect(func(*Result) {})); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}
