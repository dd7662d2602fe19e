package config

// IAM is the iam section of the configuration file.
type IAM struct{}

func defaultIAM() IAM { return IAM{} }
