package wiring

// Deps are the long-lived clients a reviewer uses besides cluster state,
// created once per process by the command that builds the reviewer.
type Deps struct{}
