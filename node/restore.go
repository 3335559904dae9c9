package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"jiexu/node/store"
)

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// ConfigFile is the node's config file; From the backup to restore.
	ConfigFile, From string
	// WithoutSidecar restores although data_dir has no usable sidecar.
	WithoutSidecar bool
	// WithoutPeers skips rolling the store forward from the peers.
	WithoutPeers bool
	// PeerWait is how long a peer that cannot be reached is asked again
	// (a node restarting) before the report names it; 0 asks once.
	PeerWait time.Duration
	Logger   *slog.Logger
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Restore puts a backup in place of a stopped node's store (see
// store.Restore): a new epoch, every counter past what the node reserved,
// the old store kept aside. Before the restored copy is put in place it is
// rolled forward from the peers: each is asked, with the node's own
// certificate, what it holds of the cases it shares with this region; the
// case ids and certificate serials they have seen are never handed out
// again, and a transfer a destination completed is closed here with the
// balance gone. A peer that does not answer does not stop the restore: the
// report names it and the reconciliation to run later. It prints what it
// did and what the operator must decide.
func Restore(ctx context.Context, o RestoreOptions, w io.Writer) error {
	cfg, err := LoadConfig(o.ConfigFile)
	if err != nil {
		return err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	sum, err := VerifyBackup(o.From, nil)
	if err != nil {
		return fmt.Errorf("the backup %s does not verify, nothing restored: %w", o.From, err)
	}
	so := store.RestoreOptions{
		Dir: cfg.DataDir, Region: cfg.Region, ConfigFile: o.ConfigFile, Counters: counters{},
		From: o.From, WithoutSidecar: o.WithoutSidecar, Logger: o.Logger, Now: o.Now,
	}
	if !o.WithoutPeers {
		so.RollForward = rollForwardFunc(cfg, o.Logger, o.Now, o.PeerWait)
	}
	r, err := store.Restore(ctx, so)
	if err != nil {
		return err
	}
	r.Write(w)
	fmt.Fprintf(w, "  the backup held: %d people (%d periods), %d cases, %d certificates, %d pending messages, %d dead letters\n",
		sum.Enrolments, sum.Periods, sum.Cases, sum.Certificates, sum.Pending, sum.Dead)
	fmt.Fprintf(w, "start the node again: jiexu node serve --config %s\n", o.ConfigFile)
	return nil
}
