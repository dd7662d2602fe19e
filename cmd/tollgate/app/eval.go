package app

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// EvalOutput is the stable `eval -o json` document.
type EvalOutput struct {
	Results []*review.Result `json:"results"`
	// NotReviewed lists every input object no policy judged: cluster
	// state, kinds Tollgate does not review, and objects in exempt
	// namespaces (which stay in Results too, allowed, as they always were),
	// so that a CI job sees what passed unseen.
	NotReviewed []NotReviewed `json:"notReviewed"`
}

// NotReviewed is an input object that no policy judged, and why.
type NotReviewed struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Reason is "state" (used as cluster state), "kind not reviewed",
	// "exempt namespace" or "exempt user".
	Reason string `json:"reason"`
}

// exemptReason maps the review's exemption ("namespace kube-system is
// exempt") to the reason token of the contract.
func exemptReason(exempt string) string {
	switch {
	case strings.HasPrefix(exempt, "namespace "):
		return "exempt namespace"
	case strings.HasPrefix(exempt, "user "):
		return "exempt user"
	}
	return exempt
}

// Reasons of NotReviewed.
const (
	ReasonState           = "state"
	ReasonKindNotReviewed = "kind not reviewed"
)

func notReviewed(o *kubeobjects.Object, reason string) NotReviewed {
	return NotReviewed{APIVersion: o.GVK.GroupVersion().String(), Kind: o.GVK.Kind, Namespace: o.Namespace, Name: o.Name, Reason: reason}
}

// NewEvalCommand evaluates manifests offline exactly as the webhooks would.
func NewEvalCommand(s IOStreams) *cobra.Command {
	var (
		pf     policyFlags
		files  []string
		states []string
		output string
		// iamPolicies is an offline IAM policies file (iam.Offline).
		iamPolicies string
		now         nowFlag
		failUnseen  bool
	)
	cmd := &cobra.Command{
		Use:   "eval -f PATH... [--state PATH...]",
		Short: "Evaluate manifests offline, exactly as admission would",
		Long: `Evaluate manifests (files, directories, or - for standard input) the way
Tollgate's webhooks would: pods are mutated and then validated; workload
templates, NodePools and ACK resources are validated. Objects given with
--state (including running Pods) and the Namespaces, ServiceAccounts,
ResourceQuotas, PodDisruptionBudgets and NodePools given with -f form the
cluster state. Each object is evaluated on its own against that state.

The IAM documents of the role a pod will assume come from the IAM API when
AWS credentials are configured (the SDK's standard configuration, including
AWS_ENDPOINT_URL_IAM), or from --iam-policies without any AWS call.

Exit codes: 0 every object allowed, 1 at least one denied, 2 bad input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return usageError(fmt.Errorf("no input: give manifests with -f PATH (a file, a directory, or - for standard input)"))
			}
			if output != "json" && output != "table" {
				return usageError(fmt.Errorf("unknown output %q (want json or table)", output))
			}
			ctx := cmd.Context()
			cfg, e, err := pf.load(ctx)
			if err != nil {
				return err
			}
			clock, err := now.options()
			if err != nil {
				return err
			}
			docs, r, err := offlineReviewer(ctx, s, cfg, e, files, states, iamPolicies, clock...)
			if err != nil {
				return err
			}
			// Input without objects (a pipeline step that printed nothing)
			// must not pass: each -f counts on its own.
			if err := manifest.RequireObjects(files, docs); err != nil {
				return usageError(err)
			}
			out := EvalOutput{Results: []*review.Result{}, NotReviewed: []NotReviewed{}}
			skipped := map[string]int{}
			for _, d := range docs {
				if d.Skipped || review.TargetOf(d.Object) == "" {
					skipped[d.Object.GVK.Kind]++
					reason := ReasonKindNotReviewed
					if !d.Skipped && state.IsState(d.Object) {
						reason = ReasonState
					}
					out.NotReviewed = append(out.NotReviewed, notReviewed(d.Object, reason))
					continue
				}
				res, err := r.Review(ctx, &review.Request{Object: d.Object, Operation: "CREATE", Mutate: true})
				if err != nil {
					return usageError(fmt.Errorf("%s: %w", d.Location(), err))
				}
				if res.Exempt != "" {
					out.NotReviewed = append(out.NotReviewed, notReviewed(d.Object, exemptReason(res.Exempt)))
				}
				out.Results = append(out.Results, res)
			}
			if len(skipped) > 0 {
				var kinds []string
				for k, n := range skipped {
					kinds = append(kinds, fmt.Sprintf("%s (%d)", cell(k), n))
				}
				sort.Strings(kinds)
				fmt.Fprintf(s.ErrOut, "not evaluated (state, or kinds Tollgate does not review): %s\n", strings.Join(kinds, ", "))
			}
			if output == "json" {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			} else {
				if err := writeTable(s.Out, out.Results); err != nil {
					return err
				}
				writeNotReviewed(s.Out, out.NotReviewed)
			}
			for _, res := range out.Results {
				if !res.Allowed {
					return &ExitError{Code: ExitFindings}
				}
			}
			if failUnseen {
				for _, n := range out.NotReviewed {
					if n.Reason != ReasonState {
						return &ExitError{Code: ExitFindings}
					}
				}
			}
			return nil
		},
	}
	pf.add(cmd.Flags())
	now.add(cmd.Flags())
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifests to evaluate: a file, a directory (recursive) or - (repeatable)")
	cmd.Flags().StringArrayVar(&states, "state", nil, "manifests that form the cluster state: namespaces, quotas, running pods, ... (repeatable)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().BoolVar(&failUnseen, "fail-on-unreviewed", false, "exit 1 when an input object is not reviewed (a kind Tollgate does not review, or an exempt namespace); cluster state does not count")
	cmd.Flags().StringVar(&iamPolicies, "iam-policies", "", "JSON file of IAM role documents (role ARN -> [{name or arn, document}]) used instead of the IAM API, for offline tests")
	return cmd
}

// writeNotReviewed lists, after the table, the objects no policy judged
// other than cluster state, one per line with the reason.
func writeNotReviewed(w io.Writer, list []NotReviewed) {
	var lines []string
	for _, n := range list {
		if n.Reason == ReasonState {
			continue
		}
		name := n.Kind + " " + n.Name
		if n.Namespace != "" {
			name = n.Kind + " " + n.Namespace + "/" + n.Name
		}
		lines = append(lines, fmt.Sprintf("  %s: %s", cell(name), cell(n.Reason)))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\nNot reviewed (%d):\n%s\n", len(lines), strings.Join(lines, "\n"))
}

// writeTable prints one line per object and one per finding below it.
// Names, policy ids and messages come from the input and from operator
// policies: cells with control characters are quoted, so that a crafted
// name cannot start a line of its own (an "allowed" row in a CI log).
func writeTable(w io.Writer, results []*review.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tVERDICT\tPOLICY\tACTION\tMESSAGE")
	for _, r := range results {
		verdict := "allowed"
		switch {
		case !r.Allowed:
			verdict = "denied"
		case len(r.Patch) > 0:
			verdict = fmt.Sprintf("mutated (%d)", len(r.Patch))
		}
		fmt.Fprintf(tw, "%s\t%s\t\t\t\n", objectCell(r.Object), verdict)
		for _, v := range r.Violations {
			fmt.Fprintf(tw, "\t\t%s\t%s\t%s\n", cell(v.Policy), cell(string(v.Action)), cell(v.Message))
		}
	}
	return tw.Flush()
}

// objectCell is the kind and the namespace/name, each a cell, so that a
// quoted name still reads as a Pod's: Pod "ns/evil\nPod ns/x allowed".
func objectCell(r kubeobjects.Ref) string {
	name := r.Name
	if r.Namespace != "" {
		name = r.Namespace + "/" + r.Name
	}
	return cell(r.Kind) + " " + cell(name)
}

// cell returns s, or s quoted Go-style (\n, \r, \t, \x1b, \u202e
// shown as such) when it holds a character that is not printable or is
// not UTF-8.
func cell(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}
