package app

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/policydocs"
)

// NewPoliciesCommand lists the embedded and operator policies from their METADATA.
func NewPoliciesCommand(s IOStreams) *cobra.Command {
	var (
		pf     policyFlags
		output string
		docs   bool
	)
	cmd := &cobra.Command{
		Use:   "policies",
		Short: "List the policies: id, title, severity, default action, description",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, e, err := pf.load(cmd.Context())
			if err != nil {
				return err
			}
			if docs {
				md, err := policydocs.Generate(cmd.Context(), e)
				if err != nil {
					return err
				}
				_, err = io.WriteString(s.Out, md)
				return err
			}
			ps := e.Policies()
			switch output {
			case "json":
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				if ps == nil {
					ps = []*engine.Policy{}
				}
				return enc.Encode(ps)
			case "table":
				tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSEVERITY\tACTION\tTARGETS\tTITLE")
				for _, p := range ps {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", p.ID, p.Severity, p.Action, p.Targets, p.Title)
				}
				return tw.Flush()
			}
			return usageError(fmt.Errorf("unknown output %q (want table or json)", output))
		},
	}
	pf.add(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().BoolVar(&docs, "docs", false, "write the Markdown policy reference (docs/policies.md), with each example evaluated")
	return cmd
}
