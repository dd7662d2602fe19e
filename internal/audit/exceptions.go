package audit

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-dev/tollgate/internal/exception"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// ExpiringWithin is how far ahead an exception's expiry is reported.
const ExpiringWithin = 14 * 24 * time.Hour

// ExceptionHealth lists the PolicyExceptions an owner should look at: the
// ones that expire within ExpiringWithin, the expired ones (which except
// nothing) and the ones that excepted nothing in this audit, either
// because no audited object matches them any more or because the objects
// they match have no finding of their policies. Exceptions of namespaces
// outside the audit's scope are not judged unused.
type ExceptionHealth struct {
	Expiring []ExceptionNote `json:"expiring,omitempty"`
	Expired  []ExceptionNote `json:"expired,omitempty"`
	Unused   []ExceptionNote `json:"unused,omitempty"`
}

// ExceptionNote names an exception and why it is listed.
type ExceptionNote struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	ExpiresAt string `json:"expiresAt"`
	Ticket    string `json:"ticket,omitempty"`
	// Note says why it is listed: "expires in 3 days", "matches no
	// object", "excepts no finding".
	Note string `json:"note"`
}

// exceptionTracker follows which exceptions match the audited objects.
type exceptionTracker struct {
	decider exception.Decider
	now     time.Time
	excs    []*exception.Exception
	matched []bool
	// inScope is nil for an audit of every namespace.
	inScope func(ns string) bool
}

// newExceptionTracker reads the exceptions through the reviewer's state,
// judged with its clock. An audit without exceptions gets nil.
func (r *Runner) newExceptionTracker(ctx context.Context) (*exceptionTracker, error) {
	objs, err := r.Reviewer.State().PolicyExceptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading PolicyExceptions: %w", err)
	}
	excs, _ := exception.ParseAll(objs) // unusable ones are exception.valid findings
	if len(excs) == 0 {
		return nil, nil
	}
	t := &exceptionTracker{decider: r.Reviewer.Exceptions(), now: r.Reviewer.Now(nil), excs: excs, matched: make([]bool, len(excs))}
	if len(r.Namespaces) > 0 {
		t.inScope = func(ns string) bool { return slices.Contains(r.Namespaces, ns) }
	}
	return t, nil
}

// see records the exceptions an audited object matches. PolicyExceptions
// themselves do not count: their findings are never excepted.
func (t *exceptionTracker) see(o *kubeobjects.Object) {
	if t == nil || o.GroupKind() == kubeobjects.PolicyException {
		return
	}
	s := review.SubjectOf(o)
	for i, e := range t.excs {
		if !t.matched[i] && t.decider.Matches(e, s) {
			t.matched[i] = true
		}
	}
}

// health lists the exceptions to look at, given what excepted findings.
func (t *exceptionTracker) health(s *Summary) *ExceptionHealth {
	if t == nil {
		return nil
	}
	h := &ExceptionHealth{}
	for i, e := range t.excs {
		n := ExceptionNote{Namespace: e.Namespace, Name: e.Name, ExpiresAt: e.ExpiresAt.UTC().Format(time.RFC3339), Ticket: e.Ticket}
		if err := t.decider.Usable(e, t.now); err != nil {
			if !t.now.Before(e.ExpiresAt) {
				n.Note = "expired"
				h.Expired = append(h.Expired, n)
			}
			continue // too long: exception.valid reports it
		}
		if left := e.ExpiresAt.Sub(t.now); left <= ExpiringWithin {
			n.Note = "expires in " + humanDuration(left)
			h.Expiring = append(h.Expiring, n)
		}
		if t.inScope != nil && !t.inScope(e.Namespace) {
			continue
		}
		switch {
		case !t.matched[i]:
			n.Note = "matches no object"
			h.Unused = append(h.Unused, n)
		case s.ExceptedBy[e.Ref()] == 0:
			n.Note = "excepts no finding"
			h.Unused = append(h.Unused, n)
		}
	}
	if len(h.Expiring)+len(h.Expired)+len(h.Unused) == 0 {
		return nil
	}
	return h
}

// humanDuration says "3 days", "5 hours" or "12 minutes".
func humanDuration(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 48*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour:
		return plural(int(d/time.Hour), "hour")
	default:
		return plural(max(1, int(d/time.Minute)), "minute")
	}
}

// String is "ns/name until 2026-12-10T00:00:00Z (PLAT-1234): expires in 3 days".
func (n ExceptionNote) String() string {
	s := n.Namespace + "/" + n.Name + " until " + n.ExpiresAt
	if n.Ticket != "" {
		s += " (" + n.Ticket + ")"
	}
	return s + ": " + n.Note
}

// exceptionGroup is one list of ExceptionHealth with its title, for the
// table and the HTML report.
type exceptionGroup struct {
	ID, Title string
	Notes     []ExceptionNote
}

// groups returns the non-empty lists, in the order reports print them.
func (h *ExceptionHealth) groups() []exceptionGroup {
	if h == nil {
		return nil
	}
	var out []exceptionGroup
	for _, g := range []exceptionGroup{
		{"expiring", "PolicyExceptions expiring within 14 days", h.Expiring},
		{"expired", "Expired PolicyExceptions (they except nothing)", h.Expired},
		{"unused", "PolicyExceptions that excepted nothing in this audit", h.Unused},
	} {
		if len(g.Notes) > 0 {
			out = append(out, g)
		}
	}
	return out
}
