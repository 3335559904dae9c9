package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"jiexu/registry"
)

// listFlag collects a repeatable or comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// flagSet makes a flag set whose usage prints the command's usage line.
func flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("jiexu "+name, flag.ContinueOnError)
	// The flag package's own error line is dropped: main prints the error once.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: jiexu %s\n\nflags:\n", commands[name].usage[:max(0, strings.Index(commands[name].usage, "   "))])
		fs.SetOutput(os.Stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// required returns an error naming the first empty required flag.
func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Value.String() == "" {
			fs.Usage()
			return fmt.Errorf("--%s is required", n)
		}
	}
	return nil
}

// positional checks the number of positional arguments.
func positional(fs *flag.FlagSet, pos []string, want int, what string) error {
	if len(pos) != want {
		fs.Usage()
		return errors.New("expected " + what)
	}
	return nil
}

// tableFlag adds --divisions: a folder with a newer GB/T 2260 table
// (province.csv, city.csv, area.csv) than the embedded one.
func tableFlag(fs *flag.FlagSet) func() (*registry.Table, error) {
	dir := fs.String("divisions", os.Getenv("JIEXU_DIVISIONS"), "folder with a newer GB/T 2260 table (province.csv, city.csv, area.csv); default the embedded one, or $JIEXU_DIVISIONS")
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
