// Package app holds Tollgate's command line: one file per subcommand, each
// with its NewXCommand constructor. Output goes to injected streams so that
// every command can be tested in-process; only Main exits the process.
package app

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK       = 0 // every object allowed, every test passed
	ExitFindings = 1 // at least one object denied, test failed, or audit threshold hit
	ExitUsage    = 2 // bad input or usage; nothing was evaluated
)

// IOStreams are the command's standard streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// ExitError carries an exit code. Code 1 errors with a nil Err print nothing
// more: the command has already reported its findings.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks bad input or usage (exit code 2).
func usageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// Main runs Tollgate with the process's arguments and streams and exits.
func Main() {
	os.Exit(Code(Run(os.Args[1:], IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}), os.Stderr))
}

// Code reports err on w and returns the exit code it stands for.
func Code(err error, w io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(w, "error:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(w, "error:", err)
	return ExitUsage
}

// Run runs one command line.
func Run(args []string, s IOStreams) error {
	cmd := NewRootCommand(s)
	cmd.SetArgs(args)
	return cmd.Execute()
}

// NewRootCommand returns the tollgate command with every subcommand.
func NewRootCommand(s IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "tollgate",
		Short: "Admission and policy for GPU and agentic-AI workloads on Amazon EKS",
		Long: `Tollgate mutates and validates pods, workload templates and Karpenter NodePools
at admission, with rules from Rego bundles embedded in the binary. The same
engine serves cluster-wide admission (serve), offline evaluation (eval), audit
reports (audit) and policy unit tests (test).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(
		NewDemoCommand(s),
		NewEvalCommand(s),
		NewAuditCommand(s),
		NewServeCommand(s),
		NewPoliciesCommand(s),
		NewTestCommand(s),
		NewVersionCommand(s),
	)
	return root
}
