// Package tollgate embeds the chart's files that Go shares with the
// templates, so that both render the same webhook match conditions.
package tollgate

import (
	_ "embed"
	"strings"
)

//go:embed files/mutating-match.cel
var mutatingMatch string

// MutatingMatchExpression returns the CEL expression of the mutating
// webhook's match condition; serviceAccounts is the CEL clause for pods
// that may need credentials.
func MutatingMatchExpression(serviceAccounts string) string {
	return strings.ReplaceAll(strings.TrimSpace(mutatingMatch), "__SA__", serviceAccounts)
}
