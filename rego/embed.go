// Package rego holds Tollgate's embedded policy bundle: one Rego package per
// policy under <family>/<policy>.rego with its unit tests beside it, shared
// helpers under lib/, and data.json with the parameters and catalogs the
// policies read. The engine compiles it once at start; *_test.rego files are
// embedded for `tollgate test` but never compiled into the production bundle.
package rego

import "embed"

// FS is the embedded bundle.
//
//go:embed data.json lib pss
//go:embed gpu/*.rego
//go:embed nodepool/*.rego quota/*.rego spot/*.rego
//go:embed iam/*.rego iam/lib/*.rego s3/*.rego
//go:embed drift/*.rego schedule/*.rego exception/*.rego image/*.rego
//go:embed nodeclass/*.rego
var FS embed.FS
