package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"jiexu/node/store"
)

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// ConfigFile is the node's config file; From the backup to restore.
	ConfigFile, From string
	// WithoutSidecar restores although data_dir has no usable sidecar.
	WithoutSidecar bool
	Logger         *slog.Logger
}

// Restore puts a backup in place of a stopped node's store (see
// store.Restore): a new epoch, every counter past what the node reserved,
// the old store kept aside. It prints what it did and what the operator
// must check. Rolling the restored store forward from the peers (the cases,
// certificates, remittances and message ids they hold from this region) is
// RestoreOptions.RollForward's place in store.Restore, not done yet.
func Restore(ctx context.Context, o RestoreOptions, w io.Writer) error {
	cfg, err := LoadConfig(o.ConfigFile)
	if err != nil {
		return err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sum, err := VerifyBackup(o.From, nil)
	if err != nil {
		return fmt.Errorf("the backup %s does not verify, nothing restored: %w", o.From, err)
	}
	r, err := store.Restore(ctx, store.RestoreOptions{
		Dir: cfg.DataDir, Region: cfg.Region, ConfigFile: o.ConfigFile, Counters: counters{},
		From: o.From, WithoutSidecar: o.WithoutSidecar, Logger: o.Logger,
	})
	if err != nil {
		return err
	}
	r.Write(w)
	fmt.Fprintf(w, "  restored store: %d people (%d periods), %d cases, %d certificates, %d pending messages, %d dead letters\n",
		sum.Enrolments, sum.Periods, sum.Cases, sum.Certificates, sum.Pending, sum.Dead)
	fmt.Fprintf(w, "start the node again: jiexu node serve --config %s\n", o.ConfigFile)
	return nil
}
