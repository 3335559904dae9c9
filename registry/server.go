package registry

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/proto/limits"
)

// Service serves the latest signed snapshot from a registry folder. It
// re-reads snapshot.pb when the file changes, so 'jiexu registry sign'
// publishes without a restart.
type Service struct {
	jiexuv1.UnimplementedRegistryServiceServer

	path string
	ca   *x509.Certificate

	mu      sync.Mutex // guards the fields below
	modTime time.Time
	current *jiexuv1.SignedSnapshot
	snap    *jiexuv1.Snapshot
	revoked *certs.Revoked
}

// NewService serves dir's snapshot.pb; ca checks the revocation list it
// carries, by which the service refuses revoked callers.
func NewService(dir string, ca *x509.Certificate) *Service {
	return &Service{path: filepath.Join(dir, SnapshotFile), ca: ca}
}

func (s *Service) load() (*jiexuv1.SignedSnapshot, *jiexuv1.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		return nil, nil, err
	}
	if s.current == nil || !fi.ModTime().Equal(s.modTime) {
		signed, err := LoadSigned(s.path)
		if err != nil {
			return nil, nil, err
		}
		snap := &jiexuv1.Snapshot{}
		if err := proto.Unmarshal(signed.GetSnapshot(), snap); err != nil {
			return nil, nil, err
		}
		revoked, err := certs.ParseRevoked(snap.GetRevocationList(), s.ca)
		if err != nil {
			return nil, nil, fmt.Errorf("snapshot's revocation list: %w", err)
		}
		s.current, s.snap, s.revoked, s.modTime = signed, snap, revoked, fi.ModTime()
	}
	return s.current, s.snap, nil
}

// checkCaller refuses a caller whose certificate the served snapshot's
// revocation list revokes, whatever it calls (health and reflection too).
func (s *Service) checkCaller(ctx context.Context) error {
	cert, err := certs.PeerCertificate(ctx)
	if err != nil {
		return status.Error(codes.Unauthenticated, err.Error())
	}
	if _, _, err := s.load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return status.Errorf(codes.Internal, "read snapshot: %v", err)
	}
	s.mu.Lock()
	revoked := s.revoked
	s.mu.Unlock()
	if revoked.Contains(cert) {
		return status.Errorf(codes.Unauthenticated, "%v: serial %s", certs.ErrRevoked, cert.SerialNumber)
	}
	return nil
}

// unary and stream refuse revoked callers before anything else.
func (s *Service) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.checkCaller(ctx); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (s *Service) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := s.checkCaller(ss.Context()); err != nil {
		return err
	}
	return handler(srv, ss)
}

// GetSnapshot returns the snapshot when it is newer than the caller's: a
// later registry epoch, or a later version in the same epoch. A caller ahead
// of the registry in an older epoch (a stolen key's huge version) still gets
// the snapshot of the newer epoch.
func (s *Service) GetSnapshot(_ context.Context, req *jiexuv1.GetSnapshotRequest) (*jiexuv1.GetSnapshotResponse, error) {
	signed, snap, err := s.load()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, status.Error(codes.Unavailable, "registry has no signed snapshot yet (run 'jiexu registry sign')")
		}
		return nil, status.Errorf(codes.Internal, "read snapshot: %v", err)
	}
	epoch, version := snap.GetRegistryEpoch(), snap.GetVersion()
	resp := &jiexuv1.GetSnapshotResponse{Version: version, Epoch: epoch}
	if req.GetKnownEpoch() < epoch || (req.GetKnownEpoch() == epoch && req.GetKnownVersion() < version) {
		resp.Snapshot = signed
	}
	return resp, nil
}

// ServerKeepaliveOptions are the keepalive options of every jiexu gRPC
// server, the registry's and the nodes': clients may ping every 5s or less
// often, also while no call is in progress; an idle connection is closed
// after 15 minutes; a silent one is pinged after 30s and closed when the
// ping goes unanswered for 10s; a new connection has
// limits.HandshakeTimeout (10s) for its TLS and HTTP/2 handshake.
func ServerKeepaliveOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 15 * time.Minute, Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.ConnectionTimeout(limits.HandshakeTimeout),
	}
}

// ServeConfig configures 'jiexu registry serve'.
type ServeConfig struct {
	Dir      string // registry folder holding snapshot.pb
	Listen   string // host:port
	CertFile string // the registry's certificate, key and the CA
	KeyFile  string
	CAFile   string
	Logger   *slog.Logger
	// Listener, if set, is used instead of binding Listen.
	Listener net.Listener
	// Ready, if set, receives the bound address once listening.
	Ready func(addr net.Addr)
	// Rate and Burst are each caller's calls a second; Concurrency its calls
	// in flight; MaxConnections the open connections. Zero takes the
	// defaults (5/s, 20, 4, 4096: about 400 nodes ask once a minute).
	Rate           float64
	Burst          int
	Concurrency    int
	MaxConnections int
}

// Registry listener bounds: a snapshot request is a few bytes (health and
// reflection requests a little more).
const (
	maxRegistryRequest = 64 << 10
	maxRegistryStreams = 16
	// maxRegistryConnsPerCaller: a node keeps one connection to the
	// registry; the rest is room for a restart, the CLI and probes.
	maxRegistryConnsPerCaller = 8
)

func (c *ServeConfig) defaults() {
	if c.Rate <= 0 {
		c.Rate = 5
	}
	if c.Burst <= 0 {
		c.Burst = 20
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 4096
	}
}

// callerKey names a registry caller by its verified certificate.
func callerKey(ctx context.Context) string {
	cert, err := certs.PeerCertificate(ctx)
	if err != nil {
		return ""
	}
	return certs.Fingerprint(cert)
}

// Validate names the first bad field.
func (c *ServeConfig) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("dir: the registry folder is required")
	case c.Listen == "" && c.Listener == nil:
		return errors.New("listen: an address host:port is required")
	case c.CertFile == "" || c.KeyFile == "" || c.CAFile == "":
		return errors.New("cert, key, ca: the registry's certificate files are required")
	}
	return nil
}

// Serve runs the registry service over mutual TLS until ctx ends.
func Serve(ctx context.Context, cfg ServeConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	kp, err := certs.LoadKeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return err
	}
	roots, err := certs.LoadPool(cfg.CAFile)
	if err != nil {
		return err
	}
	lis := cfg.Listener
	if lis == nil {
		if lis, err = net.Listen("tcp", cfg.Listen); err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("--listen: %w\n  what to do: another process listens there (a registry already serving? 'ss -ltnp' names it): stop it, or choose another port", err)
			}
			return fmt.Errorf("--listen: %w", err)
		}
	}
	ca, err := certs.LoadCertificate(cfg.CAFile)
	if err != nil {
		return err
	}
	cfg.defaults()
	svc := NewService(cfg.Dir, ca)
	lim := limits.NewLimiter(limits.Config{Rate: limits.Rate{PerSecond: cfg.Rate, Burst: cfg.Burst}, Concurrency: cfg.Concurrency, Key: callerKey})
	// A slowloris cannot fill the connection cap, nor can one caller.
	guard := limits.NewConnGuard(cfg.MaxConnections, maxRegistryConnsPerCaller)
	srv := grpc.NewServer(append(append(limits.ServerOptions(maxRegistryRequest, maxRegistryStreams), ServerKeepaliveOptions()...),
		grpc.Creds(guard.Credentials(credentials.NewTLS(certs.ServerTLS(kp, roots)))),
		grpc.ChainUnaryInterceptor(svc.unary, lim.Unary(), limits.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(svc.stream, lim.Stream(), limits.StreamServerInterceptor()),
	)...)
	jiexuv1.RegisterRegistryServiceServer(srv, svc)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	lis = guard.Listener(lis)
	log.Info("registry serving", "addr", lis.Addr().String(), "dir", cfg.Dir)
	if cfg.Ready != nil {
		cfg.Ready(lis.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case <-ctx.Done():
		hs.Shutdown()
		srv.GracefulStop()
		return nil
	case err := <-errc:
		return err
	}
}
