//go:build !linux

package version

func rootReadOnly() *bool { return nil }
