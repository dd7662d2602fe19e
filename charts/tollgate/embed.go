// Package tollgate embeds the chart's files that Go shares with the
// templates, so that both render the same webhook match conditions.
package tollgate

import (
	_ "embed"
	"strings"
)

//go:embed files/mutating-match.cel
var mutatingMatch string

//go:embed files/validating-pod-match.cel
var validatingPodMatch string

// ValidatingPodMatchExpression returns the CEL expression of the pod
// validating webhook's match condition: every CREATE, the ephemeral
// containers subresource, and updates of a pod that still has scheduling
// gates, whose node selector, affinity and tolerations can still change
// (Kubernetes allows it until the last gate is removed); other pod
// updates (labels, status) never reach Tollgate.
func ValidatingPodMatchExpression() string {
	return strings.TrimSpace(validatingPodMatch)
}

// MutatingMatchExpression returns the CEL expression of the mutating
// webhook's match condition; serviceAccounts is the CEL clause for pods
// that may need credentials.
func MutatingMatchExpression(serviceAccounts string) string {
	return strings.ReplaceAll(strings.TrimSpace(mutatingMatch), "__SA__", serviceAccounts)
}
