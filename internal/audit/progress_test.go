package audit

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestBar: a quick audit draws nothing; a long one draws at most ten
// times a second and clears its line at the end.
func TestBar(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	b := &Bar{W: &out, Delay: time.Second, Now: func() time.Time { return now }}
	b.Update("pods", 500, 2000)
	now = now.Add(500 * time.Millisecond)
	b.Update("pods", 1000, 2000)
	if out.Len() != 0 {
		t.Fatalf("drew before the delay: %q", out.String())
	}
	now = now.Add(time.Second)
	b.Update("pods", 1500, 2000)
	if !strings.Contains(out.String(), "auditing pods: 1500/2000 [##################......]  75% · 1500 objects") {
		t.Fatalf("bar %q", out.String())
	}
	drawn := out.Len()
	now = now.Add(10 * time.Millisecond)
	b.Update("pods", 2000, 2000)
	if out.Len() != drawn {
		t.Errorf("redrew within 100ms: %q", out.String()[drawn:])
	}
	now = now.Add(time.Second)
	b.Update("deployments", 10, -1)
	if !strings.Contains(out.String()[drawn:], "auditing deployments: 10 · 2010 objects") {
		t.Errorf("unknown total: %q", out.String()[drawn:])
	}
	b.Done()
	if !strings.HasSuffix(out.String(), "\r\033[K") {
		t.Errorf("Done did not clear the line: %q", out.String())
	}

	var quiet bytes.Buffer
	q := &Bar{W: &quiet, Delay: time.Second, Now: func() time.Time { return now }}
	q.Update("pods", 3, 3)
	q.Done()
	if quiet.Len() != 0 {
		t.Errorf("a quick audit printed %q", quiet.String())
	}
}
