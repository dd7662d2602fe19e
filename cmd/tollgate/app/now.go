package app

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate/internal/review"
)

// nowFlag is --now of eval, audit -f and test: the time PolicyExceptions
// are judged at, so that a CI result does not change as exceptions expire.
type nowFlag struct{ value string }

func (n *nowFlag) add(fs *pflag.FlagSet) {
	fs.StringVar(&n.value, "now", "", "judge PolicyExceptions at this time (RFC 3339, such as 2026-12-01T00:00:00Z) instead of the system clock")
}

// options returns the reviewer option that sets the clock, or none.
func (n *nowFlag) options() ([]review.Option, error) {
	if n.value == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, n.value)
	if err != nil {
		return nil, usageError(fmt.Errorf("--now %q: want an RFC 3339 time such as 2026-12-01T00:00:00Z", n.value))
	}
	return []review.Option{review.WithClock(func() time.Time { return t })}, nil
}
