package audit

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Bar draws a one-line progress bar, for a terminal: nothing until the
// audit has run for Delay (a quick audit stays quiet), then at most ten
// redraws a second, and the line is cleared when the audit ends.
type Bar struct {
	W     io.Writer
	Delay time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	start   time.Time
	last    time.Time
	drawn   bool
	objects int
	kinds   map[string]int
}

var _ Progress = (*Bar)(nil)

// NewBar returns a bar that appears when the audit has run for a second.
func NewBar(w io.Writer) *Bar { return &Bar{W: w, Delay: time.Second, start: time.Now()} }

func (b *Bar) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Update implements Progress.
func (b *Bar) Update(kind string, done, total int) {
	now := b.now()
	if b.start.IsZero() {
		b.start = now
	}
	if b.kinds == nil {
		b.kinds = map[string]int{}
	}
	b.objects += done - b.kinds[kind]
	b.kinds[kind] = done
	if now.Sub(b.start) < b.Delay || now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last, b.drawn = now, true
	const width = 24
	line := fmt.Sprintf("auditing %s: %d", kind, done)
	if total > 0 {
		filled := min(width, done*width/total)
		line = fmt.Sprintf("auditing %s: %d/%d [%s%s] %3d%%", kind, done, total,
			strings.Repeat("#", filled), strings.Repeat(".", width-filled), done*100/total)
	}
	fmt.Fprintf(b.W, "\r\033[K%s · %d objects · %s", line, b.objects, now.Sub(b.start).Round(time.Second))
}

// Done implements Progress: it clears the bar's line.
func (b *Bar) Done() {
	if b.drawn {
		fmt.Fprint(b.W, "\r\033[K")
	}
}
