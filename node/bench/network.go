package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"

	"jiexu/node"
	"jiexu/node/devnet"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Network is a devnet whose registry and nodes run as separate jiexu
// processes, as they do in production.
type Network struct {
	Layout   *devnet.Layout
	Registry *Proc
	Nodes    []*Node

	http *http.Client
}

// Node is one node process of a Network and the bench's connection to its
// agency API.
type Node struct {
	Region  string
	Proc    *Proc
	Config  node.Config
	Client  jiexuv1.AgencyServiceClient
	Metrics string // host:port of /metrics

	conn *grpc.ClientConn
}

// NetworkOptions configures StartNetwork.
type NetworkOptions struct {
	// Binary is the jiexu executable the processes run.
	Binary string
	// Dir is an empty or new folder for the network.
	Dir     string
	Regions []string
	// Pprof turns on debug_pprof in every node's config.
	Pprof bool
	// BatchSeals turns on batch_seals in every node's config.
	BatchSeals bool
	// LogLevel is written into every node's config ("" keeps info).
	LogLevel string
	// ReadyTimeout bounds the wait for each process to serve.
	ReadyTimeout time.Duration
	// ProductionLimits keeps node.DefaultLimits; otherwise each peer's rate
	// and calls in flight are lifted (Unlimited), so that a bench measures
	// the transfer and not the limiter.
	ProductionLimits bool
}

// Unlimited is node.DefaultLimits with no per-peer rate or concurrency
// limit: what a bench runs with unless asked for the production limits
// (200 messages a second per peer would cap a pair of nodes near 100
// transfers a second each way).
func Unlimited() *node.Limits {
	l := node.DefaultLimits()
	l.PeerRate, l.PeerBurst, l.PeerConcurrency = 1e9, 1e9, 1e6
	return &l
}

// StartNetwork writes a devnet (every node an insurance agency, so that
// any node can receive anyone), starts its registry and nodes as separate
// processes, and waits until each node serves with a registry snapshot.
// On error everything started is stopped.
func StartNetwork(ctx context.Context, o NetworkOptions) (nw *Network, err error) {
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	var limits *node.Limits
	if !o.ProductionLimits {
		limits = Unlimited()
	}
	l, err := devnet.Init(devnet.Options{Dir: o.Dir, Regions: o.Regions, NCMS: []string{}, People: 1,
		Seed: uint64(time.Now().UnixNano()), RetryMin: 20 * time.Millisecond, RetryMax: time.Second, Limits: limits})
	if err != nil {
		return nil, err
	}
	l.Close() // the processes bind the ports themselves
	nw = &Network{Layout: l, http: NewScrapeClient(60 * time.Second)}
	defer func() {
		if err != nil {
			nw.Stop()
			nw = nil
		}
	}()
	regCfg, err := node.LoadConfig(l.Nodes[0].ConfigFile)
	if err != nil {
		return nil, err
	}
	nw.Registry, err = StartProc("registry", o.Binary, filepath.Join(l.Dir, "registry.log"),
		"registry", "serve", "--dir", l.RegistryDir, "--listen", regCfg.RegistryAddress, "--tls", l.RegistryTLS)
	if err != nil {
		return nil, err
	}
	for _, nl := range l.Nodes {
		cfg, err := node.LoadConfig(nl.ConfigFile)
		if err != nil {
			return nil, err
		}
		cfg.DebugPprof = o.Pprof
		cfg.BatchSeals = o.BatchSeals
		if o.LogLevel != "" {
			cfg.LogLevel = o.LogLevel
		}
		if err := node.WriteConfig(nl.ConfigFile, cfg); err != nil {
			return nil, err
		}
		p, err := StartProc(nl.Region, o.Binary, filepath.Join(nl.Dir, "node.log"), "node", "serve", "--config", nl.ConfigFile)
		if err != nil {
			return nil, err
		}
		n := &Node{Region: nl.Region, Proc: p, Config: cfg, Metrics: cfg.MetricsListen}
		nw.Nodes = append(nw.Nodes, n)
		if n.Client, n.conn, err = node.DialAgency(cfg.AgencyListen); err != nil {
			return nil, err
		}
	}
	for _, n := range nw.Nodes {
		if err := nw.waitReady(ctx, n, o.ReadyTimeout); err != nil {
			return nil, err
		}
	}
	return nw, nil
}

// waitReady polls a node until it answers with a registry snapshot.
func (nw *Network) waitReady(ctx context.Context, n *Node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if err := nw.Exited(); err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := n.Client.GetStatus(cctx, &jiexuv1.GetStatusRequest{})
		cancel()
		if err == nil && st.GetRegistryVersion() > 0 {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("node %s not serving after %s (%v); see %s", n.Region, timeout, last, n.Proc.Log)
}

// Procs returns the registry and node processes.
func (nw *Network) Procs() Procs {
	var ps Procs
	if nw.Registry != nil {
		ps = append(ps, nw.Registry)
	}
	for _, n := range nw.Nodes {
		ps = append(ps, n.Proc)
	}
	return ps
}

// Exited returns an error if the registry or a node has stopped.
func (nw *Network) Exited() error { return nw.Procs().Exited() }

// Stop closes the connections and stops every process: SIGTERM, then
// SIGKILL after 10 s.
func (nw *Network) Stop() {
	for _, n := range nw.Nodes {
		if n.conn != nil {
			n.conn.Close()
		}
	}
	nw.Procs().Stop(10 * time.Second)
}

// Scrape reads every node's /metrics, in parallel.
func (nw *Network) Scrape(ctx context.Context) ([]Metrics, error) {
	out := make([]Metrics, len(nw.Nodes))
	errs := make([]error, len(nw.Nodes))
	var wg sync.WaitGroup
	for i, n := range nw.Nodes {
		wg.Go(func() { out[i], errs[i] = Scrape(ctx, nw.http, n.Metrics) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if exited := nw.Exited(); exited != nil {
			return nil, exited
		}
		return nil, err
	}
	return out, nil
}

// fetch GETs a URL path from a node's metrics listener into a file.
func (nw *Network) fetch(ctx context.Context, n *Node, path, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.Metrics+path, nil)
	if err != nil {
		return err
	}
	client := &http.Client{} // a CPU profile takes as long as it asks for
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s from %s: %s (is debug_pprof on?)", path, n.Region, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
