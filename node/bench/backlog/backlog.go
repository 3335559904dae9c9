// Package backlog measures a node's restart with a large outbox: it fills
// one node's store with N sealed, pending messages to a peer, starts the
// node as a process of its own, and measures the time from the process's
// start to the first delivery, the drain rate that follows, and what the
// backlog costs a /metrics scrape.
//
// The messages are real: Gateway.Enqueue stamps, seals and stores each
// NotifyTransfer in the node's bbolt file, in transactions of Options.Batch,
// exactly as a destination does when people apply while their origin is
// down. The peer is a sink in this process with the peer region's
// certificate that acknowledges every message, so that what is measured is
// the restarted node alone.
//
//	o := backlog.NewOptions()
//	o.Binary, o.Messages = "/usr/local/bin/jiexu", 1_000_000
//	res, err := backlog.Run(ctx, o)
package backlog

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/gateway"
	"jiexu/node"
	"jiexu/node/bench"
	"jiexu/node/devnet"
	"jiexu/node/rules"
	"jiexu/node/store"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// Options configures Run. NewOptions fills the defaults.
type Options struct {
	// Binary is the jiexu executable the node runs as.
	Binary string
	// Dir is where the network is written: empty for a temporary folder,
	// removed afterwards unless Keep.
	Dir  string
	Keep bool
	// Messages is how many messages wait in the outbox at the restart.
	Messages int
	// Batch is how many messages one filling transaction stores.
	Batch int
	// Drain is how long deliveries are counted after the first.
	Drain time.Duration
	// Timeout bounds the wait for the first delivery.
	Timeout time.Duration
	// Cold evicts the store from the page cache before the restart (Linux:
	// posix_fadvise DONTNEED on that one file), as after a reboot.
	Cold     bool
	Progress io.Writer
}

// NewOptions returns the defaults: 100,000 messages in transactions of
// 10,000, deliveries counted for 10 s.
func NewOptions() Options {
	return Options{Messages: 100_000, Batch: 10_000, Drain: 10 * time.Second, Timeout: 10 * time.Minute}
}

// Validate names the first bad option.
func (o *Options) Validate() error {
	switch {
	case o.Binary == "":
		return errors.New("binary: the jiexu executable is required")
	case o.Messages < 1 || o.Messages > 10_000_000:
		return fmt.Errorf("messages: %d; 1 to 10,000,000", o.Messages)
	case o.Batch < 1:
		return fmt.Errorf("batch: %d; at least 1", o.Batch)
	case o.Drain <= 0 || o.Timeout <= 0:
		return errors.New("drain, timeout: must be positive")
	}
	return nil
}

// Result is what a restart measured.
type Result struct {
	Started     time.Time `json:"started"`
	CPUs        int       `json:"cpus"`
	LoadAverage float64   `json:"load_average_1m"`
	Messages    int       `json:"messages"`
	// FillSeconds is how long sealing and storing the backlog took.
	FillSeconds float64 `json:"fill_s"`
	// Cold says the store was evicted from the page cache before the restart.
	Cold       bool  `json:"cold"`
	StoreBytes int64 `json:"store_bytes"`
	// CheckSeconds is the page check a node makes of its store before
	// opening it (store.CheckFile: every page read once), and ScanSeconds
	// the look-up of the peers with pending messages Gateway.Start makes
	// (gateway.OutboxPeers), both measured on the store before the restart.
	CheckSeconds float64 `json:"store_check_s"`
	ScanSeconds  float64 `json:"outbox_scan_s"`
	// ColdCheckSeconds and ColdScanSeconds are the same with the store
	// evicted from the page cache first (Cold only).
	ColdCheckSeconds float64 `json:"store_check_cold_s,omitempty"`
	ColdScanSeconds  float64 `json:"outbox_scan_cold_s,omitempty"`
	// ToServing runs from starting the process to the node's "node
	// serving" log line; ToFirstDelivery to the first message reaching
	// the peer.
	ToServing       float64 `json:"to_serving_s"`
	ToFirstDelivery float64 `json:"to_first_delivery_s"`
	// Delivered is how many messages reached the peer in Drain after the first.
	Delivered    int     `json:"delivered"`
	DrainSeconds float64 `json:"drain_s"`
	DrainRate    float64 `json:"drain_per_s"`
	// ScrapeSeconds is one /metrics scrape with the backlog pending (its
	// queue gauges read the outbox).
	ScrapeSeconds float64 `json:"scrape_s"`
	RSS           int64   `json:"rss_bytes"`
	PeakRSS       int64   `json:"peak_rss_bytes"`
}

const (
	nodeRegion = "150100" // the node restarted with the backlog
	peerRegion = "150700" // the sink
)

// Run writes a two-region network, fills the first node's outbox, starts
// it and measures. Every process it starts is stopped when it returns.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "jiexu-backlog-"); err != nil {
			return nil, err
		}
		if !o.Keep {
			defer os.RemoveAll(dir)
		}
	}
	res := &Result{Started: time.Now(), CPUs: runtime.NumCPU(), LoadAverage: bench.LoadAverage(), Messages: o.Messages}
	l, err := devnet.Init(devnet.Options{Dir: dir, Regions: []string{nodeRegion, peerRegion}, NCMS: []string{}, People: 1,
		RetryMin: 20 * time.Millisecond, RetryMax: time.Second})
	if err != nil {
		return nil, err
	}
	l.Close()
	cfg, err := node.LoadConfig(l.Nodes[0].ConfigFile)
	if err != nil {
		return nil, err
	}
	peerCfg, err := node.LoadConfig(l.Nodes[1].ConfigFile)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := fill(cfg, o, res); err != nil {
		return nil, err
	}
	res.FillSeconds = time.Since(start).Seconds()
	dbFile := filepath.Join(cfg.DataDir, node.DBFile)
	if fi, err := os.Stat(dbFile); err == nil {
		res.StoreBytes = fi.Size()
	}
	if res.CheckSeconds, err = checkStore(dbFile); err != nil {
		return nil, err
	}
	if res.ScanSeconds, err = scanOutbox(dbFile); err != nil {
		return nil, err
	}
	if o.Cold {
		// Time both on a cold cache too, each after an eviction, then
		// evict again for the node.
		for _, step := range []struct {
			secs *float64
			run  func(string) (float64, error)
		}{{&res.ColdCheckSeconds, checkStore}, {&res.ColdScanSeconds, scanOutbox}, {nil, nil}} {
			if err := evict(dbFile); err != nil {
				return nil, fmt.Errorf("evict the store from the page cache: %w", err)
			}
			if step.run != nil {
				if *step.secs, err = step.run(dbFile); err != nil {
					return nil, err
				}
			}
		}
		res.Cold = true
	}

	reg, err := bench.StartProc("registry", o.Binary, filepath.Join(dir, "registry.log"),
		"registry", "serve", "--dir", l.RegistryDir, "--listen", cfg.RegistryAddress, "--tls", l.RegistryTLS)
	if err != nil {
		return nil, err
	}
	defer reg.Stop(10 * time.Second)
	s, err := startSink(peerCfg)
	if err != nil {
		return nil, err
	}
	defer s.stop()

	logFile := filepath.Join(l.Nodes[0].Dir, "node.log")
	p, err := bench.StartProc(nodeRegion, o.Binary, logFile, "node", "serve", "--config", l.Nodes[0].ConfigFile)
	if err != nil {
		return nil, err
	}
	defer p.Stop(30 * time.Second)
	t0 := p.Started()
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "node %s started with %d messages pending; waiting for the first delivery…\n", nodeRegion, o.Messages)
	}
	deadline := time.After(o.Timeout)
	for s.first.Load() == 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline:
			return nil, fmt.Errorf("%w: no delivery within %s of start; see %s", bench.ErrTimeout, o.Timeout, logFile)
		case <-p.Done():
			return nil, p.Exited()
		case <-time.After(time.Millisecond):
		}
	}
	first := time.Unix(0, s.first.Load())
	res.ToFirstDelivery = first.Sub(t0).Seconds()
	drainEnd := first.Add(o.Drain)
	for time.Now().Before(drainEnd) && int(s.count.Load()) < o.Messages {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	res.Delivered = int(s.count.Load())
	res.DrainSeconds = time.Since(first).Seconds()
	if res.DrainSeconds > 0 {
		res.DrainRate = float64(res.Delivered) / res.DrainSeconds
	}
	if ps, err := bench.ReadProc(p.PID()); err == nil {
		res.RSS, res.PeakRSS = ps.RSS, ps.PeakRSS
	}
	// The dispatchers start before the servers, so the first delivery may
	// precede the "node serving" line: it is read once the drain is over.
	if serving, err := servingAt(logFile); err == nil {
		res.ToServing = serving.Sub(t0).Seconds()
	}
	scrape := time.Now()
	if _, err := bench.Scrape(ctx, bench.NewScrapeClient(5*time.Minute), cfg.MetricsListen); err != nil {
		return nil, fmt.Errorf("scrape with the backlog: %w", err)
	}
	res.ScrapeSeconds = time.Since(scrape).Seconds()
	return res, nil
}

// fill seals and stores o.Messages notices to the peer in the node's store,
// the node not running.
func fill(cfg node.Config, o Options, res *Result) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	db, err := bolt.Open(filepath.Join(cfg.DataDir, node.DBFile), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	kp, err := certs.LoadKeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return err
	}
	ca, err := certs.LoadCertificate(cfg.CAFile)
	if err != nil {
		return err
	}
	gcfg := gateway.NewConfig()
	gcfg.Region, gcfg.DB, gcfg.KeyPair, gcfg.CA, gcfg.Table = cfg.Region, db, kp, ca, registry.DefaultTable()
	gcfg.Logger = slog.New(slog.DiscardHandler) // it has no snapshot yet, and needs none to enqueue
	g, err := gateway.New(gcfg)
	if err != nil {
		return err
	}
	t := registry.DefaultTable()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	people := devnet.SyntheticPeople(rng, t, peerRegion, "insurance", 1000, now)
	day := now.In(rules.CST)
	last := time.Now()
	for done := 0; done < o.Messages; {
		n := min(o.Batch, o.Messages-done)
		err := db.Update(func(tx *bolt.Tx) error {
			for i := done; i < done+n; i++ {
				p := people[i%len(people)].GetPerson()
				caseID := fmt.Sprintf("%s-%s-%06d", cfg.Region, day.AddDate(0, 0, -i/999_999).Format("20060102"), i%999_999+1)
				msg := &jiexuv1.NotifyTransferRequest{
					Person: p, DestinationScheme: jiexuv1.Scheme_SCHEME_EMPLOYEE, OriginDivision: peerRegion,
					EnrolledOn: rules.DateOf(now), DestinationFrom: rules.YearMonthOf(now),
				}
				if err := g.Enqueue(tx, peerRegion, jiexuv1.TransferService_NotifyTransfer_FullMethodName, caseID, msg); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fill the outbox: %w", err)
		}
		done += n
		if o.Progress != nil && (time.Since(last) > 5*time.Second || done == o.Messages) {
			last = time.Now()
			fmt.Fprintf(o.Progress, "filled %d/%d messages (%.0f/s)\n", done, o.Messages, float64(done)/time.Since(res.Started).Seconds())
		}
	}
	return nil
}

// checkStore times the page check a node makes before opening its store.
func checkStore(dbFile string) (float64, error) {
	start := time.Now()
	_, err := store.CheckFile(dbFile)
	return time.Since(start).Seconds(), err
}

// scanOutbox times the look-up of the peers with a backlog that
// Gateway.Start makes.
func scanOutbox(dbFile string) (float64, error) {
	db, err := bolt.Open(dbFile, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	start := time.Now()
	var peers []string
	err = db.View(func(tx *bolt.Tx) error {
		peers = gateway.OutboxPeers(tx)
		return nil
	})
	if err == nil && len(peers) == 0 {
		err = errors.New("no peer has messages queued in the outbox")
	}
	return time.Since(start).Seconds(), err
}

// servingAt finds the time of the node's "node serving" log line (text or
// JSON format).
func servingAt(logFile string) (time.Time, error) {
	f, err := os.Open(logFile)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "node serving") {
			continue
		}
		return logTime(line)
	}
	return time.Time{}, errors.New("no \"node serving\" line")
}

// logTime reads the time of a slog line: time=… (text) or "time":"…" (JSON).
func logTime(line string) (time.Time, error) {
	if strings.HasPrefix(line, "{") {
		var v struct {
			Time time.Time `json:"time"`
		}
		err := json.Unmarshal([]byte(line), &v)
		return v.Time, err
	}
	rest, ok := strings.CutPrefix(line, "time=")
	if !ok {
		return time.Time{}, fmt.Errorf("no time= in %q", line)
	}
	ts, _, _ := strings.Cut(rest, " ")
	return time.Parse(time.RFC3339Nano, ts)
}

// sink plays the peer: it acknowledges every notice with a sealed receipt,
// as a node does, and notes when the first arrived. It counts each message
// once: delivery is at least once, and a resend is not a delivery.
type sink struct {
	jiexuv1.UnimplementedTransferServiceServer
	srv    *grpc.Server
	signer *certs.Signer
	first  atomic.Int64 // unix nanoseconds of the first arrival
	count  atomic.Int64 // distinct messages received
	seen   sync.Map     // message ID → struct{}
}

func startSink(cfg node.Config) (*sink, error) {
	kp, err := certs.LoadKeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	ca, err := certs.LoadCertificate(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("sink for %s: %w", cfg.Region, err)
	}
	s := &sink{srv: grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerTLS(kp, roots)))), signer: kp.Signer()}
	jiexuv1.RegisterTransferServiceServer(s.srv, s)
	go s.srv.Serve(lis)
	return s, nil
}

func (s *sink) stop() { s.srv.Stop() }

// NotifyTransfer acknowledges the notice with a sealed receipt.
func (s *sink) NotifyTransfer(_ context.Context, req *jiexuv1.NotifyTransferRequest) (*jiexuv1.NotifyTransferResponse, error) {
	s.first.CompareAndSwap(0, time.Now().UnixNano())
	wire, err := proto.Marshal(req)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "marshal the notice: %v", err)
	}
	receipt, err := gateway.Acknowledge(s.signer, jiexuv1.TransferService_NotifyTransfer_FullMethodName, wire, time.Now())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "seal the receipt: %v", err)
	}
	if _, dup := s.seen.LoadOrStore(req.GetHeader().GetMessageId(), struct{}{}); !dup {
		s.count.Add(1)
	}
	return &jiexuv1.NotifyTransferResponse{Receipt: receipt}, nil
}

// WriteJSON writes the result as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report.
func (r *Result) WriteText(w io.Writer) error {
	check, scan := fmt.Sprintf("%.3f s", r.CheckSeconds), fmt.Sprintf("%.3f s", r.ScanSeconds)
	if r.Cold {
		check = fmt.Sprintf("%.3f s warm, %.3f s cold", r.CheckSeconds, r.ColdCheckSeconds)
		scan = fmt.Sprintf("%.3f s warm, %.3f s cold", r.ScanSeconds, r.ColdScanSeconds)
	}
	cache := "warm page cache"
	if r.Cold {
		cache = "store evicted from the page cache first"
	}
	_, err := fmt.Fprintf(w, `jiexu bench backlog: node %s restarted with %d sealed messages pending to %s (%s)
  machine              %d CPUs, load average %.2f when it started (measured under that load)
  fill                 %.1f s (%.0f messages/s sealed and stored), store %.1f MiB
  store page check     %s (every page read once before the node opens its store)
  backlog peers        %s (Gateway.Start seeks the outbox's peers before the node serves)
  start → serving      %.3f s
  start → 1st delivery %.3f s
  drain                %d delivered in the next %.1f s: %.0f messages/s
  /metrics scrape      %.3f s with the backlog pending
  node memory          %.1f MiB resident, peak %.1f MiB
`, nodeRegion, r.Messages, peerRegion, cache, r.CPUs, r.LoadAverage, r.FillSeconds, float64(r.Messages)/r.FillSeconds, float64(r.StoreBytes)/(1<<20),
		check, scan, r.ToServing, r.ToFirstDelivery, r.Delivered, r.DrainSeconds, r.DrainRate,
		r.ScrapeSeconds, float64(r.RSS)/(1<<20), float64(r.PeakRSS)/(1<<20))
	return err
}
