package audit

import (
	"context"
	"fmt"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// Item is one object to audit.
type Item struct {
	Object *kubeobjects.Object
	// UID is the object's uid, for objects read from a cluster.
	UID    string
	Source *Location
	// Locate finds the line of a field path in the manifest, when known.
	Locate func(path string) int
	// NotReviewed is set for objects of kinds Tollgate does not review.
	NotReviewed bool
	// Err is why the object could not be read (it is then not reviewed).
	Err error
}

// Chunk is a batch of objects of one kind, as a source reads them.
type Chunk struct {
	// Kind names what is being read ("pods", "manifests"), for progress.
	Kind  string
	Items []Item
	// Remaining estimates how many objects of Kind are left after this
	// chunk; -1 when unknown.
	Remaining int
}

// Source reads the objects to audit in chunks. It calls fn with each
// chunk and waits for it before reading the next, so that only one chunk
// is held at a time.
type Source interface {
	Each(ctx context.Context, fn func(*Chunk) error) error
}

// Progress is told how an audit advances.
type Progress interface {
	// Update reports that done objects of kind are audited, of about total
	// (-1 when unknown).
	Update(kind string, done, total int)
	// Done is called once when the audit ends.
	Done()
}

// Runner audits the objects of a source through the review path, mutators
// included, and adds drift findings. It holds no object beyond the chunk
// being reviewed.
type Runner struct {
	Reviewer *review.Reviewer
	// Workers review a chunk's objects concurrently (default GOMAXPROCS);
	// results keep the source's order.
	Workers  int
	Progress Progress
	// Namespaces are the namespaces audited (empty: all); exceptions of
	// other namespaces are not judged unused (exceptions.go).
	Namespaces []string
}

// Run audits every object of src and sends the results to out, then
// closes it with the summary. A review that fails is counted in
// Summary.Errors and the audit goes on; an error returned by the source or
// the report ends it.
func (r *Runner) Run(ctx context.Context, src Source, out Report) (*Summary, error) {
	s := NewSummary()
	workers := r.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	done := map[string]int{}
	excs, err := r.newExceptionTracker(ctx)
	if err != nil {
		s.AddError(err.Error())
	}
	err = src.Each(ctx, func(c *Chunk) error {
		results := make([]*Result, len(c.Items))
		errs := make([]error, len(c.Items))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(workers)
		for i := range c.Items {
			if gctx.Err() != nil {
				break
			}
			g.Go(func() error {
				results[i], errs[i] = r.review(gctx, &c.Items[i])
				return nil
			})
		}
		_ = g.Wait() // reviews report their errors in errs
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, res := range results {
			it := &c.Items[i]
			switch {
			case errs[i] != nil:
				s.AddError(fmt.Sprintf("%s: %v", describe(it), errs[i]))
			case it.NotReviewed:
				s.NotReviewed[it.Object.GVK.Kind]++
			case res.Exempt != "":
				s.Exempt++
			default:
				excs.see(it.Object)
				s.Add(res)
				if err := out.Add(res); err != nil {
					return err
				}
			}
		}
		done[c.Kind] += len(c.Items)
		if r.Progress != nil {
			total := -1
			if c.Remaining >= 0 {
				total = done[c.Kind] + c.Remaining
			}
			r.Progress.Update(c.Kind, done[c.Kind], total)
		}
		return nil
	})
	if r.Progress != nil {
		r.Progress.Done()
	}
	if err != nil {
		return s, err
	}
	s.Exceptions = excs.health(s)
	return s, out.Close(s)
}

func describe(it *Item) string {
	if it.Source != nil {
		return fmt.Sprintf("%s:%d: %s", it.Source.File, it.Source.Line, it.Object.Ref())
	}
	return it.Object.Ref().String()
}

// review reviews one object as admission would if it were created today.
func (r *Runner) review(ctx context.Context, it *Item) (*Result, error) {
	if it.Err != nil {
		return nil, it.Err
	}
	if it.NotReviewed || review.TargetOf(it.Object) == "" {
		it.NotReviewed = true
		return nil, nil
	}
	o := it.Object
	isPod := review.TargetOf(o) == engine.TargetPod
	// Audits name no requesting user: username exemptions and the
	// tollgate.dev/exempt annotation, which depends on who set it, do not
	// apply; namespace exemptions do.
	res, err := r.Reviewer.Review(ctx, &review.Request{Object: o, Operation: "CREATE", Mutate: isPod, Drift: isPod})
	if err != nil {
		return nil, err
	}
	out := &Result{Result: *res, Source: it.Source, UID: it.UID, locate: it.Locate}
	// The mutated pod is no longer needed; results are kept by reports.
	out.Mutated = nil
	return out, nil
}
