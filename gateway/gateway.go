package gateway

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// Config configures a Gateway. NewConfig fills the defaults.
type Config struct {
	// Region is this node's pooling region; it must match the certificate.
	Region string
	// DB is the node's store; the gateway's buckets live beside the node's.
	DB *bolt.DB
	// KeyPair is the node's certificate and key (reloadable).
	KeyPair *certs.KeyPair
	// CA is the national root certificate.
	CA *x509.Certificate
	// Table is the division table used for routing.
	Table *registry.Table
	// RegistryAddress is host:port of the registry service; empty to rely on
	// snapshots installed by other means (InstallSnapshot).
	RegistryAddress string
	// RegistryRefresh is how often the snapshot is refreshed.
	RegistryRefresh time.Duration
	// RetryMin and RetryMax bound the exponential backoff between attempts.
	RetryMin, RetryMax time.Duration
	// DeadAfter is how long a message may keep failing before it becomes a dead letter.
	DeadAfter time.Duration
	// Window is how many messages to one peer are in flight at once.
	Window int
	// CallTimeout bounds one delivery attempt.
	CallTimeout time.Duration
	// AuditCheckpointEvery seals a checkpoint of the audit chain every so
	// many entries; AuditCheckpointInterval seals one at least that often
	// while entries come.
	AuditCheckpointEvery    int
	AuditCheckpointInterval time.Duration
	// KeepaliveTime is how long a connection to a peer or the registry may
	// be silent before the client pings it, and KeepaliveTimeout how long it
	// waits for the answer before it closes the connection: a link that
	// swallows packets without a reset is noticed within their sum. gRPC
	// raises a KeepaliveTime below 10s to 10s. Servers must permit it
	// (see KeepaliveEnforcement).
	KeepaliveTime, KeepaliveTimeout time.Duration
	// StallAfter is how many attempts in a row may end in DeadlineExceeded,
	// with no success between them, before the connection to that peer is
	// replaced; 0 never replaces it.
	StallAfter int
	// RefusalGrace is how long a message the peer refuses with a code that
	// may clear by itself (PermissionDenied, Unauthenticated, NotFound) is
	// retried before it becomes a dead letter; see the delivery policy.
	RefusalGrace time.Duration
	// Reserve, when set, is called in the transaction that allocates an
	// outbox sequence number, with the counter's name and the new value, so
	// that the store's keeper can reserve it outside the store first (the
	// node's store sidecar). An error aborts the transaction.
	Reserve func(tx *bolt.Tx, name string, value uint64) error
	// BatchSeals seals the messages a group transaction enqueues with one
	// signature over their Merkle root, each carrying its inclusion proof
	// (certs.SealBatch), instead of one signature each. Every peer must run
	// a version that accepts batch seals.
	BatchSeals bool
	// DialOptions are added to every peer and registry connection (client
	// metrics).
	DialOptions []grpc.DialOption
	Logger      *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// NewConfig returns a Config with defaults.
func NewConfig() Config {
	return Config{
		RegistryRefresh:  time.Minute,
		RetryMin:         200 * time.Millisecond,
		RetryMax:         time.Minute,
		DeadAfter:        72 * time.Hour,
		Window:           32,
		CallTimeout:      10 * time.Second,
		KeepaliveTime:    15 * time.Second,
		KeepaliveTimeout: 5 * time.Second,
		StallAfter:       3,
		RefusalGrace:     time.Hour,
		Now:              time.Now,

		AuditCheckpointEvery:    100,
		AuditCheckpointInterval: time.Minute,
	}
}

// Validate names the first bad field.
func (c *Config) Validate() error {
	switch {
	case registry.CheckCodeSyntax(c.Region) != nil:
		return fmt.Errorf("region: %q is not a 6-digit region code", c.Region)
	case c.DB == nil:
		return errors.New("db: a bbolt store is required")
	case c.KeyPair == nil:
		return errors.New("keypair: the node certificate is required")
	case c.CA == nil:
		return errors.New("ca: the CA certificate is required")
	case c.Table == nil:
		return errors.New("table: the division table is required")
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return fmt.Errorf("retry: need 0 < retry_min (%s) <= retry_max (%s)", c.RetryMin, c.RetryMax)
	case c.DeadAfter <= 0:
		return errors.New("dead_after: must be positive")
	case c.Window < 1:
		return errors.New("window: must be at least 1")
	case c.RegistryRefresh <= 0:
		return errors.New("registry_refresh: must be positive")
	case c.AuditCheckpointEvery < 0 || c.AuditCheckpointInterval <= 0:
		return errors.New("audit checkpoints: every must be at least 0 and the interval positive")
	case c.CallTimeout <= 0:
		return errors.New("call_timeout: must be positive")
	case c.KeepaliveTime <= 0 || c.KeepaliveTimeout <= 0:
		return errors.New("keepalive: time and timeout must be positive")
	case c.StallAfter < 0:
		return errors.New("stall_after: must not be negative")
	case c.RefusalGrace < 0:
		return errors.New("refusal_grace: must not be negative")
	}
	if r, err := certs.RegionOf(c.KeyPair.Leaf()); err != nil || r != c.Region {
		return fmt.Errorf("region: the node certificate is for region %q, config says %q", r, c.Region)
	}
	return nil
}

// ClientKeepalive is the keepalive a gateway's client connections use.
func (c *Config) ClientKeepalive() keepalive.ClientParameters {
	return keepalive.ClientParameters{Time: c.KeepaliveTime, Timeout: c.KeepaliveTimeout, PermitWithoutStream: true}
}

// ServerOptions are the keepalive options every jiexu gRPC server takes
// (registry.ServerKeepaliveOptions, which the registry's server uses too):
// clients may ping as often as every 5s, also with no call in progress (the
// gateway's clients ping after KeepaliveTime of silence, and gRPC never
// more often than every 10s); a connection idle for 15 minutes is closed,
// and a silent one pinged after 30s and closed when the ping goes
// unanswered for 10s, so that a half-open connection does not hold a
// server's resources for ever.
func ServerOptions() []grpc.ServerOption { return registry.ServerKeepaliveOptions() }

// maxPeerAnswer bounds a peer's answer to one call: its message, and its
// headers and trailers (the status text and details).
const maxPeerAnswer = 256 << 10

// peerConn is the pooled connection to a peer and the address it dials.
type peerConn struct {
	address string
	conn    *grpc.ClientConn
}

// AckFunc is called in the transaction that records a delivery, so that the
// business side can advance a case exactly when its message is acknowledged.
type AckFunc func(tx *bolt.Tx, msg *jiexuv1.OutboxMessage) error

// Gateway is a node's transport.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	dir     *Directory
	metrics *Metrics
	onAck   AckFunc
	commit  *Committer

	batchMu sync.Mutex // guards batch
	batch   *outBatch  // the messages of the group transaction running now (BatchSeals)

	// Lock order: refreshMu is taken without mu held, and mu is never held
	// while refreshing.
	mu          sync.Mutex // guards dispatchers, conns, ctx, rc
	dispatchers map[string]*dispatcher
	conns       map[string]peerConn
	ctx         context.Context
	rc          *registryClient
	wg          sync.WaitGroup

	refreshMu  sync.Mutex // serializes RefreshNow; guards lastForced
	lastForced time.Time
}

// New creates the gateway's buckets and restores the stored snapshot.
func New(cfg Config) (*Gateway, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.DB.Update(CreateBuckets); err != nil {
		return nil, err
	}
	g := &Gateway{
		cfg:         cfg,
		log:         log,
		dir:         newDirectory(cfg.CA, cfg.Table, cfg.DB, cfg.Now),
		dispatchers: map[string]*dispatcher{},
		conns:       map[string]peerConn{},
		commit:      NewCommitter(cfg.DB),
	}
	g.metrics = newMetrics(g)
	if err := g.dir.loadStored(); err != nil {
		log.Warn("stored registry snapshot unusable; waiting for the registry", "err", err)
	}
	return g, nil
}

// OnAck sets the function called when a message is acknowledged. Call it
// before Start.
func (g *Gateway) OnAck(fn AckFunc) { g.onAck = fn }

// Directory returns the registry view.
func (g *Gateway) Directory() *Directory { return g.dir }

// Metrics returns the gateway's Prometheus collectors.
func (g *Gateway) Metrics() *Metrics { return g.metrics }

// Update runs fn in a read-write transaction on the store, group-committed
// with the gateway's own (the inbox, acknowledgements) and every other
// caller's: fn may run more than once and must be idempotent (see
// Committer). It returns once the transaction is durable.
func (g *Gateway) Update(fn func(*bolt.Tx) error) error { return g.commit.Update(fn) }

// Signer returns a signer for the node's current certificate.
func (g *Gateway) Signer() *certs.Signer { return g.cfg.KeyPair.Signer() }

// Start runs the registry refresher and a dispatcher for every peer with
// pending messages, until ctx ends. Wait returns after they stop.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	g.ctx = ctx
	g.mu.Unlock()
	if g.cfg.RegistryAddress != "" {
		rc, err := newRegistryClient(g.dir, &g.cfg, g.log)
		if err != nil {
			return err
		}
		g.mu.Lock()
		g.rc = rc
		g.mu.Unlock()
		if g.dir.Version() == 0 {
			// A node that has just joined holds no snapshot: fetch one before
			// serving, so that its first health check and its first calls
			// already route (bounded: a registry that is down does not hold
			// up the start for long, and run keeps trying).
			first, cancel := context.WithTimeout(ctx, 5*time.Second)
			g.dir.setLastError(rc.refresh(first))
			cancel()
		}
		g.wg.Add(1)
		go func() { defer g.wg.Done(); rc.run(ctx, g.cfg.RegistryRefresh) }()
	}
	g.wg.Add(1)
	go func() { defer g.wg.Done(); g.Audit().run(ctx.Done(), g.cfg.AuditCheckpointInterval) }()
	var peers []string
	if err := g.cfg.DB.View(func(tx *bolt.Tx) error {
		peers = OutboxPeers(tx)
		return nil
	}); err != nil {
		return err
	}
	for _, p := range peers {
		g.wake(p)
	}
	return nil
}

// forcedRefreshSpacing is the least time between two refreshes RefreshNow
// makes, so that a stream of calls from an unknown region cannot turn into
// a stream of requests to the registry.
const forcedRefreshSpacing = 10 * time.Second

// RefreshNow asks the registry for a newer snapshot at once (at most once
// per forcedRefreshSpacing; concurrent callers share one request) and reports
// whether the snapshot changed since the call began. A node that has just
// joined is not yet in the snapshot its peers hold; the first call from it
// makes them look, instead of refusing it for up to registry_refresh.
func (g *Gateway) RefreshNow(ctx context.Context) bool {
	g.mu.Lock()
	rc := g.rc
	g.mu.Unlock()
	if rc == nil {
		return false
	}
	before := g.dir.Version()
	g.refreshMu.Lock()
	defer g.refreshMu.Unlock()
	if g.dir.Version() != before {
		return true // another caller's refresh brought a newer one
	}
	if time.Since(g.lastForced) < forcedRefreshSpacing {
		return false
	}
	g.lastForced = time.Now()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := rc.refresh(ctx)
	g.dir.setLastError(err)
	if err != nil {
		g.log.Debug("registry refresh for an unknown caller failed", "err", err)
		return false
	}
	return g.dir.Version() != before
}

// Route finds the node that serves a division code for a new case. When
// the current snapshot has no node for it, or routes it to this node itself,
// the snapshot may predate a node that has just joined: Route then
// refreshes it (RefreshNow) and tries once more.
func (g *Gateway) Route(ctx context.Context, code string) (registry.Route, error) {
	route := func() (registry.Route, error) {
		router, err := g.dir.Router()
		if err != nil {
			return registry.Route{}, err
		}
		return router.Route(code)
	}
	r, err := route()
	if (errors.Is(err, registry.ErrUnserved) || (err == nil && r.Node.GetRegion() == g.cfg.Region)) && g.RefreshNow(ctx) {
		return route()
	}
	return r, err
}

// Wait blocks until the goroutines started by Start have returned, and closes
// peer connections.
func (g *Gateway) Wait() {
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		c.conn.Close()
	}
	g.conns = map[string]peerConn{}
}

// OutboxCounter is the name under which the outbox sequence is reserved
// (Config.Reserve) and reported by Counters.
const OutboxCounter = "gateway/outbox"

// OutboxSequence returns the last outbox sequence number allocated in tx's store.
func OutboxSequence(tx *bolt.Tx) uint64 {
	if b := tx.Bucket(bucketMeta); b != nil {
		return b.Sequence()
	}
	return 0
}

// RaiseOutboxSequence makes the next outbox sequence number allocated in
// tx's store greater than v (a restore's jump past every number used
// before); it never lowers it.
func RaiseOutboxSequence(tx *bolt.Tx, v uint64) error {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return fmt.Errorf("bucket %s missing", bucketMeta)
	}
	if v <= b.Sequence() {
		return nil
	}
	return b.SetSequence(v)
}

// NewMessageID returns a random message id.
func NewMessageID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// Enqueue stamps msg's header (a new message id, sender, receiver, case id,
// time), seals it and stores it for delivery to peer, inside tx. The
// dispatcher is woken when tx commits.
//
// With Config.BatchSeals, in a group transaction (Update), the messages of
// the whole group are sealed together with one signature (certs.SealBatch)
// and stored after the group's functions, before the commit: msg's seal is
// set then, not when Enqueue returns. Anywhere else each is sealed alone.
func (g *Gateway) Enqueue(tx *bolt.Tx, peer, method, caseID string, msg Message) error {
	if registry.CheckCodeSyntax(peer) != nil {
		return fmt.Errorf("enqueue: peer %q is not a region code", peer)
	}
	if _, err := methodResponse(method); err != nil {
		return err
	}
	now := g.cfg.Now()
	h := &jiexuv1.MessageHeader{
		MessageId:      NewMessageID(),
		SenderRegion:   g.cfg.Region,
		ReceiverRegion: peer,
		CaseId:         caseID,
		CreatedAt:      timestamppb.New(now),
	}
	if err := setMessageField(msg, "header", h); err != nil {
		return err
	}
	seq, err := tx.Bucket(bucketMeta).NextSequence()
	if err != nil {
		return err
	}
	if g.cfg.Reserve != nil {
		if err := g.cfg.Reserve(tx, OutboxCounter, seq); err != nil {
			return fmt.Errorf("reserve outbox sequence %d: %w", seq, err)
		}
	}
	o := &outgoing{peer: peer, method: method, caseID: caseID, msg: msg, seq: seq}
	if g.cfg.BatchSeals {
		if b := g.sealBatch(tx); b != nil {
			b.msgs = append(b.msgs, o)
			return nil
		}
	}
	if err := SealMessage(g.Signer(), msg); err != nil {
		return err
	}
	return g.store(tx, o)
}

// outgoing is a message Enqueue stamped, waiting to be stored.
type outgoing struct {
	peer, method, caseID string
	msg                  Message
	seq                  uint64
}

// outBatch is the messages a group transaction enqueued, sealed together
// at its end.
type outBatch struct {
	tx   *bolt.Tx
	msgs []*outgoing
}

// maxSealBatch bounds the messages under one signature, and so a proof to
// 8 hashes.
const maxSealBatch = 256

// sealBatch returns tx's batch of messages, arranging for it to be sealed
// and stored at the end of the group; nil when tx is not a group
// transaction. Only one write transaction runs at a time, so one batch is
// open at a time; batchMu makes that plain to the race detector.
func (g *Gateway) sealBatch(tx *bolt.Tx) *outBatch {
	g.batchMu.Lock()
	defer g.batchMu.Unlock()
	if g.batch != nil && g.batch.tx == tx {
		return g.batch
	}
	b := &outBatch{tx: tx}
	if !g.commit.AtEnd(tx, func(tx *bolt.Tx) error { return g.flushBatch(tx, b) }) {
		return nil
	}
	g.batch = b
	return b
}

// flushBatch seals a group's messages, maxSealBatch under a signature, and
// stores them in the order they were enqueued.
func (g *Gateway) flushBatch(tx *bolt.Tx, b *outBatch) error {
	g.batchMu.Lock()
	if g.batch == b {
		g.batch = nil
	}
	g.batchMu.Unlock()
	signer := g.Signer()
	for chunk := range slices.Chunk(b.msgs, maxSealBatch) {
		contents := make([][]byte, len(chunk))
		for i, o := range chunk {
			c, err := sealedBytes(o.msg)
			if err != nil {
				return err
			}
			contents[i] = c
		}
		seals, err := signer.SealBatch(certs.DomainMessage, contents)
		if err != nil {
			return err
		}
		for i, o := range chunk {
			if err := setMessageField(o.msg, "seal", seals[i]); err != nil {
				return err
			}
			if err := g.store(tx, o); err != nil {
				return err
			}
		}
	}
	return nil
}

// store puts a sealed message in the outbox and the audit chain, and wakes
// the peer's dispatcher when tx commits.
func (g *Gateway) store(tx *bolt.Tx, o *outgoing) error {
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(o.msg)
	if err != nil {
		return err
	}
	h := o.msg.GetHeader()
	entry := &jiexuv1.OutboxMessage{
		Sequence:      o.seq,
		MessageId:     h.GetMessageId(),
		PeerRegion:    o.peer,
		Method:        o.method,
		CaseId:        o.caseID,
		Payload:       payload,
		CreatedAt:     h.GetCreatedAt(),
		NextAttemptAt: h.GetCreatedAt(),
	}
	data, err := proto.Marshal(entry)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketOutbox).Put(outboxKey(o.peer, o.seq), data); err != nil {
		return err
	}
	if err := g.Audit().Append(tx, &jiexuv1.AuditEntry{Kind: jiexuv1.AuditKind_AUDIT_KIND_MESSAGE_OUT, CaseId: o.caseID, PeerRegion: o.peer,
		Method: o.method, MessageId: h.GetMessageId(), Message: payload, At: h.GetCreatedAt()}); err != nil {
		return err
	}
	peer := o.peer
	tx.OnCommit(func() { g.wake(peer) })
	return nil
}

// methodResponse finds the response type of a full method name
// (/package.Service/Method) in the registered descriptors.
func methodResponse(method string) (protoreflect.MessageType, error) {
	parts := strings.Split(strings.TrimPrefix(method, "/"), "/")
	if len(parts) != 2 {
		return nil, fmt.Errorf("method %q: want /package.Service/Method", method)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(parts[0]))
	if err != nil {
		return nil, fmt.Errorf("method %q: %w", method, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("method %q: %s is not a service", method, parts[0])
	}
	md := sd.Methods().ByName(protoreflect.Name(parts[1]))
	if md == nil {
		return nil, fmt.Errorf("method %q: no such method", method)
	}
	return protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
}

// conn returns the pooled client connection to a peer region (or a former
// region of a peer), resolving its address from the current snapshot.
func (g *Gateway) conn(peer string) (*grpc.ClientConn, error) {
	router, err := g.dir.Router()
	if err != nil {
		return nil, err
	}
	// A former region reaches the node registered under its new code, which
	// presents a certificate for that code: connections are per node.
	node, err := router.Node(peer)
	if err != nil {
		return nil, err
	}
	region := node.GetRegion()
	g.mu.Lock()
	defer g.mu.Unlock()
	if pc, ok := g.conns[region]; ok {
		if pc.address == node.GetAddress() {
			return pc.conn, nil
		}
		pc.conn.Close() // the registry moved the peer
	}
	creds := credentials.NewTLS(certs.ClientTLS(g.cfg.KeyPair, g.dir.current.Load().roots, region))
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds), grpc.WithKeepaliveParams(g.cfg.ClientKeepalive()),
		// A peer's answer is a receipt or a certificate, a few KiB, and its
		// status text and details are bounded likewise: without these, each
		// of a batch's calls could hold 4 MiB of answer and 16 MiB of
		// trailers in memory.
		grpc.WithMaxHeaderListSize(maxPeerAnswer), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxPeerAnswer))}
	c, err := grpc.NewClient(node.GetAddress(), append(opts, g.cfg.DialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("peer %s at %s: %w", peer, node.GetAddress(), err)
	}
	g.conns[region] = peerConn{address: node.GetAddress(), conn: c}
	return c, nil
}

// replaceConn closes the pooled connection to peer's node if it is still c
// (any connection to it when c is nil), so that the next call dials afresh.
// Calls in flight on it end with Canceled.
func (g *Gateway) replaceConn(peer string, c *grpc.ClientConn, why string) {
	region := peer
	if router, err := g.dir.Router(); err == nil {
		if node, err := router.Node(peer); err == nil {
			region = node.GetRegion() // connections are per node; peer may be a former region
		}
	}
	g.mu.Lock()
	pc, ok := g.conns[region]
	if ok && (c == nil || pc.conn == c) {
		delete(g.conns, region)
	} else {
		ok = false
	}
	g.mu.Unlock()
	if !ok {
		return
	}
	pc.conn.Close()
	g.metrics.replaced.WithLabelValues(peer).Inc()
	g.log.Warn("connection to peer replaced", "peer", peer, "address", pc.address, "why", why)
}

// Invoke makes a direct (not queued) call to a peer, such as a certificate
// look-up.
func (g *Gateway) Invoke(ctx context.Context, peer, method string, req, resp proto.Message) error {
	c, err := g.conn(peer)
	if err != nil {
		return err
	}
	return boundPeerError(c.Invoke(ctx, method, req, resp))
}

// backoff returns the delay before attempt n (1-based): exponential from
// RetryMin, capped at RetryMax, with full jitter over its upper half.
func (g *Gateway) backoff(attempts uint32) time.Duration {
	d := g.cfg.RetryMin
	for i := uint32(1); i < attempts && d < g.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, g.cfg.RetryMax)
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	j, err := rand.Int(rand.Reader, big.NewInt(half))
	if err != nil {
		return d
	}
	return time.Duration(half + j.Int64())
}
