package config

// Mutators is the mutators section of the configuration file.
type Mutators struct{}

func defaultMutators() Mutators { return Mutators{} }
