package app

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/internal/version"
)

// NewVersionCommand prints the version, the commit and build date, and the
// versions of Go, OPA, controller-runtime and the Kubernetes libraries
// built in, with the uid, gid and root filesystem of the process: in a
// container without a shell, this is how to see who Tollgate runs as.
func NewVersionCommand(s IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit, and the versions of the libraries built in",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			switch output {
			case "json":
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(version.GetWithProcess())
			case "", "text":
				_, err := fmt.Fprint(s.Out, version.GetWithProcess().Text())
				return err
			}
			return usageError(fmt.Errorf("unknown output %q (want text or json)", output))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
