// Command jetstream-bench measures NATS JetStream on this machine the way
// 'jiexu bench' measures jiexu, so that the two can be set side by side in
// one run ('jiexu bench --compare-jetstream PATH'): a durable file stream
// (replicas 1) on a nats-server in its own process, 1 KB messages published
// with acknowledgements (PublishAsync, a bounded window of unacknowledged
// publishes), one durable pull consumer acking each message explicitly,
// both running at once. The rate is messages over the time from the first
// publish until the server holds the last consumer acknowledgement
// (ack pending 0, ack floor at the last message).
//
// --sync always sets the server's sync_interval to "always" (fsync on
// every write, SyncAlways in the server's options); --sync default keeps
// the default interval (2 minutes), so acknowledged messages may still be
// only in the page cache.
//
// It is a Go module of its own, so that nats-server and nats.go never
// enter jiexu's go.mod, its vulnerability scan or 'go test ./...'.
//
//	go build -o jetstream-bench . && ./jetstream-bench --sync always --messages 50000
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Result is what one run measured; 'jiexu bench' reads it as JSON.
type Result struct {
	Sync         string  `json:"sync"`
	Messages     int     `json:"messages"`
	Size         int     `json:"size"`
	MaxPending   int     `json:"max_pending"`
	Elapsed      float64 `json:"elapsed_s"`
	MsgsPerSec   float64 `json:"msgs_per_s"`
	PublishPerS  float64 `json:"publish_per_s"`
	Server       string  `json:"server_version"`
	ServerCPU    float64 `json:"server_cpu_s"`
	ServerPeakKB int64   `json:"server_peak_rss_kb"`
	Embedded     bool    `json:"embedded"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serve(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "jetstream-bench serve:", err)
			os.Exit(1)
		}
		return
	}
	fs := flag.NewFlagSet("jetstream-bench", flag.ContinueOnError)
	syncMode := fs.String("sync", "always", `"always" (fsync every write) or "default" (the server's 2-minute sync interval)`)
	messages := fs.Int("messages", 50000, "messages to publish and consume")
	size := fs.Int("size", 1024, "payload bytes a message")
	maxPending := fs.Int("max-pending", 256, "publishes awaiting their acknowledgement at most")
	embedded := fs.Bool("embedded", false, "run nats-server in this process instead of a child process")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *syncMode != "always" && *syncMode != "default" {
		fmt.Fprintln(os.Stderr, `jetstream-bench: --sync must be "always" or "default"`)
		os.Exit(2)
	}
	if *messages < 1 || *size < 1 || *maxPending < 1 {
		fmt.Fprintln(os.Stderr, "jetstream-bench: --messages, --size and --max-pending must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, *syncMode, *messages, *size, *maxPending, *embedded)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jetstream-bench:", err)
		os.Exit(1)
	}
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	fmt.Printf("JetStream %s, sync %s: %d × %d B in %.2f s: %.0f msg/s end to end (published at %.0f/s); server %.1f CPU s, peak RSS %d MiB\n",
		r.Server, r.Sync, r.Messages, r.Size, r.Elapsed, r.MsgsPerSec, r.PublishPerS, r.ServerCPU, r.ServerPeakKB>>10)
}

// serverOptions is a single JetStream server on loopback with a file store in dir.
func serverOptions(dir, syncMode string) *server.Options {
	return &server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir,
		// sync_interval: always (server/opts.go sets SyncAlways for it).
		SyncAlways: syncMode == "always",
		NoSigs:     true, NoLog: true,
	}
}

func startServer(dir, syncMode string) (*server.Server, error) {
	ns, err := server.NewServer(serverOptions(dir, syncMode))
	if err != nil {
		return nil, err
	}
	go ns.Start()
	if !ns.ReadyForConnections(20 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("nats-server not ready within 20 s")
	}
	return ns, nil
}

// serve runs the server for a parent run and prints its client URL.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dir := fs.String("store", "", "JetStream store folder")
	syncMode := fs.String("sync", "always", "always or default")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ns, err := startServer(*dir, *syncMode)
	if err != nil {
		return err
	}
	fmt.Println(ns.ClientURL())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	ns.Shutdown()
	ns.WaitForShutdown()
	return nil
}

func run(ctx context.Context, syncMode string, messages, size, maxPending int, embedded bool) (*Result, error) {
	dir, err := os.MkdirTemp("", "jetstream-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := &Result{Sync: syncMode, Messages: messages, Size: size, MaxPending: maxPending, Server: server.VERSION, Embedded: embedded}

	var url string
	var child *exec.Cmd
	if embedded {
		ns, err := startServer(dir, syncMode)
		if err != nil {
			return nil, err
		}
		defer ns.Shutdown()
		url = ns.ClientURL()
	} else {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		child = exec.Command(self, "serve", "--store", dir, "--sync", syncMode)
		child.Stderr = os.Stderr
		child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := child.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := child.Start(); err != nil {
			return nil, err
		}
		defer func() { _ = child.Process.Signal(syscall.SIGTERM); _ = child.Wait() }()
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("nats-server child printed no URL: %w", err)
		}
		url = strings.TrimSpace(line)
	}

	nc, err := nats.Connect(url)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	var pubErrs atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(maxPending),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { pubErrs.Add(1) }))
	if err != nil {
		return nil, err
	}
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage, Replicas: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream: %w", err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer: %w", err)
	}
	var received atomic.Int64
	allReceived := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if err := m.Ack(); err != nil {
			return
		}
		if received.Add(1) == int64(messages) {
			close(allReceived)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	defer cc.Stop()

	payload := make([]byte, size)
	rand.Read(payload)
	before := serverStat(child)
	start := time.Now()
	for i := range messages {
		if _, err := js.PublishAsync("bench."+strconv.Itoa(i%16), payload, jetstream.WithStallWait(time.Minute)); err != nil {
			return nil, fmt.Errorf("publish %d: %w", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Minute):
		return nil, errors.New("publishes not acknowledged within 10 minutes")
	}
	published := time.Since(start)
	if n := pubErrs.Load(); n > 0 {
		return nil, fmt.Errorf("%d publishes failed", n)
	}
	select {
	case <-allReceived:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Minute):
		return nil, fmt.Errorf("consumer received %d of %d within 10 minutes", received.Load(), messages)
	}
	// The run ends when the server holds every acknowledgement.
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			return nil, err
		}
		if info.NumAckPending == 0 && info.AckFloor.Stream >= uint64(messages) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	after := serverStat(child)
	r.Elapsed = elapsed.Seconds()
	r.MsgsPerSec = float64(messages) / elapsed.Seconds()
	r.PublishPerS = float64(messages) / published.Seconds()
	r.ServerCPU = (after.cpu - before.cpu).Seconds()
	r.ServerPeakKB = after.peakKB
	return r, nil
}

type stat struct {
	cpu    time.Duration
	peakKB int64
}

// serverStat reads the child server's CPU time and peak RSS from /proc
// (zero when embedded or not on Linux).
func serverStat(child *exec.Cmd) stat {
	if child == nil || child.Process == nil {
		return stat{}
	}
	var s stat
	pid := child.Process.Pid
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := strings.LastIndexByte(string(data), ')'); i >= 0 {
			f := strings.Fields(string(data[i+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				k, _ := strconv.ParseInt(f[12], 10, 64)
				s.cpu = time.Duration(u+k) * time.Second / 100
			}
		}
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				s.peakKB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
	}
	return s
}
