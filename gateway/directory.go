package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// view is one verified snapshot and the router built from it.
type view struct {
	verified *registry.Verified
	router   *registry.Router
	roots    *x509.CertPool
	// chains remembers the fingerprints of signer certificates whose chain
	// to roots has verified (see verifyMessage).
	chains sync.Map
}

// Directory holds the node's current registry snapshot. It is verified
// before use, persisted in the store, and replaced only by a newer one.
type Directory struct {
	ca      *x509.Certificate
	table   *registry.Table
	db      *bolt.DB
	now     func() time.Time
	current atomic.Pointer[view]
	fetched atomic.Int64 // unix seconds of the last successful refresh
	lastErr atomic.Pointer[string]
	// installMu makes verify-against-held and replace one step, so that two
	// installs never both pass against the same held snapshot.
	installMu sync.Mutex
}

func newDirectory(ca *x509.Certificate, table *registry.Table, db *bolt.DB, now func() time.Time) *Directory {
	return &Directory{ca: ca, table: table, db: db, now: now}
}

// loadStored restores the snapshot kept in the store. A stored snapshot is
// trusted even when expired, so that the node keeps routing while the
// registry is down; Expired reports that condition for health checks.
func (d *Directory) loadStored() error {
	var data []byte
	if err := d.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySnapshot); v != nil {
			data = append([]byte(nil), v...)
		}
		return nil
	}); err != nil {
		return err
	}
	if data == nil {
		return nil
	}
	signed := &jiexuv1.SignedSnapshot{}
	if err := proto.Unmarshal(data, signed); err != nil {
		return fmt.Errorf("stored snapshot: %w", err)
	}
	var snap jiexuv1.Snapshot
	if err := proto.Unmarshal(signed.GetSnapshot(), &snap); err != nil {
		return fmt.Errorf("stored snapshot: %w", err)
	}
	// Verify as of its issue time: the signature and chain must still hold.
	_, err := d.install(signed, snap.GetIssuedAt().AsTime().Add(time.Second), false)
	return err
}

// Install verifies a signed snapshot against the CA and against what the
// node holds (registry.VerifySnapshot: version, CRL number, revoked and
// pinned signers, times) and, when it is newer, makes it current and stores
// it. It reports whether it changed.
func (d *Directory) Install(signed *jiexuv1.SignedSnapshot) (bool, error) {
	return d.install(signed, d.now(), true)
}

func (d *Directory) install(signed *jiexuv1.SignedSnapshot, at time.Time, store bool) (bool, error) {
	d.installMu.Lock()
	defer d.installMu.Unlock()
	var held *registry.Verified
	if cur := d.current.Load(); cur != nil {
		held = cur.verified
	}
	v, err := registry.VerifySnapshot(signed, d.ca, held, at)
	if err != nil {
		return false, err
	}
	if held != nil && v.Epoch() == held.Epoch() && v.Version() == held.Version() {
		return false, nil // the same snapshot (VerifySnapshot refuses other content)
	}
	table, err := d.tableFor(v.Snapshot.GetDivisions())
	if err != nil {
		return false, fmt.Errorf("snapshot %d: %w", v.Snapshot.GetVersion(), err)
	}
	router, err := registry.SnapshotRouter(table, v.Snapshot, registry.AllowUnknownCodes())
	if err != nil {
		return false, fmt.Errorf("snapshot %d: %w", v.Snapshot.GetVersion(), err)
	}
	if store {
		data, err := proto.Marshal(v.Signed)
		if err != nil {
			return false, err
		}
		if err := d.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySnapshot, data) }); err != nil {
			return false, err
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(d.ca)
	d.current.Store(&view{verified: v, router: router, roots: roots})
	return true, nil
}

// tableFor returns the division table a snapshot carries, so that every
// node routes by the registry's table; a snapshot of an older registry
// carries none and the node's own table is used. Tables already held are
// not parsed again.
func (d *Directory) tableFor(p *jiexuv1.DivisionTable) (*registry.Table, error) {
	switch {
	case p == nil:
		return d.table, nil
	case d.table.SameTable(p):
		return d.table, nil
	}
	if cur := d.current.Load(); cur != nil && cur.router.Table().SameTable(p) {
		return cur.router.Table(), nil
	}
	return registry.TableFromProto(p)
}

// Table returns the division table the node routes by: the one the current
// snapshot carries, else the node's own (embedded or divisions_dir). Use it
// wherever a division code is checked or named, so that the node agrees with
// its router and with every other node.
func (d *Directory) Table() *registry.Table {
	if v := d.current.Load(); v != nil {
		return v.router.Table()
	}
	return d.table
}

// Canonical returns the region a node is registered under now when region
// is one of its former regions (former_regions in the registry), and region
// unchanged otherwise. A node compares a case's peer with a message's sender
// by their canonical forms: a region whose code changed keeps its cases and
// queued messages under the old code.
func (d *Directory) Canonical(region string) string {
	if v := d.current.Load(); v != nil {
		return v.router.Canonical(region)
	}
	return region
}

// SameRegion reports whether two region codes name the same node: equal, or
// one a former region of the other's node.
func (d *Directory) SameRegion(a, b string) bool {
	return a == b || d.Canonical(a) == d.Canonical(b)
}

func (d *Directory) view() (*view, error) {
	v := d.current.Load()
	if v == nil {
		return nil, ErrNoSnapshot
	}
	return v, nil
}

// Router returns the current router.
func (d *Directory) Router() (*registry.Router, error) {
	v, err := d.view()
	if err != nil {
		return nil, err
	}
	return v.router, nil
}

// Snapshot returns the current snapshot, or nil.
func (d *Directory) Snapshot() *jiexuv1.Snapshot {
	if v := d.current.Load(); v != nil {
		return v.verified.Snapshot
	}
	return nil
}

// Revoked returns the current revocation list, or nil.
func (d *Directory) Revoked() *certs.Revoked {
	if v := d.current.Load(); v != nil {
		return v.verified.Revoked
	}
	return nil
}

// Version returns the current snapshot's version, 0 when none.
func (d *Directory) Version() uint64 { return d.Snapshot().GetVersion() }

// Epoch returns the registry epoch in force: 0 until the CA announces a
// registry certificate, then the announcement's epoch.
func (d *Directory) Epoch() uint64 {
	if v := d.current.Load(); v != nil {
		return v.verified.Epoch()
	}
	return 0
}

// Expired reports whether the current snapshot is missing or past its expiry.
func (d *Directory) Expired() bool {
	s := d.Snapshot()
	return s == nil || !d.now().Before(s.GetExpiresAt().AsTime())
}

// LastFetched returns when the registry last answered, zero if never.
func (d *Directory) LastFetched() time.Time {
	if s := d.fetched.Load(); s != 0 {
		return time.Unix(s, 0)
	}
	return time.Time{}
}

// LastError returns the last failure to refresh from the registry, or ""
// once it answers again.
func (d *Directory) LastError() string {
	if p := d.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

func (d *Directory) setLastError(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	d.lastErr.Store(&msg)
}

// registryClient fetches snapshots from the registry service.
type registryClient struct {
	dir     *Directory
	address string
	conn    *grpc.ClientConn
	log     *slog.Logger
	// retry is how often to try while the registry is unreachable.
	retry time.Duration
}

// registryRetry is how often a node tries the registry while it cannot
// reach it, so that it fetches a new snapshot within a couple of seconds of
// the registry's return.
const registryRetry = 2 * time.Second

func newRegistryClient(dir *Directory, cfg *Config, log *slog.Logger) (*registryClient, error) {
	roots := x509.NewCertPool()
	roots.AddCert(dir.ca)
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(certs.ClientTLS(cfg.KeyPair, roots, certs.RegistryRole))),
		grpc.WithKeepaliveParams(cfg.ClientKeepalive()),
	}
	conn, err := grpc.NewClient(cfg.RegistryAddress, append(opts, cfg.DialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", cfg.RegistryAddress, err)
	}
	return &registryClient{dir: dir, address: cfg.RegistryAddress, conn: conn, log: log, retry: min(registryRetry, cfg.RegistryRefresh)}, nil
}

// unreachableError is a refresh whose call did not reach the registry (as
// opposed to a snapshot the registry sent and this node refused).
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// refresh asks the registry for a newer snapshot and installs it.
func (c *registryClient) refresh(ctx context.Context) error {
	// A connection in TRANSIENT_FAILURE waits out gRPC's reconnect backoff
	// (up to two minutes) before it dials again, and fails calls meanwhile;
	// this client has its own retry cadence, so dial now.
	if c.conn.GetState() == connectivity.TransientFailure {
		c.conn.ResetConnectBackoff()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := jiexuv1.NewRegistryServiceClient(c.conn).GetSnapshot(ctx, &jiexuv1.GetSnapshotRequest{KnownVersion: c.dir.Version(), KnownEpoch: c.dir.Epoch()})
	if err != nil {
		return &unreachableError{fmt.Errorf("fetch snapshot from %s: %w", c.address, err)}
	}
	c.dir.fetched.Store(c.dir.now().Unix())
	if resp.GetSnapshot() == nil {
		return nil
	}
	changed, err := c.dir.Install(resp.GetSnapshot())
	if err != nil {
		return fmt.Errorf("snapshot from %s refused: %w", c.address, err)
	}
	if changed {
		c.log.Info("registry snapshot installed", "version", c.dir.Version(), "epoch", c.dir.Epoch(), "divisions", c.dir.Table().Identity())
		if t := c.dir.Table(); t != c.dir.table {
			c.log.Info("routing by the registry's division table, not this node's own", "registry_table", t.Identity(), "own_table", c.dir.table.Identity())
		}
	}
	return nil
}

// run refreshes every interval until ctx ends. While the registry cannot be
// reached it tries every few seconds (resetting gRPC's reconnect backoff
// each time), so that a new snapshot arrives soon after the registry
// returns, and logs the outage once when it starts and once when it ends,
// not at every attempt. A snapshot the registry sends and this node
// refuses is logged when the refusal first happens or changes, and then
// once per interval.
func (c *registryClient) run(ctx context.Context, interval time.Duration) {
	defer c.conn.Close()
	var downSince, loggedAt time.Time
	var attempts int
	var lastRefusal string
	for {
		wait := interval
		err := c.refresh(ctx)
		c.dir.setLastError(err)
		var ue *unreachableError
		unreachable := errors.As(err, &ue)
		switch {
		case ctx.Err() != nil:
			return
		case !unreachable && !downSince.IsZero():
			c.log.Info("registry reachable again", "after", c.dir.now().Sub(downSince).Round(time.Second).String(),
				"attempts", attempts, "version", c.dir.Version())
			downSince, attempts = time.Time{}, 0
		}
		switch {
		case err == nil:
			lastRefusal = ""
		case unreachable:
			if downSince.IsZero() {
				downSince = c.dir.now()
				if c.dir.Version() == 0 {
					c.log.Warn("no registry snapshot yet: this node cannot route or accept calls until the registry answers; check registry_address and that the registry lists this node",
						"err", err, "retry_every", c.retry.String())
				} else {
					c.log.Warn("registry unreachable; routing from the last good snapshot until it returns", "err", err, "held_version", c.dir.Version())
				}
			}
			attempts++
			wait = c.retry
		default: // answered, but the snapshot was refused
			if msg := err.Error(); msg != lastRefusal || time.Since(loggedAt) >= interval {
				c.log.Error("registry snapshot refused; routing from the last good snapshot", "err", err, "held_version", c.dir.Version())
				lastRefusal, loggedAt = msg, time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
