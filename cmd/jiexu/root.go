package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"jiexu/node"
	"jiexu/registry"
)

// The CLI is built with cobra rather than the standard flag package: help goes
// to standard output with exit status 0, bash and zsh completion come with it,
// every command parses and reports flags the same way, and a command is one
// declaration instead of the usage text, lookup table and parsing loop each
// command repeated before.

// Command groups, in the order 'jiexu --help' lists them.
const (
	groupStart    = "start"
	groupNational = "national"
	groupNode     = "node"
	groupOperator = "operator"
)

// newRootCmd builds the whole command tree.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:                   "jiexu COMMAND",
		DisableFlagsInUseLine: true,
		Short:                 "接续: move a person's basic-medical-insurance relationship between pooling regions",
		Long: `jiexu (接续) carries a person's basic-medical-insurance relationship from one pooling
region's agency to another's. Each region runs a node; the national level runs the CA
and the registry. Start with 'jiexu demo'.`,
		Version:       node.VersionString(),
		Args:          subcommandArgs,
		RunE:          showHelp,
		SilenceErrors: true, // run prints the error once
		SilenceUsage:  true,
		// Every command checks its required flags the same way.
		PersistentPreRunE: checkRequired,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddGroup(
		&cobra.Group{ID: groupStart, Title: "Try it:"},
		&cobra.Group{ID: groupNational, Title: "The national level (CA and registry):"},
		&cobra.Group{ID: groupNode, Title: "A node (one per pooling region):"},
		&cobra.Group{ID: groupOperator, Title: "An agency's operators:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add(groupStart, newDemoCmd(), newDevnetCmd(), newChaosCmd(), newBenchCmd())
	add(groupNational, newCACmd(), newRegistryCmd())
	add(groupNode, newNodeCmd(), newOutboxCmd(), newDeadLettersCmd(), newAuditCmd(), newReconcileCmd())
	add(groupOperator, newRecordsCmd(), newTransferCmd(), newCertCmd(), newOperatorCmd())
	root.AddCommand(newVersionCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the build's version and commit",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), node.VersionString())
			return nil
		},
	}
}

// group makes a command that only holds subcommands: alone it shows them.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use + " COMMAND", Short: short, Args: subcommandArgs, RunE: showHelp, DisableFlagsInUseLine: true}
	c.AddCommand(subs...)
	return c
}

func showHelp(cmd *cobra.Command, _ []string) error { return cmd.Help() }

// subcommandArgs refuses an unknown subcommand, suggesting near names.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError{errors.New(msg)}
}

// noArgs refuses positional arguments.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q (every input of this command is a --flag)", args[0])
	}
	return nil
}

// exactArgs wants n positional arguments, described by what.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("expected %s, got %d argument(s)", what, len(args))
		}
		return nil
	}
}

// usageError is a command called wrongly; it exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// requiredAnnotation marks a flag that must not be empty.
const requiredAnnotation = "jiexu_required"

// required marks flags that must be given (checked by checkRequired, which
// names the first missing one as "--name is required").
func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		f := cmd.Flags().Lookup(n)
		if f == nil {
			panic("required: no flag --" + n)
		}
		f.Usage += " (required)"
		_ = cmd.Flags().SetAnnotation(n, requiredAnnotation, []string{"true"})
	}
}

func checkRequired(cmd *cobra.Command, _ []string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err == nil && f.Annotations[requiredAnnotation] != nil && flagEmpty(f) {
			err = usagef("--%s is required", f.Name)
		}
	})
	return err
}

func flagEmpty(f *pflag.Flag) bool {
	if s, ok := f.Value.(pflag.SliceValue); ok {
		return len(s.GetSlice()) == 0
	}
	return f.Value.String() == ""
}

// reportError prints err once on w, with a pointer to the help for a usage
// error, and returns the exit status.
func reportError(w io.Writer, cmd *cobra.Command, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(w, "jiexu:", describeError(err))
	if isDifferences(err) {
		return exitDifferences
	}
	var ue usageError
	if errors.As(err, &ue) {
		if cmd != nil {
			fmt.Fprintf(w, "usage: %s\nRun '%s --help' for more.\n", cmd.UseLine(), cmd.CommandPath())
		}
		return 2
	}
	return 1
}

// addJSONFlag adds --json to a listing: the API's messages as protojson.
func addJSONFlag(cmd *cobra.Command) *bool {
	return cmd.Flags().Bool("json", false, "print JSON for scripts (the API's message in protobuf's JSON mapping)")
}

// printJSON writes m in protobuf's canonical JSON mapping, indented the
// same way every time (protojson's own layout varies its spacing on purpose).
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(w)
	return err
}

// addTableFlag adds --divisions: a folder with a newer GB/T 2260 table
// (mca-YEAR.txt and history.csv) than the embedded one.
func addTableFlag(fs *pflag.FlagSet) func() (*registry.Table, error) {
	dir := fs.String("divisions", os.Getenv("JIEXU_DIVISIONS"), "folder with a newer GB/T 2260 table: one mca-YEAR.txt (the table in force) and history.csv; default the embedded mca-2024, or $JIEXU_DIVISIONS")
	return func() (*registry.Table, error) {
		if *dir == "" {
			return registry.DefaultTable(), nil
		}
		t, err := registry.LoadTableDir(*dir)
		if err != nil {
			return nil, fmt.Errorf("--divisions %s: %w", *dir, err)
		}
		return t, nil
	}
}

// completeWords offers fixed values for a flag in shell completion.
func completeWords(cmd *cobra.Command, flag string, words ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp))
}
