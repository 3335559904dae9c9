package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"jiexu/node/devnet"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// Options configures Run. NewOptions fills the defaults.
type Options struct {
	// Binary is the jiexu executable that runs the registry and the nodes.
	Binary string
	// Dir is where the network is written: empty for a temporary folder,
	// removed afterwards unless Keep.
	Dir  string
	Keep bool
	// Nodes is how many nodes run (each a separate process), at least 2.
	Nodes int
	// OneWay sends every case from the first node to the second; otherwise
	// case i goes from node i mod N to the next node, so every node is an
	// origin and a destination.
	OneWay bool
	// Cases is how many transfers are applied (and people loaded).
	Cases int
	// Duration, when set, stops applying after this long (or after Cases).
	Duration time.Duration
	// Rate is applications a second; 0 applies flat out.
	Rate float64
	// Concurrency bounds the agency calls in flight.
	Concurrency int
	// Timeout bounds the wait for the last case after the last application.
	Timeout time.Duration
	// ProfileDir, when set, turns on debug_pprof in the nodes and saves a
	// CPU profile of ProfileSeconds from each node, taken while the cases
	// run, and its allocation profiles before and after.
	ProfileDir     string
	ProfileSeconds int
	// LogLevel is the nodes' log level ("" keeps the default, info).
	LogLevel string
	// ProductionLimits keeps the nodes' default per-peer limits (see
	// Unlimited).
	ProductionLimits bool
	// BatchSeals turns on the nodes' batch_seals.
	BatchSeals bool
	// Progress receives a line a second while cases run; nil for none.
	Progress io.Writer
	// Seed makes the synthetic people reproducible; 0 picks one.
	Seed uint64
}

// MaxProfileSeconds bounds a CPU profile: the node's metrics listener,
// which serves it, ends a response after 30 s.
const MaxProfileSeconds = 25

// NewOptions returns the defaults: 2 nodes, 2,000 cases, 32 calls in flight.
func NewOptions() Options {
	return Options{Nodes: 2, Cases: 2000, Concurrency: 32, Timeout: 10 * time.Minute, ProfileSeconds: 15}
}

// Validate names the first bad option.
func (o *Options) Validate() error {
	switch {
	case o.Binary == "":
		return errors.New("binary: the jiexu executable is required")
	case o.Nodes < 2:
		return fmt.Errorf("nodes: %d; a transfer needs at least 2", o.Nodes)
	case o.Nodes > 64:
		return fmt.Errorf("nodes: %d; at most 64 processes (use 'jiexu bench nation' for the whole country)", o.Nodes)
	case o.Cases < 1:
		return fmt.Errorf("cases: %d; at least 1", o.Cases)
	case o.Cases > 10_000_000:
		return fmt.Errorf("cases: %d; at most 10,000,000", o.Cases)
	case o.Concurrency < 1 || o.Concurrency > 4096:
		return fmt.Errorf("concurrency: %d; 1 to 4096", o.Concurrency)
	case o.Rate < 0:
		return fmt.Errorf("rate: %g; 0 (flat out) or a positive rate", o.Rate)
	case o.Duration < 0:
		return errors.New("duration: must not be negative")
	case o.Timeout <= 0:
		return errors.New("timeout: must be positive")
	case o.ProfileDir != "" && (o.ProfileSeconds < 1 || o.ProfileSeconds > MaxProfileSeconds):
		return fmt.Errorf("profile-seconds: %d; 1 to %d (the metrics listener's write timeout is 30 s)", o.ProfileSeconds, MaxProfileSeconds)
	}
	return nil
}

// A case of the bench: one person moving from origin to dest.
type benchCase struct {
	origin, dest int // node indexes
	person       *jiexuv1.Record
	proof        devnet.Proof  // the certificate the applicant presents
	start        time.Time     // when it was due (rate) or sent (flat out)
	apply        time.Duration // the ApplyTransfer call
	caseID       string
}

// Run starts a network of separate node processes, loads people, applies
// the cases, waits until every case has completed at its destination and
// closed at its origin, and measures. It stops every process it started
// before it returns, also when ctx is cancelled (Ctrl-C) or on error.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	res := &Result{Started: time.Now(), Concurrency: o.Concurrency, TargetRate: o.Rate, Pattern: "ring", ProductionLimits: o.ProductionLimits, BatchSeals: o.BatchSeals,
		CPUs: runtime.NumCPU(), LoadAverage: LoadAverage()}
	if o.OneWay {
		res.Pattern = "one-way"
	}
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "jiexu-bench-"); err != nil {
			return nil, err
		}
		if !o.Keep {
			defer os.RemoveAll(dir)
		}
	}
	t := registry.DefaultTable()
	regions := benchRegions(t, o.Nodes)
	res.Regions = regions
	setup := time.Now()
	nw, err := StartNetwork(ctx, NetworkOptions{Binary: o.Binary, Dir: dir, Regions: regions, Pprof: o.ProfileDir != "", LogLevel: o.LogLevel, ProductionLimits: o.ProductionLimits, BatchSeals: o.BatchSeals})
	if err != nil {
		return nil, err
	}
	defer nw.Stop()
	res.Dir = dir
	idle := make([]ProcStat, len(nw.Nodes))
	for i, n := range nw.Nodes {
		idle[i], _ = ReadProc(n.Proc.PID())
	}
	res.SetupSeconds = time.Since(setup).Seconds()

	load := time.Now()
	cases := plan(t, o, len(regions), time.Now())
	if err := loadPeople(ctx, nw, cases, time.Now()); err != nil {
		return nil, err
	}
	res.LoadSeconds = time.Since(load).Seconds()

	before, err := nw.sample(ctx)
	if err != nil {
		return nil, err
	}
	var profiles sync.WaitGroup
	profileErr := make(chan error, 2*len(nw.Nodes))
	if o.ProfileDir != "" {
		if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
			return nil, err
		}
		for _, n := range nw.Nodes {
			if err := nw.fetch(ctx, n, "/debug/pprof/allocs", filepath.Join(o.ProfileDir, n.Region+".allocs-before.pprof")); err != nil {
				return nil, err
			}
			profiles.Go(func() {
				f := filepath.Join(o.ProfileDir, n.Region+".cpu.pprof")
				if err := nw.fetch(ctx, n, fmt.Sprintf("/debug/pprof/profile?seconds=%d", o.ProfileSeconds), f); err != nil {
					profileErr <- err
				}
			})
			res.Profiles = append(res.Profiles, filepath.Join(o.ProfileDir, n.Region+".cpu.pprof"))
		}
	}

	applied, err := drive(ctx, nw, o, cases, before)
	if err != nil {
		return nil, err
	}
	after, err := nw.sample(ctx)
	if err != nil {
		return nil, err
	}
	profiles.Wait()
	close(profileErr)
	for err := range profileErr {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if o.ProfileDir != "" {
		for _, n := range nw.Nodes {
			f := filepath.Join(o.ProfileDir, n.Region+".allocs-after.pprof")
			if err := nw.fetch(ctx, n, "/debug/pprof/allocs", f); err != nil {
				return nil, err
			}
			res.Profiles = append(res.Profiles, filepath.Join(o.ProfileDir, n.Region+".allocs-before.pprof"), f)
		}
	}
	if err := collect(ctx, nw, applied, res); err != nil {
		return nil, err
	}
	res.measure(nw, idle, before, after, applied)
	return res, nil
}

// plan picks the cases: who moves from where to where.
func plan(t *registry.Table, o Options, nodes int, now time.Time) []*benchCase {
	rng := rand.New(rand.NewPCG(o.Seed, 0x62656e6368))
	perOrigin := make([]int, nodes)
	cases := make([]*benchCase, o.Cases)
	for i := range cases {
		c := &benchCase{origin: i % nodes, dest: (i + 1) % nodes}
		if o.OneWay {
			c.origin, c.dest = 0, 1
		}
		perOrigin[c.origin]++
		cases[i] = c
	}
	regions := benchRegions(t, nodes)
	people := make([][]*jiexuv1.Record, nodes)
	for i, n := range perOrigin {
		if n > 0 {
			people[i] = devnet.SyntheticPeople(rng, t, regions[i], "insurance", n, now)
		}
	}
	next := make([]int, nodes)
	for _, c := range cases {
		c.person = people[c.origin][next[c.origin]]
		next[c.origin]++
		Employee(rng, c.person)
		Suspend(c.person, now)
	}
	return cases
}

// Employee puts a synthetic person in the employee scheme with a personal
// account, so that the transfer carries every message: notice,
// certificate, remittance and confirmation. (devnet makes every fifth
// person a resident-scheme member, whose transfer has no money to move.)
func Employee(rng *rand.Rand, p *jiexuv1.Record) {
	if p.GetScheme() == jiexuv1.Scheme_SCHEME_EMPLOYEE && p.GetBalanceFen() > 0 {
		return
	}
	p.Scheme, p.BalanceFen = jiexuv1.Scheme_SCHEME_EMPLOYEE, 1+rng.Int64N(5_000_000)
}

// Suspend marks a synthetic person as having left the origin last month
// (中止参保): imported so, the origin suspends the enrolment and issues the
// certificate in the import's transaction.
func Suspend(p *jiexuv1.Record, now time.Time) {
	cst := now.In(rules.CST)
	last := rules.YearMonthOf(time.Date(cst.Year(), cst.Month(), 0, 12, 0, 0, 0, rules.CST))
	if rules.MonthIndex(last) < rules.MonthIndex(p.GetEnrolledFrom()) {
		last = p.GetEnrolledFrom()
	}
	p.Status, p.EnrolledTo, p.SuspendedOn = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED, last, rules.DateOf(now)
	p.MonthsPaid = min(p.GetMonthsPaid(), int32(rules.ContinuousMonths(p.GetEnrolledFrom(), last)))
}

// ScrapeEvery is how often a bench reads the nodes' /metrics while cases
// run: often enough for a progress line, seldom enough not to matter (one
// scrape cost a saturated node about 20 ms of CPU in the first profiles).
const ScrapeEvery = 2 * time.Second

// importChunk is how many records one ImportRecords call carries: one
// transaction, each suspended record sealing a certificate.
const importChunk = 2000

// loadPeople imports every person suspended at the origin and enrolled at
// the destination, each node's records in transactions of importChunk.
func loadPeople(ctx context.Context, nw *Network, cases []*benchCase, now time.Time) error {
	records := make([][]*jiexuv1.Record, len(nw.Nodes))
	for _, c := range cases {
		records[c.origin] = append(records[c.origin], c.person)
	}
	for _, c := range cases {
		dest := devnet.NodeLayout{Region: nw.Nodes[c.dest].Region, Kind: "insurance"}
		records[c.dest] = append(records[c.dest], devnet.DestinationRecord(c.person, dest, now))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(nw.Nodes))
	for i, n := range nw.Nodes {
		wg.Go(func() {
			for rs := range chunks(records[i], importChunk) {
				if _, err := n.Client.ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: rs}); err != nil {
					errs[i] = fmt.Errorf("import into %s: %w", n.Region, err)
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
	for i, n := range nw.Nodes {
		var ids []string
		for _, c := range cases {
			if c.origin == i {
				ids = append(ids, c.person.GetPerson().GetIdNumber())
			}
		}
		if len(ids) == 0 {
			continue
		}
		proofs, err := Proofs(ctx, n.Client, ids)
		if err != nil {
			return fmt.Errorf("proofs at %s: %w", n.Region, err)
		}
		for _, c := range cases {
			if c.origin == i {
				c.proof = proofs[c.person.GetPerson().GetIdNumber()]
			}
		}
	}
	return nil
}

func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// drive applies the cases at their destinations, flat out or at the rate,
// with at most Concurrency calls in flight, until Cases or Duration; then
// waits until every applied case has ended on both sides. It returns the
// cases applied.
func drive(ctx context.Context, nw *Network, o Options, cases []*benchCase, before *sample) ([]*benchCase, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		sem     = make(chan struct{}, o.Concurrency)
		wg      sync.WaitGroup
		issued  atomic.Int64
		applied atomic.Int64
		start   = time.Now()
	)
	prog := newProgress(o.Progress, len(cases), start)
	dispatchDone := make(chan struct{})
	go func() {
		defer close(dispatchDone)
		for i, c := range cases {
			due := time.Now()
			if o.Rate > 0 {
				due = start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
				if wait := time.Until(due); wait > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(wait):
					}
				}
			}
			if o.Duration > 0 && time.Since(start) >= o.Duration {
				return
			}
			select {
			case <-ctx.Done():
				return
			case sem <- struct{}{}:
			}
			if o.Rate == 0 {
				due = time.Now()
			}
			issued.Add(1)
			wg.Go(func() {
				defer func() { <-sem }()
				c.start = due
				n := nw.Nodes[c.dest]
				sent := time.Now()
				resp, err := n.Client.ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{
					IdNumber: c.person.GetPerson().GetIdNumber(), Name: c.person.GetPerson().GetName(),
					OriginDivision: nw.Nodes[c.origin].Region, CertificateNumber: c.proof.Certificate, VerificationCode: c.proof.Code})
				if err != nil {
					cancel(fmt.Errorf("apply at %s (%s): %w", n.Region, rules.MaskID(c.person.GetPerson().GetIdNumber()), err))
					return
				}
				c.apply = time.Since(sent)
				c.caseID = resp.GetCase().GetCaseId()
				applied.Add(1)
			})
		}
	}()

	// Watch the nodes until the dispatcher is done and every applied case
	// has ended on both sides. A scrape is not free for a node (its case
	// gauges read every open case), so it comes every ScrapeEvery only.
	var deadline time.Time
	tick := time.NewTicker(ScrapeEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil, context.Cause(ctx)
		case <-tick.C:
		}
		ms, err := nw.Scrape(ctx)
		if err != nil {
			cancel(err)
			continue
		}
		st := progressOf(ms, before.metrics)
		if st.failed > 0 {
			cancel(fmt.Errorf("%w: %d case sides ended refused, withdrawn or returned; see the nodes' logs under %s", ErrCasesFailed, st.failed, nw.Layout.Dir))
			continue
		}
		select {
		case <-dispatchDone:
		default:
			prog.line(int(applied.Load()), st)
			continue
		}
		if deadline.IsZero() {
			wg.Wait() // the last calls have answered
			if err := context.Cause(ctx); err != nil {
				return nil, err
			}
			deadline = time.Now().Add(o.Timeout)
		}
		n := int(applied.Load())
		prog.line(n, st)
		if st.done >= n && st.pending == 0 {
			prog.finish()
			out := make([]*benchCase, 0, n)
			for _, c := range cases[:issued.Load()] {
				if c.caseID != "" {
					out = append(out, c)
				}
			}
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %d of %d cases ended after waiting %s; see the nodes' logs under %s", ErrTimeout, st.done, n, o.Timeout, nw.Layout.Dir)
		}
	}
}

// state is how far the cases are, from the nodes' metrics.
type state struct {
	done      int     // cases completed at the destination and closed at the origin
	failed    int     // case sides that ended otherwise
	delivered float64 // messages acknowledged
	pending   float64 // messages in the outboxes
}

func progressOf(now, before []Metrics) state {
	var completed, closed, failed, delivered, pending float64
	for i := range now {
		d := func(name string, match ...string) float64 {
			return now[i].Sum(name, match...) - before[i].Sum(name, match...)
		}
		completed += d("jiexu_cases", "side", "destination", "state", "completed")
		closed += d("jiexu_cases", "side", "origin", "state", "closed")
		for _, s := range []string{"refused", "withdrawn", "returned"} {
			failed += d("jiexu_cases", "state", s)
		}
		delivered += d("jiexu_outbox_deliveries_total", "result", "ok")
		pending += now[i].Sum("jiexu_outbox_pending")
	}
	return state{done: int(min(completed, closed)), failed: int(failed), delivered: delivered, pending: pending}
}

// collect reads every case's steps from both sides and sets each case's
// completion time.
func collect(ctx context.Context, nw *Network, cases []*benchCase, res *Result) error {
	type ends struct{ dest, origin time.Time }
	at := map[string]*ends{}
	for _, c := range cases {
		at[c.caseID] = &ends{}
	}
	for _, n := range nw.Nodes {
		for _, side := range []struct {
			side  jiexuv1.CaseSide
			state jiexuv1.CaseState
		}{{jiexuv1.CaseSide_CASE_SIDE_DESTINATION, jiexuv1.CaseState_CASE_STATE_COMPLETED}, {jiexuv1.CaseSide_CASE_SIDE_ORIGIN, jiexuv1.CaseState_CASE_STATE_CLOSED}} {
			token := ""
			for {
				resp, err := n.Client.ListCases(ctx, &jiexuv1.ListCasesRequest{Side: side.side, State: side.state, PageSize: 1000, PageToken: token})
				if err != nil {
					return fmt.Errorf("list cases at %s: %w", n.Region, err)
				}
				for _, c := range resp.GetCases() {
					e := at[c.GetCaseId()]
					if e == nil {
						continue
					}
					t := stepAt(c, side.state)
					if side.side == jiexuv1.CaseSide_CASE_SIDE_DESTINATION {
						e.dest = t
					} else {
						e.origin = t
					}
				}
				if token = resp.GetNextPageToken(); token == "" {
					break
				}
			}
		}
	}
	var missing []string
	for _, c := range cases {
		e := at[c.caseID]
		if e.dest.IsZero() || e.origin.IsZero() {
			missing = append(missing, c.caseID)
			continue
		}
		end := e.dest
		if e.origin.After(end) {
			end = e.origin
		}
		res.completion = append(res.completion, end.Sub(c.start))
		res.destCompletion = append(res.destCompletion, e.dest.Sub(c.start))
		res.apply = append(res.apply, c.apply)
		if res.first.IsZero() || c.start.Before(res.first) {
			res.first = c.start
		}
		if end.After(res.last) {
			res.last = end
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %d cases lack their end step (first: %s)", ErrCasesFailed, len(missing), strings.Join(missing[:min(3, len(missing))], ", "))
	}
	return nil
}

// stepAt returns when a case reached state (its last step into it).
func stepAt(c *jiexuv1.Case, s jiexuv1.CaseState) time.Time {
	steps := c.GetSteps()
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].GetState() == s {
			return steps[i].GetAt().AsTime()
		}
	}
	return time.Time{}
}

// LoadAverage reads the 1-minute load average (0 where /proc is missing).
func LoadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscanf(string(data), "%g", &l)
	return l
}
