package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"jiexu/gateway/faultproxy"
	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/rules"
	"jiexu/node/store"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Faults chooses what a run does to the network.
type Faults struct {
	// Kill SIGKILLs a random node at a random instant and restarts it.
	Kill bool
	// Partition cuts a pair of nodes with connection resets; BlackHole cuts
	// a pair by swallowing their packets (no reset; connections in use stay
	// dead after the heal). Every pair is cut in turn.
	Partition, BlackHole bool
	// Registry takes the registry down and brings it back.
	Registry bool
	// Disk fills a node's disk (see DiskTmpfs, DiskRlimit).
	Disk bool
	// Restore takes a backup of every node a fifth of the way into the
	// run and, once each between 40% and 85% of it, stops the node,
	// restores that old backup with 'jiexu node restore' (which rolls it
	// forward from the peers) and starts it again; the records the workload
	// entered at the node since the backup are then entered again, as an
	// operator re-enters them from the bureau's system. The checker stays
	// as strict: whatever the roll-forward could not recover is a
	// violation. Off by default: a run with it takes longer.
	Restore bool
}

// AllFaults is every fault but Restore.
func AllFaults() Faults {
	return Faults{Kill: true, Partition: true, BlackHole: true, Registry: true, Disk: true}
}

// Options configure Run.
type Options struct {
	// Binary is the jiexu binary the nodes run.
	Binary string
	// Dir is the run's folder, new or empty; it keeps every log and, after
	// the run, every store.
	Dir string
	// Regions are the network's nodes (devnet.DefaultRegions when empty);
	// People how many each starts with.
	Regions []string
	People  int
	// Duration is how long faults are injected.
	Duration time.Duration
	// DrainTimeout bounds the wait, after the last fault healed, for every
	// outbox to empty and every case to end.
	DrainTimeout time.Duration
	// Seed makes the run's choices reproducible (the machine's timing does
	// not).
	Seed   uint64
	Faults Faults
	// Checker proves the invariants after the run (Invariants when nil).
	Checker Checker
	// Out receives one line per fault and the report.
	Out io.Writer
}

// Report is what a run did and found.
type Report struct {
	Duration, DrainTime time.Duration
	// Drained says whether every outbox emptied and every case ended
	// within DrainTimeout.
	Drained bool
	// KillCycles counts SIGKILLs (each followed by a restart), Partitions
	// and BlackHoles the pairs cut, PairsCut each pair's cuts.
	KillCycles, Partitions, BlackHoles, RegistryOutages, DiskFulls, Restores int
	PairsCut                                                                 map[string]int
	// RestoreNotes say, for each restore, how old its backup was and what
	// the roll-forward recovered.
	RestoreNotes []string
	// DiskMethod is how the disk was filled (DiskTmpfs, DiskRlimit, DiskNone).
	DiskMethod string
	// NotServingSeen counts disk-full faults during which the node was seen
	// reporting NOT_SERVING.
	NotServingSeen int
	// HealDrains are the times from a pair's heal until both its outboxes
	// towards each other were empty; HealDrainTimeouts those that took
	// longer than a minute.
	HealDrains        []time.Duration
	HealDrainTimeouts int
	// Transfers counts the applications made; Cases the destination cases
	// by final state.
	Transfers int
	Cases     map[string]int
	// Violations are the broken invariants, and restarts that failed.
	Violations []Violation
}

// Write prints the report.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "chaos run: %s of faults, then %s to drain (drained: %v)\n", r.Duration.Round(time.Second), r.DrainTime.Round(100*time.Millisecond), r.Drained)
	fmt.Fprintf(w, "  kill cycles        %d\n", r.KillCycles)
	pairs := make([]string, 0, len(r.PairsCut))
	for p, n := range r.PairsCut {
		pairs = append(pairs, fmt.Sprintf("%s×%d", p, n))
	}
	sort.Strings(pairs)
	fmt.Fprintf(w, "  partitions         %d reset, %d black-holed, over %d pairs (%s)\n", r.Partitions, r.BlackHoles, len(r.PairsCut), strings.Join(pairs, " "))
	fmt.Fprintf(w, "  registry outages   %d\n", r.RegistryOutages)
	fmt.Fprintf(w, "  disk full          %d (%s), NOT_SERVING seen in %d\n", r.DiskFulls, r.DiskMethod, r.NotServingSeen)
	if r.Restores > 0 {
		fmt.Fprintf(w, "  restores           %d\n", r.Restores)
		for _, n := range r.RestoreNotes {
			fmt.Fprintf(w, "    %s\n", n)
		}
	}
	if len(r.HealDrains) > 0 {
		d := slices.Clone(r.HealDrains)
		slices.Sort(d)
		fmt.Fprintf(w, "  drain after heal   min %s, median %s, max %s over %d heals; %d took over a minute\n",
			d[0].Round(10*time.Millisecond), d[len(d)/2].Round(10*time.Millisecond), d[len(d)-1].Round(10*time.Millisecond), len(d), r.HealDrainTimeouts)
	}
	states := make([]string, 0, len(r.Cases))
	for s, n := range r.Cases {
		states = append(states, fmt.Sprintf("%s %d", s, n))
	}
	sort.Strings(states)
	fmt.Fprintf(w, "  transfers applied  %d; destination cases: %s\n", r.Transfers, strings.Join(states, ", "))
	fmt.Fprintf(w, "  violations         %d\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintf(w, "    %s\n", v)
	}
}

// harness is one run.
type harness struct {
	o       Options
	layout  *devnet.Layout
	cfgs    map[string]node.Config
	kinds   map[string]string
	nodes   map[string]*process
	reg     *process
	proxies map[string]*faultproxy.Proxy
	callers *callers
	clients map[string]jiexuv1.AgencyServiceClient
	conns   []*grpc.ClientConn
	sockets []*os.File // the listening sockets passed to the processes
	mounted []string
	backups map[string]backup
	start   time.Time
	entered map[string][]entered // records the workload put, by node

	mu       sync.Mutex // guards report, busy, movers, outMu use
	report   *Report
	busy     map[string]bool // nodes a kill must leave alone (disk full, restore)
	movers   []mover
	baseline map[string]int64
	wg       sync.WaitGroup // heal-drain watchers
}

// mover is a person the workload moves from origin to dest.
type mover struct {
	person       *jiexuv1.Record
	origin, dest string
}

// Run builds a network of separate jiexu processes in o.Dir, puts a fault
// proxy in front of every node, moves people between the nodes while it
// kills nodes, cuts pairs, takes the registry down and fills disks, heals
// everything, waits for the network to drain, stops the nodes and checks
// the invariants on their stores.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Binary == "" || o.Dir == "" {
		return nil, errors.New("chaos: Binary and Dir are required")
	}
	if len(o.Regions) == 0 {
		o.Regions = devnet.DefaultRegions
	}
	if o.People == 0 { // enough for the workload's pace (about 5 a second)
		o.People = 20 + int(o.Duration.Seconds()*5)/len(o.Regions)
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 3 * time.Minute
	}
	if o.Checker == nil {
		o.Checker = Invariants{}
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	h := &harness{o: o, cfgs: map[string]node.Config{}, kinds: map[string]string{}, nodes: map[string]*process{},
		proxies: map[string]*faultproxy.Proxy{}, callers: &callers{pids: map[int]string{}}, clients: map[string]jiexuv1.AgencyServiceClient{},
		backups: map[string]backup{}, busy: map[string]bool{}, entered: map[string][]entered{},
		report: &Report{PairsCut: map[string]int{}, Cases: map[string]int{}, DiskMethod: DiskNone}}
	defer h.teardown()
	h.start = time.Now()
	if err := h.setup(ctx); err != nil {
		return nil, err
	}
	h.faultPhase(ctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	h.heal()
	h.drain(ctx)
	h.wg.Wait()
	h.stopAll()
	if err := h.check(); err != nil {
		return nil, err
	}
	h.report.Write(o.Out)
	return h.report, nil
}

func (h *harness) logf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(h.o.Out, "%7.1fs  %s\n", time.Since(h.start).Seconds(), fmt.Sprintf(format, args...))
}

func (h *harness) violation(inv, format string, args ...any) {
	v := Violation{Invariant: inv, Detail: fmt.Sprintf(format, args...)}
	h.logf("VIOLATION %s", v)
	h.mu.Lock()
	h.report.Violations = append(h.report.Violations, v)
	h.mu.Unlock()
}

// setup writes the network, mounts the disks, starts the proxies, the
// registry and the nodes, and loads the people.
func (h *harness) setup(ctx context.Context) error {
	l, err := devnet.Init(devnet.Options{Dir: h.o.Dir, Regions: h.o.Regions, People: h.o.People, Seed: h.o.Seed,
		RetryMin: 50 * time.Millisecond, RetryMax: 2 * time.Second, CallTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	h.layout = l
	// The harness keeps every port Init bound and passes it to the process
	// that serves on it at each start: a port freed while a node is down
	// could be taken by another program, and the node would not come back.
	// sockets takes the layout's ports by name, each passed under the
	// config key it stands for: {layout name, key}, ….
	sockets := func(names ...[2]string) ([]socket, error) {
		var out []socket
		for _, name := range names {
			lis := l.Listener(name[0])
			if lis == nil {
				continue
			}
			s, err := socketOf(name[1], lis)
			if err != nil {
				return nil, err
			}
			h.sockets = append(h.sockets, s.file)
			out = append(out, s)
		}
		return out, nil
	}
	if h.o.Faults.Disk {
		h.report.DiskMethod = DiskRlimit
		if err := mountTmpfs(filepath.Join(l.Dir, "probe-mount")); err == nil {
			_ = unmount(filepath.Join(l.Dir, "probe-mount"))
			h.report.DiskMethod = DiskTmpfs
		}
		_ = os.Remove(filepath.Join(l.Dir, "probe-mount"))
	}
	routes := map[string]string{}
	for _, nl := range l.Nodes {
		cfg, err := node.LoadConfig(nl.ConfigFile)
		if err != nil {
			return err
		}
		if h.report.DiskMethod == DiskTmpfs {
			if err := mountTmpfs(cfg.DataDir); err != nil {
				return err
			}
			h.mounted = append(h.mounted, cfg.DataDir)
			cfg.StoreMinFreeMiB = 1 // the tmpfs is small; full means full
		}
		if err := node.WriteConfig(nl.ConfigFile, cfg); err != nil {
			return err
		}
		h.cfgs[nl.Region], h.kinds[nl.Region] = cfg, nl.Kind
		p, err := faultproxy.New(cfg.Listen, faultproxy.WithClassifier(h.callers.classify))
		if err != nil {
			return err
		}
		h.proxies[nl.Region] = p
		routes[nl.Region] = p.Addr()
		socks, err := sockets([2]string{nl.Region + "/listen", "listen"}, [2]string{nl.Region + "/metrics", "metrics_listen"})
		if err != nil {
			return err
		}
		h.nodes[nl.Region] = &process{name: "node " + nl.Region, bin: h.o.Binary, log: filepath.Join(nl.Dir, "node.log"),
			args: []string{"node", "serve", "--config", nl.ConfigFile}, sockets: socks}
	}
	if err := devnet.RouteVia(l, routes, time.Now()); err != nil {
		return err
	}
	regSocks, err := sockets([2]string{"registry", "listen"})
	if err != nil {
		return err
	}
	h.reg = &process{name: "registry", bin: h.o.Binary, log: filepath.Join(l.RegistryDir, "registry.log"),
		args: []string{"registry", "serve", "--dir", l.RegistryDir, "--listen", l.RegistryAddr, "--tls", l.RegistryTLS}, sockets: regSocks}
	if err := h.reg.start(); err != nil {
		return err
	}
	for _, nl := range l.Nodes {
		if err := h.startNode(nl.Region); err != nil {
			return err
		}
		c, conn, err := node.DialAgency(h.cfgs[nl.Region].AgencyListen)
		if err != nil {
			return err
		}
		h.clients[nl.Region], h.conns = c, append(h.conns, conn)
	}
	h.baseline = map[string]int64{}
	rng := rand.New(rand.NewPCG(h.o.Seed, 0x63686f73))
	for _, nl := range l.Nodes {
		if err := h.waitReady(ctx, nl.Region, time.Minute); err != nil {
			return err
		}
		if _, err := h.clients[nl.Region].ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: nl.People},
			grpc.MaxCallSendMsgSize(node.MaxAgencyMessage)); err != nil {
			return fmt.Errorf("import into %s: %w", nl.Region, err)
		}
		for _, p := range nl.People {
			h.baseline[p.GetPerson().GetIdNumber()] += p.GetBalanceFen()
			dest := nl.Region
			for dest == nl.Region {
				dest = l.Nodes[rng.IntN(len(l.Nodes))].Region
			}
			h.movers = append(h.movers, mover{person: p, origin: nl.Region, dest: dest})
		}
	}
	rng.Shuffle(len(h.movers), func(i, j int) { h.movers[i], h.movers[j] = h.movers[j], h.movers[i] })
	h.logf("network up: %d nodes behind fault proxies, %d people to move, disk faults by %s", len(l.Nodes), len(h.movers), h.report.DiskMethod)
	return nil
}

func (h *harness) startNode(region string) error {
	p := h.nodes[region]
	if err := p.start(); err != nil {
		return err
	}
	h.callers.set(p.pid(), region)
	return nil
}

// waitReady waits until a node answers with a snapshot; a node that exits
// meanwhile (it refused its store, say) is an error with its log's tail.
func (h *harness) waitReady(ctx context.Context, region string, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := h.clients[region].GetStatus(cctx, &jiexuv1.GetStatusRequest{})
		cancel()
		switch {
		case err == nil && s.GetRegistryVersion() > 0:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !h.nodes[region].running():
			return fmt.Errorf("node %s exited: %s", region, tail(h.nodes[region].log, 5))
		case time.Now().After(deadline):
			return fmt.Errorf("node %s not ready after %s: %v", region, bound, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// faultPhase runs the workload and the faults for the run's duration.
func (h *harness) faultPhase(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, h.o.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); h.workload(ctx, rand.New(rand.NewPCG(h.o.Seed, uint64(i)))) }()
	}
	if h.o.Faults.Kill {
		wg.Add(1)
		go func() { defer wg.Done(); h.killer(ctx, rand.New(rand.NewPCG(h.o.Seed, 100))) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); h.faulter(ctx, rand.New(rand.NewPCG(h.o.Seed, 200))) }()
	if h.o.Faults.Restore {
		wg.Add(1)
		go func() { defer wg.Done(); h.restorer(ctx, rand.New(rand.NewPCG(h.o.Seed, 300))) }()
	}
	wg.Wait()
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// workload moves people, one at a time per worker.
func (h *harness) workload(ctx context.Context, rng *rand.Rand) {
	for sleep(ctx, between(rng, 100*time.Millisecond, 300*time.Millisecond)) {
		h.mu.Lock()
		if len(h.movers) == 0 {
			h.mu.Unlock()
			return
		}
		m := h.movers[0]
		h.movers = h.movers[1:]
		h.mu.Unlock()
		if h.move(ctx, m) {
			h.mu.Lock()
			h.report.Transfers++
			h.mu.Unlock()
		}
	}
}

// call retries an agency call (nodes die under it) until it succeeds, done
// says it took effect, or ctx ends.
func (h *harness) call(ctx context.Context, fn func(ctx context.Context) error, done func(error) bool) bool {
	for attempt := 0; ctx.Err() == nil && attempt < 100; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := fn(cctx)
		cancel()
		if err == nil || done(err) {
			return true
		}
		if !sleep(ctx, 200*time.Millisecond) {
			return false
		}
	}
	return false
}

// move suspends the person at the origin (the person leaves), enrols them
// at the destination and applies there.
func (h *harness) move(ctx context.Context, m mover) bool {
	id := m.person.GetPerson().GetIdNumber()
	if m.person.GetScheme() != jiexuv1.Scheme_SCHEME_NCMS || h.kinds[m.dest] == "ncms" {
		last := rules.YearMonthOf(time.Now().AddDate(0, -1, 0))
		if rules.MonthIndex(last) < rules.MonthIndex(m.person.GetEnrolledFrom()) {
			last = m.person.GetEnrolledFrom()
		}
		c := h.clients[m.origin]
		ok := h.call(ctx, func(ctx context.Context) error {
			_, err := c.SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{IdNumber: id, LastMonth: last})
			return err
		}, func(error) bool { // committed before a kill lost the answer?
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			e, err := c.GetEnrolment(cctx, &jiexuv1.GetEnrolmentRequest{IdNumber: id})
			ps := e.GetEnrolment().GetPeriods()
			return err == nil && len(ps) > 0 && ps[len(ps)-1].GetStatus() == jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED
		})
		if !ok {
			return false
		}
	}
	// The proof the person presents at the destination: the certificate
	// the origin issued at the suspension, or the NCMS card.
	var proof devnet.Proof
	if !h.call(ctx, func(ctx context.Context) error {
		var err error
		proof, err = devnet.ProofOf(ctx, h.clients[m.origin], m.person)
		return err
	}, func(error) bool { return false }) {
		return false
	}
	var layout devnet.NodeLayout
	for _, nl := range h.layout.Nodes {
		if nl.Region == m.dest {
			layout = nl
		}
	}
	c := h.clients[m.dest]
	rec := devnet.DestinationRecord(m.person, layout, time.Now())
	h.mu.Lock()
	h.entered[m.dest] = append(h.entered[m.dest], entered{rec: rec, at: time.Now()})
	h.mu.Unlock()
	if !h.call(ctx, func(ctx context.Context) error {
		_, err := c.PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: rec})
		return err
	}, func(error) bool { return false }) {
		return false
	}
	tried := false
	return h.call(ctx, func(ctx context.Context) error {
		if tried {
			switch done, err := h.applied(ctx, c, id); {
			case err != nil:
				return err // cannot tell yet: never apply twice
			case done:
				return nil // the last attempt committed before its answer was lost
			}
		}
		tried = true
		_, err := c.ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: id, Name: m.person.GetPerson().GetName(), OriginDivision: m.origin,
			CertificateNumber: proof.Certificate, VerificationCode: proof.Code, OriginInsuranceNumber: proof.Card})
		return err
	}, func(err error) bool {
		switch status.Code(err) {
		case codes.AlreadyExists: // applied before a kill lost the answer
			return true
		case codes.FailedPrecondition, codes.InvalidArgument:
			h.logf("application for %s at %s refused: %v", rules.MaskID(id), m.dest, err)
			return true
		}
		return false
	})
}

// applied reports whether the destination has a case for the person among
// its newest ones (an application is never repeated blindly: a second one
// would be a second case).
func (h *harness) applied(ctx context.Context, c jiexuv1.AgencyServiceClient, id string) (bool, error) {
	resp, err := c.ListCases(ctx, &jiexuv1.ListCasesRequest{Side: jiexuv1.CaseSide_CASE_SIDE_DESTINATION, PageSize: 1000})
	if err != nil {
		return false, err
	}
	for _, cs := range resp.GetCases() {
		if cs.GetPerson().GetIdNumber() == id {
			return true, nil
		}
	}
	return false, nil
}

// claim marks a node busy (no kill), reporting whether it was free.
func (h *harness) claim(region string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.busy[region] {
		return false
	}
	h.busy[region] = true
	return true
}

func (h *harness) release(region string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.busy, region)
}

// killer SIGKILLs a random node at a random instant, waits, restarts it.
func (h *harness) killer(ctx context.Context, rng *rand.Rand) {
	regions := slices.Sorted(func(yield func(string) bool) {
		for r := range h.nodes {
			if !yield(r) {
				return
			}
		}
	})
	for sleep(ctx, between(rng, 200*time.Millisecond, 2*time.Second)) {
		r := regions[rng.IntN(len(regions))]
		if !h.claim(r) {
			continue
		}
		_ = h.nodes[r].stop(syscall.SIGKILL)
		down := between(rng, 100*time.Millisecond, 1500*time.Millisecond)
		time.Sleep(down)
		h.mu.Lock()
		h.report.KillCycles++
		n := h.report.KillCycles
		h.mu.Unlock()
		h.restart(r, fmt.Sprintf("kill %d", n))
		h.logf("kill %d: %s SIGKILLed, down %s, serving again", n, r, down.Round(time.Millisecond))
		h.release(r)
	}
}

// restart starts a node and waits until it serves; a node that will not is
// a violation (a store refused after a crash would be one).
func (h *harness) restart(region, why string) {
	for attempt := 1; attempt <= 3; attempt++ {
		if err := h.startNode(region); err != nil {
			h.violation("restart", "%s: %s: %v", why, region, err)
			return
		}
		err := h.waitReady(context.Background(), region, 2*time.Minute)
		if err == nil {
			return
		}
		if attempt == 3 || h.nodes[region].running() {
			h.violation("restart", "%s: %s does not serve again: %v", why, region, err)
			return
		}
		time.Sleep(time.Second)
	}
}

// faulter cuts pairs, takes the registry down, fills disks, restores.
func (h *harness) faulter(ctx context.Context, rng *rand.Rand) {
	var pairs [][2]string
	for i, a := range h.o.Regions {
		for _, b := range h.o.Regions[i+1:] {
			pairs = append(pairs, [2]string{a, b})
		}
	}
	rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	var kinds []string
	f := h.o.Faults
	if f.Partition || f.BlackHole {
		kinds = append(kinds, "cut", "cut") // the most common fault
	}
	if f.Registry {
		kinds = append(kinds, "registry")
	}
	if f.Disk && h.report.DiskMethod != DiskNone {
		kinds = append(kinds, "disk")
	}
	if len(kinds) == 0 {
		<-ctx.Done()
		return
	}
	next := 0
	// The kinds come in rounds, each kind once a round in a shuffled order,
	// so that even a short run injects every kind of fault.
	var round []string
	for sleep(ctx, between(rng, 300*time.Millisecond, 1500*time.Millisecond)) {
		if len(round) == 0 {
			round = slices.Clone(kinds)
			rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		}
		kind := round[0]
		round = round[1:]
		switch kind {
		case "cut":
			// Every pair in turn; the kind alternates from cut to cut and
			// shifts by one each round, so every pair gets both.
			pair, round := pairs[next%len(pairs)], next/len(pairs)
			blackhole := f.BlackHole && (!f.Partition || (next+round)%2 == 1)
			next++
			h.cut(ctx, rng, pair, blackhole)
		case "registry":
			h.registryOutage(ctx, rng)
		case "disk":
			h.diskFull(ctx, rng)
		}
	}
}

// cut partitions a pair of nodes (both directions), holds, heals, and
// measures how long the pair's outboxes take to drain.
func (h *harness) cut(ctx context.Context, rng *rand.Rand, pair [2]string, blackhole bool) {
	a, b := pair[0], pair[1]
	fault, what := faultproxy.Partition(), "reset"
	if blackhole {
		fault, what = faultproxy.Both(faultproxy.BlackHole), "black-hole"
	}
	h.proxies[b].SetFor(a, fault)
	h.proxies[a].SetFor(b, fault)
	hold := between(rng, 2*time.Second, 5*time.Second)
	sleep(ctx, hold)
	h.proxies[b].HealFor(a)
	h.proxies[a].HealFor(b)
	h.mu.Lock()
	if blackhole {
		h.report.BlackHoles++
	} else {
		h.report.Partitions++
	}
	h.report.PairsCut[a+"-"+b]++
	h.mu.Unlock()
	h.logf("cut %s-%s (%s) for %s, healed", a, b, what, hold.Round(time.Millisecond))
	healed := time.Now()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for time.Since(healed) < time.Minute {
			if h.pending(a, b) == 0 && h.pending(b, a) == 0 {
				h.mu.Lock()
				h.report.HealDrains = append(h.report.HealDrains, time.Since(healed))
				h.mu.Unlock()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		h.mu.Lock()
		h.report.HealDrainTimeouts++
		h.mu.Unlock()
		h.logf("pair %s-%s: outboxes not drained a minute after the heal", a, b)
	}()
}

// pending returns how many messages from's node queues for to, -1 when it
// cannot tell (the node is down).
func (h *harness) pending(from, to string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := h.clients[from].ListOutbox(ctx, &jiexuv1.ListOutboxRequest{PeerRegion: to})
	if err != nil {
		return -1
	}
	return len(resp.GetMessages())
}

// registryOutage kills the registry and restarts it.
func (h *harness) registryOutage(ctx context.Context, rng *rand.Rand) {
	_ = h.reg.stop(syscall.SIGKILL)
	down := between(rng, 2*time.Second, 6*time.Second)
	sleep(ctx, down)
	if err := h.reg.start(); err != nil {
		h.violation("registry", "restart: %v", err)
		return
	}
	h.mu.Lock()
	h.report.RegistryOutages++
	h.mu.Unlock()
	h.logf("registry down for %s, back", down.Round(time.Millisecond))
}

// diskFull fills a node's disk, holds, and frees it.
func (h *harness) diskFull(ctx context.Context, rng *rand.Rand) {
	r := h.o.Regions[rng.IntN(len(h.o.Regions))]
	if !h.claim(r) {
		return
	}
	defer h.release(r)
	dir := h.cfgs[r].DataDir
	switch h.report.DiskMethod {
	case DiskTmpfs:
		if _, err := fill(dir); err != nil {
			h.logf("disk full on %s: %v", r, err)
			_ = unfill(dir)
			return
		}
	case DiskRlimit:
		fi, err := os.Stat(filepath.Join(dir, store.FileName))
		if err != nil || limitFileSize(h.nodes[r].pid(), uint64(fi.Size())) != nil {
			return
		}
	}
	// Longer than the node's health period (5s), so that it must notice.
	hold := between(rng, 6*time.Second, 9*time.Second)
	seen := false
	for end := time.Now().Add(hold); time.Now().Before(end) && ctx.Err() == nil; time.Sleep(250 * time.Millisecond) {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := h.clients[r].GetStatus(cctx, &jiexuv1.GetStatusRequest{})
		cancel()
		seen = seen || (err == nil && strings.Contains(s.GetHealthReason(), "store"))
	}
	if h.report.DiskMethod == DiskTmpfs {
		if err := unfill(dir); err != nil {
			h.violation("disk", "free %s: %v", dir, err)
		}
	} else {
		_ = limitFileSize(h.nodes[r].pid(), 0)
	}
	h.mu.Lock()
	h.report.DiskFulls++
	if seen {
		h.report.NotServingSeen++
	}
	h.mu.Unlock()
	h.logf("disk full on %s for %s (%s), freed; NOT_SERVING seen: %v", r, hold.Round(time.Millisecond), h.report.DiskMethod, seen)
}

// backup is a node's backup file and when it was taken.
type backup struct {
	file string
	at   time.Time
}

// entered is a record the workload put at a node, and when.
type entered struct {
	rec *jiexuv1.Record
	at  time.Time
}

// restorer takes a backup of every node a fifth of the way into the run,
// then restores each node once from it, at instants spread over 40% to
// 85% of the run: the backup is old by then, and the node has completed
// cases, both as origin and as destination, that the roll-forward must
// recover.
func (h *harness) restorer(ctx context.Context, rng *rand.Rand) {
	began := time.Now()
	if !sleep(ctx, h.o.Duration/5) {
		return
	}
	regions := slices.Clone(h.o.Regions)
	for _, r := range regions {
		h.takeBackup(ctx, r)
	}
	rng.Shuffle(len(regions), func(i, j int) { regions[i], regions[j] = regions[j], regions[i] })
	slot := h.o.Duration * 45 / 100 / time.Duration(len(regions))
	for i, r := range regions {
		at := began.Add(h.o.Duration*40/100 + time.Duration(i)*slot + between(rng, 0, slot*3/4))
		if !sleep(ctx, time.Until(at)) {
			return
		}
		h.restore(ctx, r)
	}
}

// takeBackup backs a node up with 'jiexu node backup', claiming it so that
// no kill lands meanwhile.
func (h *harness) takeBackup(ctx context.Context, r string) {
	for attempt := 0; ctx.Err() == nil && attempt < 60; attempt++ {
		if !h.claim(r) {
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		at := time.Now()
		file := filepath.Join(h.layout.Dir, "backup-"+r+".db")
		out, err := exec.Command(h.o.Binary, "node", "backup", "--config", h.layoutOf(r).ConfigFile, "--out", file).CombinedOutput()
		h.release(r)
		if err == nil {
			h.mu.Lock()
			h.backups[r] = backup{file: file, at: at}
			h.mu.Unlock()
			h.logf("backed up %s", r)
			return
		}
		h.logf("backup of %s failed (attempt %d): %v: %s", r, attempt+1, err, strings.TrimSpace(string(out)))
		sleep(ctx, time.Second)
	}
	h.violation("restore", "%s: no backup could be taken", r)
}

// restore stops a node, restores its old backup (rolled forward from the
// peers), starts it again and enters again the records put at it since the
// backup.
func (h *harness) restore(ctx context.Context, r string) {
	h.mu.Lock()
	b, ok := h.backups[r]
	h.mu.Unlock()
	if !ok {
		return
	}
	for !h.claim(r) {
		if !sleep(ctx, 200*time.Millisecond) {
			return
		}
	}
	defer h.release(r)
	_ = h.nodes[r].stop(syscall.SIGTERM)
	start := time.Now()
	out, err := exec.Command(h.o.Binary, "node", "restore", "--config", h.layoutOf(r).ConfigFile, "--from", b.file, "--peer-wait", "1m").CombinedOutput()
	if err != nil {
		h.violation("restore", "%s: %v: %s", r, err, out)
	}
	took := time.Since(start)
	var recovered, decide, notAsked int
	for line := range strings.Lines(string(out)) {
		switch t := strings.TrimSpace(line); {
		case strings.HasPrefix(t, "recovered:"):
			recovered++
		case strings.HasPrefix(t, "DECIDE:"):
			decide++
			h.logf("restore of %s: %s", r, t)
		case strings.HasPrefix(t, "NOT ASKED:"):
			notAsked++
			h.logf("restore of %s: %s", r, t)
		}
	}
	h.restart(r, "restore")
	h.mu.Lock()
	var again []*jiexuv1.Record
	for _, e := range h.entered[r] {
		if !e.at.Before(b.at.Add(-5 * time.Second)) {
			again = append(again, e.rec)
		}
	}
	h.mu.Unlock()
	reentered := 0
	for _, rec := range again {
		// Only a record the restore lost: one that survived has moved on
		// (a credit booked), and the workload's copy is older.
		h.call(ctx, func(ctx context.Context) error {
			_, err := h.clients[r].GetEnrolment(ctx, &jiexuv1.GetEnrolmentRequest{IdNumber: rec.GetPerson().GetIdNumber()})
			if status.Code(err) != codes.NotFound {
				return err
			}
			_, err = h.clients[r].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: rec})
			if err == nil {
				reentered++
			}
			return err
		}, func(err error) bool { return status.Code(err) == codes.FailedPrecondition })
	}
	note := fmt.Sprintf("%s from its backup of %s earlier (restore took %s): %d recovered, %d to decide, %d peers not asked; %d records entered again",
		r, time.Since(b.at).Round(time.Second), took.Round(100*time.Millisecond), recovered, decide, notAsked, reentered)
	h.mu.Lock()
	h.report.Restores++
	h.report.RestoreNotes = append(h.report.RestoreNotes, note)
	h.mu.Unlock()
	h.logf("restored %s", note)
}

func (h *harness) layoutOf(region string) devnet.NodeLayout {
	for _, nl := range h.layout.Nodes {
		if nl.Region == region {
			return nl
		}
	}
	return devnet.NodeLayout{}
}

// heal ends every fault and makes sure every process runs.
func (h *harness) heal() {
	for _, p := range h.proxies {
		p.Heal()
	}
	for r, cfg := range h.cfgs {
		if h.report.DiskMethod == DiskTmpfs {
			_ = unfill(cfg.DataDir)
		} else if pid := h.nodes[r].pid(); pid > 0 {
			_ = limitFileSize(pid, 0)
		}
	}
	if !h.reg.running() {
		_ = h.reg.start()
	}
	for _, r := range h.o.Regions {
		if !h.nodes[r].running() {
			h.restart(r, "heal")
		}
	}
	h.logf("healed: every proxy passes, every disk has room, every process runs")
}

// drain waits until every outbox is empty and every case has ended.
func (h *harness) drain(ctx context.Context) {
	start := time.Now()
	quiet := 0
	for time.Since(start) < h.o.DrainTimeout && ctx.Err() == nil {
		if h.quiescent(ctx) {
			quiet++
			if quiet == 2 {
				h.report.Drained = true
				break
			}
		} else {
			quiet = 0
		}
		time.Sleep(500 * time.Millisecond)
	}
	h.report.DrainTime = time.Since(start)
	h.report.Duration = h.o.Duration
	h.logf("drained: %v after %s", h.report.Drained, h.report.DrainTime.Round(100*time.Millisecond))
}

// quiescent reports whether no node queues anything and every case ended.
func (h *harness) quiescent(ctx context.Context) bool {
	for _, r := range h.o.Regions {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := h.clients[r].GetStatus(cctx, &jiexuv1.GetStatusRequest{})
		if err != nil {
			cancel()
			return false
		}
		for _, p := range s.GetPeers() {
			if p.GetPending() > 0 {
				cancel()
				return false
			}
		}
		for _, c := range s.GetCases() {
			if !transfer.Terminal(c.GetState()) && c.GetCount() > 0 {
				cancel()
				return false
			}
		}
		cancel()
	}
	return true
}

// stopAll stops every node and the registry gracefully.
func (h *harness) stopAll() {
	for _, c := range h.conns {
		c.Close()
	}
	h.conns = nil
	var wg sync.WaitGroup
	for r, p := range h.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.stop(syscall.SIGTERM); err != nil {
				h.violation("stop", "%s: %v", r, err)
			}
		}()
	}
	wg.Wait()
	_ = h.reg.stop(syscall.SIGTERM)
}

// check reads every store and runs the checker; the stores are copied out
// of their tmpfs first, so they outlive the run.
func (h *harness) check() error {
	o := &Outcome{Stores: map[string]*node.StoreDump{}, Baseline: h.baseline, Drained: h.report.Drained}
	for _, r := range h.o.Regions {
		dir := h.cfgs[r].DataDir
		keep := filepath.Join(h.layoutOf(r).Dir, "after-run")
		if err := os.MkdirAll(keep, 0o700); err != nil {
			return err
		}
		for _, name := range []string{store.FileName, store.SidecarName} {
			if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				_ = os.WriteFile(filepath.Join(keep, name), data, 0o600)
			}
		}
		d, err := node.DumpStore(filepath.Join(keep, store.FileName))
		if err != nil {
			h.violation("store", "%s: %v", r, err)
			continue
		}
		o.Stores[r] = d
		for _, c := range d.Cases {
			if c.GetSide() == jiexuv1.CaseSide_CASE_SIDE_DESTINATION {
				h.report.Cases[strings.TrimPrefix(c.GetState().String(), "CASE_STATE_")]++
			}
		}
	}
	h.report.Violations = append(h.report.Violations, h.o.Checker.Check(o)...)
	return nil
}

// teardown stops what is left and unmounts the disks.
func (h *harness) teardown() {
	for _, c := range h.conns {
		c.Close()
	}
	for _, p := range h.nodes {
		if p.running() {
			_ = p.stop(syscall.SIGKILL)
		}
	}
	if h.reg != nil && h.reg.running() {
		_ = h.reg.stop(syscall.SIGKILL)
	}
	for _, p := range h.proxies {
		p.Close()
	}
	for _, f := range h.sockets {
		f.Close()
	}
	if h.layout != nil {
		h.layout.Close()
	}
	for _, dir := range h.mounted {
		_ = unmount(dir)
	}
}
