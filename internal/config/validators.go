package config

// Validators is the validators section of the configuration file.
type Validators struct{}

func defaultValidators() Validators { return Validators{} }
