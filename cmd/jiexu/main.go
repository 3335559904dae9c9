// Command jiexu is the one binary of the jiexu network: the national CA and
// registry, an agency's node, and the operator's tools. It only parses flags
// and calls the package that owns the work.
//
// Exit status: 0 on success (and for --help), 1 when a command fails, 2 when
// it was called wrongly (an unknown command or flag, a missing required flag,
// the wrong number of arguments), 3 when 'jiexu reconcile' found differences.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process's exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	return reportError(stderr, cmd, mistypedCommand(root, cmd, args, err))
}

// mistypedCommand turns the flag error of a group command ("jiexu node
// stauts --config …": the group has no --config) into what went wrong, the
// unknown subcommand, with a suggestion.
func mistypedCommand(root, cmd *cobra.Command, args []string, err error) error {
	var ue usageError
	if err == nil || cmd == nil || !cmd.HasSubCommands() || !errors.As(err, &ue) {
		return err
	}
	found, rest, ferr := root.Find(args)
	if ferr != nil || found != cmd || len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
		return err
	}
	if serr := subcommandArgs(cmd, rest[:1]); serr != nil {
		return serr
	}
	return err
}
