package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"jiexu/certs"
	"jiexu/gateway"
	"jiexu/node/rules"
	"jiexu/node/store"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/proto/limits"
	"jiexu/registry"
)

// MaxAgencyMessage bounds a message on the local agency API: large enough
// to import a few hundred thousand records in one transaction.
const MaxAgencyMessage = 256 << 20

// maxAgencyConns caps the connections open on the agency socket, and
// maxMetricsConns on /metrics.
const (
	maxAgencyConns  = 64
	maxMetricsConns = 64
)

// DBFile is the store's file name inside data_dir.
const DBFile = store.FileName

// Node is one agency's node: its store, gateway and services.
type Node struct {
	cfg        Config
	cfgFile    string
	store      *store.Store
	db         *bolt.DB
	gw         *gateway.Gateway
	kp         *certs.KeyPair
	ca         *x509.Certificate
	table      *registry.Table
	cal        *rules.Calendar
	v          validator
	log        *slog.Logger
	metrics    *metrics
	reg        *prometheus.Registry
	srvMetrics *grpcprom.ServerMetrics
	limited    *prometheus.CounterVec
	health     *health.Server
	now        func() time.Time

	reconMetrics     *reconcileMetrics
	reconcileRecheck time.Duration

	kind    jiexuv1.AgencyKind
	contact *jiexuv1.Contact

	// peerLis and metricsLis are listeners bound by the caller (WithListeners).
	peerLis, metricsLis net.Listener
	// dialOpts are added to the gateway's peer connections (WithDialOptions).
	dialOpts []grpc.DialOption

	mu        sync.Mutex // guards addrs and unhealthy
	addrs     Addrs
	unhealthy string // the last health reason logged
	ready     chan struct{}
	closed    bool
}

// Addrs are the addresses a running node listens on.
type Addrs struct {
	Listen, Agency, AgencyTLS, Metrics string
}

// Option configures a Node.
type Option func(*Node)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(n *Node) { n.log = l } }

// WithListeners makes Run serve on listeners the caller already bound
// (either may be nil), instead of binding listen and metrics_listen itself:
// a local network binds every port before it writes the registry, so no
// other socket can take one in between.
func WithListeners(peer, metrics net.Listener) Option {
	return func(n *Node) { n.peerLis, n.metricsLis = peer, metrics }
}

// WithConfigFile names the file the config was read from, so that the
// commands the node suggests (to restore its store, say) name it.
func WithConfigFile(path string) Option { return func(n *Node) { n.cfgFile = path } }

// WithDialOptions adds gRPC dial options to the connections to peers: an
// in-process network of hundreds of nodes dials them in memory
// (grpc.WithContextDialer) rather than through a socket each.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(n *Node) { n.dialOpts = append(n.dialOpts, opts...) }
}

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(n *Node) { n.now = now } }

// New opens a node's store and gateway; Run serves it.
func New(cfg Config, opts ...Option) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, now: time.Now, ready: make(chan struct{}), kind: cfg.AgencyKind(), contact: cfg.Contact.proto(),
		reconcileRecheck: defaultRecheck}
	for _, o := range opts {
		o(n)
	}
	if n.log == nil {
		n.log = slog.Default()
	}
	n.log = slog.New(ClipLogs(n.log.Handler()))
	n.log = n.log.With("region", cfg.Region)
	n.table = registry.DefaultTable()
	if cfg.DivisionsDir != "" {
		t, err := registry.LoadTableDir(cfg.DivisionsDir)
		if err != nil {
			return nil, fmt.Errorf("divisions_dir: %w", err)
		}
		n.table = t
	}
	// The region is checked against this table here and, once the store is
	// open, against the registry's table the stored snapshot carries: a
	// node whose region's code is newer than one of them still starts.
	regionErr := n.table.CheckPlace(cfg.Region)
	n.v = validator{table: n.divisions, now: n.now, kind: n.kind}
	n.cal = rules.DefaultCalendar()
	if cfg.CalendarFile != "" {
		cal, err := LoadCalendar(cfg.CalendarFile)
		if err != nil {
			return nil, fmt.Errorf("calendar_file: %w", err)
		}
		n.cal = cal
	}
	if !n.cal.Covers(n.now()) {
		n.log.Warn("the working-day calendar has no holidays for this year; deadlines count weekends and the fixed-date holidays only, and are marked uncertain, until calendar_file is updated",
			"calendar_years", fmt.Sprint(n.cal.Years()))
	}
	var err error
	if n.kp, err = certs.LoadKeyPair(cfg.CertFile, cfg.KeyFile); err != nil {
		return nil, fmt.Errorf("cert_file/key_file: %w", err)
	}
	if err := cfg.CheckCertificate(n.kp.Leaf()); err != nil {
		return nil, err
	}
	if n.ca, err = certs.LoadCertificate(cfg.CAFile); err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	n.store, err = store.Open(store.Options{Dir: cfg.DataDir, Region: cfg.Region, ConfigFile: n.cfgFile, Counters: counters{},
		MinFree: int64(cfg.StoreMinFreeMiB) << 20, Logger: n.log, Now: n.now})
	if err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	n.db = n.store.DB
	if err := n.db.Update(createBuckets); err != nil {
		n.store.Close()
		return nil, err
	}
	gcfg := gateway.NewConfig()
	gcfg.Region, gcfg.DB, gcfg.KeyPair, gcfg.CA, gcfg.Table = cfg.Region, n.db, n.kp, n.ca, n.table
	gcfg.RegistryAddress, gcfg.RegistryRefresh = cfg.RegistryAddress, time.Duration(cfg.RegistryRefresh)
	gcfg.RetryMin, gcfg.RetryMax, gcfg.DeadAfter = time.Duration(cfg.RetryMin), time.Duration(cfg.RetryMax), time.Duration(cfg.DeadAfter)
	gcfg.CallTimeout, gcfg.RefusalGrace = time.Duration(cfg.CallTimeout), time.Duration(cfg.RefusalGrace)
	gcfg.Reserve = store.Reserve
	gcfg.BatchSeals = cfg.BatchSeals
	gcfg.Logger, gcfg.Now = n.log, n.now
	n.srvMetrics = grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	cliMetrics := grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram())
	gcfg.DialOptions = append([]grpc.DialOption{grpc.WithChainUnaryInterceptor(cliMetrics.UnaryClientInterceptor())}, n.dialOpts...)
	if n.gw, err = gateway.New(gcfg); err != nil {
		n.store.Close()
		return nil, err
	}
	if err := n.db.View(func(tx *bolt.Tx) error { _, err := inspectStore(tx, nil); return err }); err != nil {
		n.store.Close()
		path := filepath.Join(cfg.DataDir, DBFile)
		return nil, fmt.Errorf("data_dir: %w", store.Refuse(fmt.Errorf("%w: %w", store.ErrDamaged, err),
			fmt.Sprintf("the store %s has a damaged record: %v", path, err),
			fmt.Sprintf("check the disk (dmesg, smartctl), then restore the newest backup:\njiexu node restore --config %s --from BACKUP_FILE", orConfig(n.cfgFile))))
	}
	if regionErr != nil {
		if err := n.divisions().CheckPlace(cfg.Region); err != nil {
			n.store.Close()
			return nil, fmt.Errorf("region: %w", regionErr)
		}
	}
	if err := n.settleRegion(); err != nil {
		n.store.Close()
		return nil, err
	}
	n.gw.OnAck(n.onAck)
	if cfg.RegistrySnapshot != "" && n.gw.Directory().Version() == 0 {
		signed, err := registry.LoadSigned(cfg.RegistrySnapshot)
		if err == nil {
			_, err = n.gw.Directory().Install(signed)
		}
		if err != nil {
			n.log.Warn("registry_snapshot not installed", "file", cfg.RegistrySnapshot, "err", err)
		}
	}
	n.reg = prometheus.NewRegistry()
	n.metrics = newMetrics(n)
	n.metrics.initialize()
	n.limited = newLimitedCalls()
	n.reconMetrics = newReconcileMetrics()
	n.reg.MustRegister(n.reconMetrics.collectors()...)
	n.reg.MustRegister(n.metrics, n.limited, n.gw.Metrics(), n.srvMetrics, cliMetrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return n, nil
}

// divisions returns the division table in force: the one the registry's
// snapshot carries, so that the node checks and names division codes as it
// routes them and as every other node does; the node's own table (embedded,
// or divisions_dir) until a snapshot carries one.
func (n *Node) divisions() *registry.Table { return n.gw.Directory().Table() }

// same reports whether two region codes name the same node: equal, or one a
// former region of the other's node (a region whose code changed keeps its
// cases, certificates and queued messages under the old code).
func (n *Node) same(a, b string) bool { return n.gw.Directory().SameRegion(a, b) }

func orConfig(file string) string {
	if file == "" {
		return "CONFIG"
	}
	return file
}

// settleRegion accepts a store made under another region code when that is
// this node's former code, and refuses it when the registry knows the two
// codes as different nodes (data_dir pointing at another node's folder).
// With no snapshot that knows both, the change is accepted and logged.
func (n *Node) settleRegion() error {
	old := n.store.FormerRegion()
	if old == "" {
		return nil
	}
	if r, err := n.gw.Directory().Router(); err == nil {
		was, err1 := r.Node(old)
		is, err2 := r.Node(n.cfg.Region)
		if err1 == nil && err2 == nil && was.GetRegion() != is.GetRegion() {
			return fmt.Errorf("data_dir: the store in %s is region %s's, and the registry lists %s and %s as different nodes: each node has a data_dir of its own",
				n.cfg.DataDir, old, old, n.cfg.Region)
		}
	}
	return n.store.AdoptRegion()
}

// Epoch is the incarnation of the node's store: 1 when it was created,
// advanced by every 'jiexu node restore'. Whatever the node numbers can
// carry it, so that nothing numbered after a restore equals anything
// numbered before.
func (n *Node) Epoch() uint32 { return n.store.Epoch() }

// Gateway returns the node's gateway.
func (n *Node) Gateway() *gateway.Gateway { return n.gw }

// Addrs returns the bound addresses once Ready is closed.
func (n *Node) Addrs() Addrs {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addrs
}

// Ready is closed when every listener is bound.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// slogLogger adapts slog to go-grpc-middleware's logging interceptor.
func slogLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

// listenError names the config key whose address could not be bound and,
// for the usual causes, what to do.
func listenError(key string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%s: %w\n  what to do: another process listens there (a node already running with this config? 'ss -ltnp' names it): stop it, or set %q in the config to a free port", key, err, key)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%s: %w\n  what to do: the address is not one of this machine's: set %q in the config to one of them (or 0.0.0.0)", key, err, key)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%s: %w\n  what to do: a port below 1024 needs privileges the node does not have: set %q in the config to a port above 1023", key, err, key)
	}
	return fmt.Errorf("%s: %w", key, err)
}

func listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		_ = os.Remove(path) // a stale socket from a previous run
		l, err := net.Listen("unix", path)
		if err == nil {
			_ = os.Chmod(path, 0o600)
		}
		return l, err
	}
	return net.Listen("tcp", addr)
}

// Run serves the node until ctx ends: the inter-node listener (mutual TLS,
// health, reflection), the local agency listener, /metrics, the dispatchers
// and the registry refresher. SIGHUP reloads the node certificate; the
// certificate file is also watched for changes.
func (n *Node) Run(ctx context.Context) error {
	defer n.store.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall)}
	recoverOpt := recovery.WithRecoveryHandler(func(p any) error {
		n.log.Error("panic in handler", "panic", p)
		return status.Error(codes.Internal, "internal error")
	})

	// Interceptors, outermost first: metrics, logging, who the caller is
	// (and may it call), its rate and calls in flight, the size of every
	// field, recovery.
	peerLim := n.peerLimiter()
	peerGuard := n.connGuard()
	peerSrv := grpc.NewServer(append(append(limits.ServerOptions(MaxPeerMessage, uint32(n.cfg.Limits.MaxStreams)), gateway.ServerOptions()...),
		grpc.Creds(peerGuard.Credentials(credentials.NewTLS(certs.ServerTLS(n.kp, poolOf(n.ca))))),
		grpc.ChainUnaryInterceptor(
			n.srvMetrics.UnaryServerInterceptor(),
			logging.UnaryServerInterceptor(slogLogger(n.log), logOpts...),
			n.gw.UnaryServerInterceptor(),
			peerLim.Unary(),
			limits.UnaryServerInterceptor(),
			recovery.UnaryServerInterceptor(recoverOpt),
		),
		grpc.ChainStreamInterceptor(
			n.srvMetrics.StreamServerInterceptor(),
			n.gw.StreamServerInterceptor(),
			peerLim.Stream(),
			limits.StreamServerInterceptor(),
			recovery.StreamServerInterceptor(recoverOpt),
		),
	)...)
	ps := &peerServer{n: n}
	jiexuv1.RegisterTransferServiceServer(peerSrv, ps)
	jiexuv1.RegisterCertificateServiceServer(peerSrv, ps)
	jiexuv1.RegisterRemittanceServiceServer(peerSrv, ps)
	jiexuv1.RegisterReconcileServiceServer(peerSrv, &reconcileServer{n: n})
	n.health = health.NewServer()
	healthpb.RegisterHealthServer(peerSrv, n.health)
	reflection.Register(peerSrv)
	n.srvMetrics.InitializeMetrics(peerSrv)

	// The agency API: the unix socket (the node's own user, admin), and
	// optionally TCP with operator certificates; the same services, roles
	// checked and every call logged with its operator.
	// Operators over TCP have a rate and calls in flight each; the socket's
	// only caller is the node's own user (who can read the store file
	// anyway), so it has the connection cap and the sizes but no rate: a
	// bureau's own systems may call it as fast as the node answers.
	agencyLim := n.agencyLimiter()
	newAgencyServer := func(creds credentials.TransportCredentials, rated bool) *grpc.Server {
		unary := []grpc.UnaryServerInterceptor{n.srvMetrics.UnaryServerInterceptor(), n.agencyUnary()}
		stream := []grpc.StreamServerInterceptor{n.srvMetrics.StreamServerInterceptor(), n.agencyStream()}
		if rated {
			unary, stream = append(unary, agencyLim.Unary()), append(stream, agencyLim.Stream())
		}
		unary = append(unary, limits.UnaryServerInterceptor(), recovery.UnaryServerInterceptor(recoverOpt))
		stream = append(stream, limits.StreamServerInterceptor(), recovery.StreamServerInterceptor(recoverOpt))
		srv := grpc.NewServer(append(append(limits.ServerOptions(MaxAgencyMessage, uint32(n.cfg.Limits.MaxStreams)), gateway.ServerOptions()...),
			grpc.Creds(creds), grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))...)
		jiexuv1.RegisterAgencyServiceServer(srv, &agencyServer{n: n})
		jiexuv1.RegisterAuditServiceServer(srv, &auditServer{n: n})
		healthpb.RegisterHealthServer(srv, n.health)
		n.srvMetrics.InitializeMetrics(srv)
		return srv
	}
	agencySrv := newAgencyServer(unixCreds{}, false)
	var agencyTLSSrv *grpc.Server
	agencyGuard := n.connGuard()
	if n.cfg.AgencyTLSListen != "" {
		tlsCfg, err := n.operatorTLS()
		if err != nil {
			return err
		}
		agencyTLSSrv = newAgencyServer(agencyGuard.Credentials(credentials.NewTLS(tlsCfg)), true)
	}

	var lis []net.Listener
	closeAll := func() {
		for _, l := range lis {
			l.Close()
		}
	}
	peerLis := n.peerLis
	if peerLis == nil {
		var err error
		if peerLis, err = listen(n.cfg.Listen); err != nil {
			return listenError("listen", err)
		}
	}
	lis = append(lis, peerLis)
	peerLis = peerGuard.Listener(peerLis)
	agencyLis, err := listen(n.cfg.AgencyAddress())
	if err != nil {
		closeAll()
		return listenError("agency_listen", err)
	}
	lis = append(lis, agencyLis)
	agencyLis = newPeerListener(agencyLis, min(maxAgencyConns, n.cfg.Limits.MaxConnections))
	var agencyTLSLis net.Listener
	if agencyTLSSrv != nil {
		if agencyTLSLis, err = listen(n.cfg.AgencyTLSListen); err != nil {
			closeAll()
			return listenError("agency_tls_listen", err)
		}
		lis = append(lis, agencyTLSLis)
		agencyTLSLis = agencyGuard.Listener(agencyTLSLis)
		if !isLoopback(agencyTLSLis.Addr().String()) {
			n.log.Warn("the agency API is reachable from the network: only operator certificates protect it", "agency_tls_listen", agencyTLSLis.Addr().String())
		}
	}
	metricsLis := n.metricsLis
	if metricsLis == nil && n.cfg.MetricsListen != "" {
		if metricsLis, err = listen(n.cfg.MetricsListen); err != nil {
			closeAll()
			return listenError("metrics_listen", err)
		}
	}
	if metricsLis != nil {
		metricsLis = netutil.LimitListener(metricsLis, maxMetricsConns)
	}

	if err := n.gw.Start(ctx); err != nil {
		return err
	}
	if at, ok, _ := n.cfg.reconcileTime(); ok { // validated in New
		go n.reconcileDaily(ctx, at)
	}
	errc := make(chan error, 4)
	go func() { errc <- peerSrv.Serve(peerLis) }()
	go func() { errc <- agencySrv.Serve(agencyLis) }()
	if agencyTLSSrv != nil {
		go func() { errc <- agencyTLSSrv.Serve(agencyTLSLis) }()
	}
	var httpSrv *http.Server
	if metricsLis != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{Registry: n.reg}))
		if n.cfg.DebugPprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
			n.log.Warn("debug_pprof is on: the profiler is served on the metrics listener", "path", "/debug/pprof/")
		}
		httpSrv = n.metricsServer(mux)
		if !isLoopback(metricsLis.Addr().String()) {
			// Off this machine, /metrics is TLS with the node's certificate,
			// for the national Prometheus's client certificate only.
			metricsLis = tls.NewListener(metricsLis, certs.MetricsTLS(n.kp, poolOf(n.ca)))
		}
		go func() {
			if err := httpSrv.Serve(metricsLis); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	n.mu.Lock()
	n.addrs = Addrs{Listen: peerLis.Addr().String(), Agency: n.cfg.AgencyAddress()}
	if metricsLis != nil {
		n.addrs.Metrics = metricsLis.Addr().String()
	}
	if agencyTLSLis != nil {
		n.addrs.AgencyTLS = agencyTLSLis.Addr().String()
	}
	n.mu.Unlock()
	n.checkHealth()
	close(n.ready)
	n.log.Info("node serving", "listen", n.addrs.Listen, "agency", n.addrs.Agency, "agency_tls", n.addrs.AgencyTLS, "metrics", n.addrs.Metrics,
		"agency_name", n.cfg.AgencyName, "registry_version", n.gw.Directory().Version(), "version", Version)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			runErr = err
			break loop
		case <-hup:
			n.reloadCertificate(true)
		case <-tick.C:
			n.reloadCertificate(false)
			n.checkHealth()
		}
	}
	n.log.Info("node stopping")
	n.health.Shutdown()
	cancel()
	stopped := make(chan struct{})
	servers := []*grpc.Server{peerSrv, agencySrv}
	if agencyTLSSrv != nil {
		servers = append(servers, agencyTLSSrv)
	}
	go func() {
		for _, srv := range servers {
			srv.GracefulStop()
		}
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		for _, srv := range servers {
			srv.Stop()
		}
	}
	if httpSrv != nil {
		shutCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		_ = httpSrv.Shutdown(shutCtx)
		c()
	}
	n.gw.Wait()
	return runErr
}

func poolOf(ca *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca)
	return p
}

// reloadCertificate reloads the node certificate on SIGHUP (force) or when
// its file changed.
func (n *Node) reloadCertificate(force bool) {
	var err error
	changed := force
	if force {
		err = n.kp.Reload()
	} else {
		changed, err = n.kp.ReloadIfChanged()
	}
	switch {
	case err != nil:
		n.log.Error("certificate reload failed; keeping the current one", "err", err)
	case changed:
		leaf := n.kp.Leaf()
		n.log.Info("certificate reloaded", "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
	}
}

// Health returns "" when the node can do its work, else the reason it
// cannot. It writes to the store (a probe in a bucket of its own), so a
// store that cannot be written — a full disk, a read-only filesystem, an
// I/O error — is noticed; the reason is short and names no file, the
// detail goes to the log when health changes.
func (n *Node) Health() string {
	reason, _ := n.healthReason()
	return reason
}

// healthReason returns the reason and, for a store failure, its detail.
func (n *Node) healthReason() (reason, detail string) {
	if err := n.store.Probe(); err != nil {
		var pe *store.ProbeError
		if errors.As(err, &pe) {
			return "store not writable: " + pe.Reason, err.Error()
		}
		return "store not writable", err.Error()
	}
	if n.gw.Directory().Version() == 0 {
		return "no registry snapshot yet", ""
	}
	if n.gw.Directory().Expired() {
		return "registry snapshot expired", ""
	}
	leaf := n.kp.Leaf()
	if now := n.now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return "node certificate expired", ""
	}
	if n.gw.Directory().Revoked().Contains(leaf) {
		return "node certificate revoked", ""
	}
	if r, err := n.gw.Directory().Router(); err == nil {
		if _, err := r.Node(n.cfg.Region); err != nil {
			return "this region is not in the registry snapshot", ""
		}
	}
	return "", ""
}

func (n *Node) checkHealth() {
	st := healthpb.HealthCheckResponse_SERVING
	reason, detail := n.healthReason()
	if reason != "" {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	n.mu.Lock()
	changed := reason != n.unhealthy
	n.unhealthy = reason
	n.mu.Unlock()
	if changed && reason != "" {
		n.log.Warn("node not serving", "reason", reason, "detail", detail)
	} else if changed {
		n.log.Info("node serving again")
	}
	n.health.SetServingStatus("", st)
	for _, svc := range []string{"jiexu.v1.TransferService", "jiexu.v1.CertificateService", "jiexu.v1.RemittanceService", "jiexu.v1.ReconcileService", "jiexu.v1.AgencyService"} {
		n.health.SetServingStatus(svc, st)
	}
}
