package nation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"jiexu/node"
	"jiexu/node/bench"
	"jiexu/node/devnet"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// Options configures Run. NewOptions fills the defaults.
type Options struct {
	// Dir is where the network is written: empty for a temporary folder,
	// removed afterwards unless Keep.
	Dir  string
	Keep bool
	// Regions are the nodes; empty for every pooling region (bench.PoolingRegions).
	Regions []string
	// Cases is how many transfers move across the country.
	Cases int
	// Concurrency bounds the agency calls in flight across all nodes.
	Concurrency int
	// Rate is applications a second; 0 applies flat out.
	Rate float64
	// TCP runs the links between nodes over loopback TCP, as separate
	// machines would; by default they run in memory (see memNet), because
	// a socket a link end exhausts the process's file descriptors.
	TCP bool
	// Timeout bounds the wait for the last case after the last application.
	Timeout time.Duration
	// Binary, when set, is a jiexu executable used to measure one idle
	// node's resident memory as a process of its own.
	Binary string
	// CPUProfile and MemProfile, when set, receive pprof profiles of this
	// process while the cases run (CPU) and at their end (allocations).
	CPUProfile, MemProfile string
	Seed                   uint64
	Progress               io.Writer
}

// MaxCases bounds Options.Cases.
const MaxCases = 1_000_000

// NewOptions returns the defaults: every pooling region, 10,000 cases, 64
// calls in flight, links in memory.
func NewOptions() Options {
	return Options{Cases: 10_000, Concurrency: 64, Timeout: 30 * time.Minute}
}

// Validate names the first bad option.
func (o *Options) Validate() error {
	switch {
	case o.Cases < 1 || o.Cases > MaxCases:
		return fmt.Errorf("cases: %d; 1 to %d", o.Cases, MaxCases)
	case o.Concurrency < 1 || o.Concurrency > 4096:
		return fmt.Errorf("concurrency: %d; 1 to 4096", o.Concurrency)
	case o.Rate < 0:
		return fmt.Errorf("rate: %g; 0 (flat out) or positive", o.Rate)
	case o.Timeout <= 0:
		return errors.New("timeout: must be positive")
	case o.Regions != nil && len(o.Regions) < 2:
		return errors.New("regions: at least two")
	}
	return nil
}

// simCase is one transfer of the simulation.
type simCase struct {
	from, to int // region indexes
	person   *jiexuv1.Record
	proof    devnet.Proof
	start    time.Time
	caseID   string
	end      time.Time // the later of COMPLETED and CLOSED
	destEnd  time.Time
	origEnd  time.Time
}

// Run starts every pooling region as a node in this process, loads the
// people, moves Cases of them across the country by the Model, waits for
// every case to complete at its destination and close at its origin, and
// reports time, memory and the slowest nodes.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	t := registry.DefaultTable()
	if o.Regions == nil {
		o.Regions = bench.PoolingRegions(t)
	}
	res := &Result{Started: time.Now(), Nodes: len(o.Regions), Cases: o.Cases, Concurrency: o.Concurrency,
		TCP: o.TCP, CPUs: runtime.NumCPU(), LoadAverage: bench.LoadAverage()}
	if o.Binary != "" {
		idle, err := IdleNodeRSS(ctx, o.Binary)
		if err != nil {
			return nil, fmt.Errorf("idle node: %w", err)
		}
		res.IdleNodeRSS = idle
	}
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "jiexu-nation-"); err != nil {
			return nil, err
		}
		if !o.Keep {
			defer os.RemoveAll(dir)
		}
	}
	res.Dir = dir

	model := NewModel(t, o.Regions)
	now := time.Now()
	cases := plan(t, model, o, now)
	res.Model = summarize(model, cases)
	res.before = measureSelf()

	start := time.Now()
	l, err := devnet.Init(devnet.Options{Dir: dir, Regions: o.Regions, NCMS: []string{}, People: 1, Seed: o.Seed,
		RetryMin: 50 * time.Millisecond, RetryMax: 2 * time.Second, Limits: bench.Unlimited()})
	if err != nil {
		return nil, err
	}
	res.InitSeconds = time.Since(start).Seconds()
	var nodeOpts func(string) []node.Option
	if !o.TCP {
		l.Close() // the nodes serve in memory; the registry and /metrics bind their own ports
		mem := newMemNet()
		addrs := map[string]string{}
		for _, nl := range l.Nodes {
			cfg, err := node.LoadConfig(nl.ConfigFile)
			if err != nil {
				return nil, err
			}
			addrs[nl.Region] = cfg.Listen
		}
		nodeOpts = func(region string) []node.Option {
			return []node.Option{node.WithListeners(mem.Listen(addrs[region]), nil),
				node.WithDialOptions(grpc.WithContextDialer(mem.Dial))}
		}
	}
	start = time.Now()
	nw, err := devnet.StartWith(ctx, l, nodeOpts)
	if err != nil {
		return nil, err
	}
	defer nw.Stop()
	res.StartSeconds = time.Since(start).Seconds()
	res.started = measureSelf()

	start = time.Now()
	if err := load(ctx, nw, o.Regions, cases, now); err != nil {
		return nil, err
	}
	res.LoadSeconds = time.Since(start).Seconds()
	res.loaded = measureSelf()

	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	w := newWatcher(nw, o.Regions, cases)
	if err := drive(ctx, nw, o, cases, w); err != nil {
		return nil, err
	}
	if o.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if err := collect(ctx, nw, o.Regions, cases); err != nil {
		return nil, err
	}
	res.after = measureSelf()
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return nil, err
		}
	}
	res.finish(nw, o.Regions, cases, w)
	return res, nil
}

func writeHeapProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	runtime.GC()
	err = pprof.Lookup("allocs").WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// plan draws the moves and makes a person for each, suspended at the
// origin; ID numbers are unique across the country.
func plan(t *registry.Table, m *Model, o Options, now time.Time) []*simCase {
	rng := rand.New(rand.NewPCG(o.Seed, 0x6e6174696f6e))
	cases := make([]*simCase, o.Cases)
	perOrigin := make([]int, len(m.Regions))
	for i := range cases {
		from, to := m.Move(rng)
		cases[i] = &simCase{from: from, to: to}
		perOrigin[from]++
	}
	seen := map[string]bool{}
	people := make([][]*jiexuv1.Record, len(m.Regions))
	for r, n := range perOrigin {
		for len(people[r]) < n {
			for _, p := range devnet.SyntheticPeople(rng, t, m.Regions[r].Code, "insurance", n-len(people[r]), now) {
				if id := p.GetPerson().GetIdNumber(); !seen[id] {
					seen[id] = true
					people[r] = append(people[r], p)
				}
			}
		}
	}
	next := make([]int, len(m.Regions))
	for _, c := range cases {
		c.person = people[c.from][next[c.from]]
		next[c.from]++
		bench.Employee(rng, c.person)
		bench.Suspend(c.person, now)
	}
	return cases
}

// load imports each node's people: those leaving it (suspended, which
// issues their certificates) and those arriving (enrolled), a few nodes at
// a time.
func load(ctx context.Context, nw *devnet.Network, regions []string, cases []*simCase, now time.Time) error {
	records := make([][]*jiexuv1.Record, len(regions))
	for _, c := range cases {
		records[c.from] = append(records[c.from], c.person)
		records[c.to] = append(records[c.to], devnet.DestinationRecord(c.person, devnet.NodeLayout{Region: regions[c.to], Kind: "insurance"}, now))
	}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	errs := make([]error, len(regions))
	for i, region := range regions {
		if len(records[i]) == 0 {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for k := 0; k < len(records[i]); k += 2000 {
				rs := records[i][k:min(k+2000, len(records[i]))]
				if _, err := nw.Clients[region].ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: rs}); err != nil {
					errs[i] = fmt.Errorf("import into %s: %w", region, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The applicants' certificates, as they would read them off the paper.
	leaving := make([][]*simCase, len(regions))
	for _, c := range cases {
		leaving[c.from] = append(leaving[c.from], c)
	}
	for i, region := range regions {
		if len(leaving[i]) == 0 {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ids := make([]string, len(leaving[i]))
			for k, c := range leaving[i] {
				ids[k] = c.person.GetPerson().GetIdNumber()
			}
			proofs, err := bench.Proofs(ctx, nw.Clients[region], ids)
			if err != nil {
				errs[i] = fmt.Errorf("proofs at %s: %w", region, err)
				return
			}
			for _, c := range leaving[i] {
				c.proof = proofs[c.person.GetPerson().GetIdNumber()]
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// drive applies every case at its destination and waits until all have ended.
func drive(ctx context.Context, nw *devnet.Network, o Options, cases []*simCase, w *watcher) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	var applied atomic.Int64
	start := time.Now()
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for i, c := range cases {
			due := time.Now()
			if o.Rate > 0 {
				due = start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(due)):
				}
			}
			select {
			case <-ctx.Done():
				return
			case sem <- struct{}{}:
			}
			if o.Rate == 0 {
				due = time.Now()
			}
			wg.Go(func() {
				defer func() { <-sem }()
				c.start = due
				resp, err := nw.Clients[o.Regions[c.to]].ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{
					IdNumber: c.person.GetPerson().GetIdNumber(), Name: c.person.GetPerson().GetName(), OriginDivision: o.Regions[c.from],
					CertificateNumber: c.proof.Certificate, VerificationCode: c.proof.Code})
				if err != nil {
					cancel(fmt.Errorf("apply at %s (%s): %w", o.Regions[c.to], rules.MaskID(c.person.GetPerson().GetIdNumber()), err))
					return
				}
				c.caseID = resp.GetCase().GetCaseId()
				applied.Add(1)
			})
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var deadline time.Time
	lastLine := time.Time{}
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return context.Cause(ctx)
		case <-tick.C:
		}
		if err := nw.Err(); err != nil {
			cancel(err)
			continue
		}
		finished := false
		select {
		case <-dispatched:
			finished = true
		default:
		}
		done, err := w.poll(ctx, finished)
		if err != nil {
			cancel(err)
			continue
		}
		if o.Progress != nil && time.Since(lastLine) >= 5*time.Second {
			lastLine = time.Now()
			el := time.Since(start)
			eta := "—"
			if done > 0 {
				eta = (time.Duration(float64(len(cases)-done) / float64(done) * float64(el))).Round(time.Second).String()
			}
			fmt.Fprintf(o.Progress, "[%6.0fs] applied %d/%d  done %d/%d  %.0f cases/s  nodes finished %d/%d  ETA %s\n",
				el.Seconds(), applied.Load(), len(cases), done, len(cases), float64(done)/el.Seconds(), w.finished(), len(w.nodes), eta)
		}
		if !finished {
			continue
		}
		if deadline.IsZero() {
			wg.Wait()
			if err := context.Cause(ctx); err != nil {
				return err
			}
			if int(applied.Load()) != len(cases) {
				return fmt.Errorf("applied %d of %d cases", applied.Load(), len(cases))
			}
			deadline = time.Now().Add(o.Timeout)
		}
		if w.finished() == len(w.nodes) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d of %d nodes finished after %s; see the node logs under %s", bench.ErrTimeout, w.finished(), len(w.nodes), o.Timeout, nw.Layout.Dir)
		}
	}
}

// watcher follows each node's status until every case it takes part in
// has ended and its outbox is empty. It asks each unfinished node about
// once every ten seconds (GetStatus: case counts and queues, cheaper than
// a /metrics scrape, which the first runs showed at a tenth of the CPU),
// so that watching 370 nodes costs them little.
type watcher struct {
	nodes  []*watched
	cursor int
}

type watched struct {
	region             string
	client             jiexuv1.AgencyServiceClient
	wantDest, wantOrig int
	dest, orig         int
	peakPending        int
	failed             int
	done               bool
}

func newWatcher(nw *devnet.Network, regions []string, cases []*simCase) *watcher {
	w := &watcher{}
	for _, r := range regions {
		w.nodes = append(w.nodes, &watched{region: r, client: nw.Clients[r]})
	}
	for _, c := range cases {
		w.nodes[c.to].wantDest++
		w.nodes[c.from].wantOrig++
	}
	for _, n := range w.nodes {
		n.done = n.wantDest == 0 && n.wantOrig == 0
	}
	return w
}

func (w *watcher) finished() int {
	k := 0
	for _, n := range w.nodes {
		if n.done {
			k++
		}
	}
	return k
}

// poll asks the next tenth (a third once all are applied) of the unfinished nodes and returns the cases
// closed at their origin so far (as last seen). Until all cases are
// applied (final false) no node counts as finished.
func (w *watcher) poll(ctx context.Context, final bool) (int, error) {
	var todo []*watched
	for _, n := range w.nodes {
		if !n.done {
			todo = append(todo, n)
		}
	}
	frac := 10 // while cases are applied, each node every ten seconds
	if final {
		frac = 3 // then faster, as the nodes finish
	}
	batch := max(1, (len(todo)+frac-1)/frac)
	var pick []*watched
	for i := 0; i < batch && len(todo) > 0; i++ {
		pick = append(pick, todo[(w.cursor+i)%len(todo)])
	}
	w.cursor += batch
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	errs := make([]error, len(pick))
	for i, n := range pick {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			st, err := n.client.GetStatus(ctx, &jiexuv1.GetStatusRequest{})
			if err != nil {
				errs[i] = fmt.Errorf("node %s: %w", n.region, err)
				return
			}
			n.dest, n.orig = 0, 0
			for _, c := range st.GetCases() {
				switch {
				case c.GetSide() == jiexuv1.CaseSide_CASE_SIDE_DESTINATION && c.GetState() == jiexuv1.CaseState_CASE_STATE_COMPLETED:
					n.dest = int(c.GetCount())
				case c.GetSide() == jiexuv1.CaseSide_CASE_SIDE_ORIGIN && c.GetState() == jiexuv1.CaseState_CASE_STATE_CLOSED:
					n.orig = int(c.GetCount())
				case c.GetState() == jiexuv1.CaseState_CASE_STATE_REFUSED, c.GetState() == jiexuv1.CaseState_CASE_STATE_WITHDRAWN,
					c.GetState() == jiexuv1.CaseState_CASE_STATE_RETURNED:
					n.failed += int(c.GetCount())
				}
			}
			pending := 0
			for _, p := range st.GetPeers() {
				pending += int(p.GetPending())
			}
			n.peakPending = max(n.peakPending, pending)
			n.done = final && n.dest >= n.wantDest && n.orig >= n.wantOrig && pending == 0
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	done := 0
	for _, n := range w.nodes {
		if n.failed > 0 {
			return 0, fmt.Errorf("%w: node %s has cases refused, withdrawn or returned; see its node.log", bench.ErrCasesFailed, n.region)
		}
		done += min(n.orig, n.wantOrig)
	}
	return done, nil
}

// collect reads every case's end steps from its two nodes.
func collect(ctx context.Context, nw *devnet.Network, regions []string, cases []*simCase) error {
	byID := make(map[string]*simCase, len(cases))
	for _, c := range cases {
		byID[c.caseID] = c
	}
	sem := make(chan struct{}, 8)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(regions))
	for i, region := range regions {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for _, side := range []struct {
				side  jiexuv1.CaseSide
				state jiexuv1.CaseState
			}{{jiexuv1.CaseSide_CASE_SIDE_DESTINATION, jiexuv1.CaseState_CASE_STATE_COMPLETED}, {jiexuv1.CaseSide_CASE_SIDE_ORIGIN, jiexuv1.CaseState_CASE_STATE_CLOSED}} {
				token := ""
				for {
					resp, err := nw.Clients[region].ListCases(ctx, &jiexuv1.ListCasesRequest{Side: side.side, State: side.state, PageSize: 1000, PageToken: token})
					if err != nil {
						errs[i] = fmt.Errorf("list cases at %s: %w", region, err)
						return
					}
					mu.Lock()
					for _, pc := range resp.GetCases() {
						c := byID[pc.GetCaseId()]
						if c == nil {
							continue
						}
						at := stepAt(pc, side.state)
						if side.side == jiexuv1.CaseSide_CASE_SIDE_DESTINATION {
							c.destEnd = at
						} else {
							c.origEnd = at
						}
					}
					mu.Unlock()
					if token = resp.GetNextPageToken(); token == "" {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, c := range cases {
		if c.destEnd.IsZero() || c.origEnd.IsZero() {
			return fmt.Errorf("%w: case %s lacks its end step", bench.ErrCasesFailed, c.caseID)
		}
		c.end = c.destEnd
		if c.origEnd.After(c.end) {
			c.end = c.origEnd
		}
	}
	return nil
}

func stepAt(c *jiexuv1.Case, s jiexuv1.CaseState) time.Time {
	steps := c.GetSteps()
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].GetState() == s {
			return steps[i].GetAt().AsTime()
		}
	}
	return time.Time{}
}

// IdleNodeRSS starts a two-node network as separate processes of binary,
// lets it idle, and returns the larger of the two nodes' resident memory:
// what one pooling region's node costs when nothing moves.
func IdleNodeRSS(ctx context.Context, binary string) (int64, error) {
	dir, err := os.MkdirTemp("", "jiexu-idle-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	nw, err := bench.StartNetwork(ctx, bench.NetworkOptions{Binary: binary, Dir: filepath.Join(dir, "net"), Regions: []string{"150100", "150700"}})
	if err != nil {
		return 0, err
	}
	defer nw.Stop()
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(3 * time.Second):
	}
	var rss int64
	for _, n := range nw.Nodes {
		ps, err := bench.ReadProc(n.Proc.PID())
		if err != nil {
			return 0, err
		}
		rss = max(rss, ps.RSS)
	}
	return rss, nil
}

// selfStat is this process's memory and resources at one moment.
type selfStat struct {
	at         time.Time
	heapInuse  uint64 // after a GC
	heapAlloc  uint64
	sys        uint64
	rss        int64
	cpu        time.Duration
	goroutines int
	fds        int
}

func measureSelf() selfStat {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := selfStat{at: time.Now(), heapInuse: ms.HeapInuse, heapAlloc: ms.HeapAlloc, sys: ms.Sys, goroutines: runtime.NumGoroutine()}
	if ps, err := bench.ReadProc(os.Getpid()); err == nil {
		s.rss, s.cpu = ps.RSS, ps.CPU
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		s.fds = len(ents)
	}
	return s
}
