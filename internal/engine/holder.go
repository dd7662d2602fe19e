package engine

import "sync/atomic"

// Holder holds the current Engine; an operator bundle reload swaps it
// atomically, and every review loads it once so that a request is evaluated
// by one bundle from start to end.
type Holder struct{ p atomic.Pointer[Engine] }

// NewHolder returns a Holder with e as the current engine.
func NewHolder(e *Engine) *Holder {
	h := &Holder{}
	h.p.Store(e)
	return h
}

// Load returns the current engine.
func (h *Holder) Load() *Engine { return h.p.Load() }

// Store replaces the current engine.
func (h *Holder) Store(e *Engine) { h.p.Store(e) }
