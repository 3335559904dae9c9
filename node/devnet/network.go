package devnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"

	"jiexu/certs"
	"jiexu/node"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// Network is a devnet running in this process.
type Network struct {
	Layout  *Layout
	Clients map[string]jiexuv1.AgencyServiceClient

	ctx    context.Context
	cancel context.CancelFunc
	errs   chan error
	wg     sync.WaitGroup

	mu      sync.Mutex // guards running and conns
	running map[string]*runningNode
	conns   []*grpc.ClientConn
}

type runningNode struct {
	n      *node.Node
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs the registry and every node of a layout in this process and
// waits until each serves. Logs go to registry.log and each node's node.log.
func Start(ctx context.Context, l *Layout) (*Network, error) {
	return StartWith(ctx, l, nil)
}

// StartWith is Start with options for each node (nodeOpts may be nil): a
// network of hundreds of nodes gives them in-memory listeners and dialers.
func StartWith(ctx context.Context, l *Layout, nodeOpts func(region string) []node.Option) (*Network, error) {
	ctx, cancel := context.WithCancel(ctx)
	nw := &Network{Layout: l, Clients: map[string]jiexuv1.AgencyServiceClient{}, ctx: ctx, cancel: cancel,
		errs: make(chan error, 64), running: map[string]*runningNode{}}
	if err := nw.startRegistry(); err != nil {
		nw.Stop()
		return nil, err
	}
	for _, nl := range l.Nodes {
		var opts []node.Option
		if nodeOpts != nil {
			opts = nodeOpts(nl.Region)
		}
		if err := nw.StartNode(nl.Region, opts...); err != nil {
			nw.Stop()
			return nil, err
		}
		n := nw.Node(nl.Region)
		client, conn, err := node.DialAgency(n.Addrs().Agency)
		if err != nil {
			nw.Stop()
			return nil, err
		}
		nw.mu.Lock()
		nw.conns = append(nw.conns, conn)
		nw.mu.Unlock()
		nw.Clients[nl.Region] = client
	}
	return nw, nil
}

func (nw *Network) startRegistry() error {
	l := nw.Layout
	ready := make(chan struct{})
	logFile, err := os.OpenFile(filepath.Join(l.RegistryDir, "registry.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	nw.wg.Add(1)
	go func() {
		defer nw.wg.Done()
		defer logFile.Close()
		err := registry.Serve(nw.ctx, registry.ServeConfig{
			Dir: l.RegistryDir, Listen: l.RegistryAddr, Listener: l.take("registry"),
			CertFile: filepath.Join(l.RegistryTLS, certs.CertFile), KeyFile: filepath.Join(l.RegistryTLS, certs.KeyFile),
			CAFile: filepath.Join(l.RegistryTLS, certs.CACertFile),
			Logger: slog.New(slog.NewTextHandler(logFile, nil)),
			Ready:  func(net.Addr) { close(ready) },
		})
		if err != nil {
			nw.errs <- fmt.Errorf("registry: %w", err)
		}
	}()
	select {
	case <-ready:
		return nil
	case err := <-nw.errs:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("registry did not start within 10s")
	}
}

func (nw *Network) layoutOf(region string) (NodeLayout, bool) {
	for _, nl := range nw.Layout.Nodes {
		if nl.Region == region {
			return nl, true
		}
	}
	return NodeLayout{}, false
}

// StartNode starts (or restarts) one node and waits until it serves; opts
// are added to the node's (a test's clock, say).
func (nw *Network) StartNode(region string, opts ...node.Option) error {
	nl, ok := nw.layoutOf(region)
	if !ok {
		return fmt.Errorf("no node %s in this network", region)
	}
	cfg, err := node.LoadConfig(nl.ConfigFile)
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(nl.Dir, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	opts = append([]node.Option{node.WithLogger(slog.New(slog.NewTextHandler(logFile, nil))),
		node.WithListeners(nw.Layout.take(region+"/listen"), nw.Layout.take(region+"/metrics"))}, opts...)
	n, err := node.New(cfg, opts...)
	if err != nil {
		logFile.Close()
		return fmt.Errorf("node %s: %w", region, err)
	}
	ctx, cancel := context.WithCancel(nw.ctx)
	rn := &runningNode{n: n, cancel: cancel, done: make(chan struct{})}
	nw.wg.Add(1)
	go func() {
		defer nw.wg.Done()
		defer close(rn.done)
		defer logFile.Close()
		if err := n.Run(ctx); err != nil {
			nw.errs <- fmt.Errorf("node %s: %w", region, err)
		}
	}()
	select {
	case <-n.Ready():
	case <-rn.done:
		cancel()
		return fmt.Errorf("node %s stopped while starting: %w", region, nw.Err())
	}
	nw.mu.Lock()
	nw.running[region] = rn
	nw.mu.Unlock()
	return nil
}

// StopNode stops one node gracefully and waits until its store is closed.
func (nw *Network) StopNode(region string) {
	nw.mu.Lock()
	rn := nw.running[region]
	delete(nw.running, region)
	nw.mu.Unlock()
	if rn != nil {
		rn.cancel()
		<-rn.done
	}
}

// Node returns a running node, or nil.
func (nw *Network) Node(region string) *node.Node {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if rn := nw.running[region]; rn != nil {
		return rn.n
	}
	return nil
}

// Stop ends every node and the registry and waits for them.
func (nw *Network) Stop() {
	nw.cancel()
	defer nw.Layout.Close()
	nw.mu.Lock()
	for _, c := range nw.conns {
		c.Close()
	}
	nw.mu.Unlock()
	nw.wg.Wait()
}

// Err returns a server's failure, if any happened.
func (nw *Network) Err() error {
	select {
	case err := <-nw.errs:
		return err
	default:
		return nil
	}
}
