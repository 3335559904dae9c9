package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	"jiexu/gateway"
	"jiexu/node/render"
	"jiexu/node/rules"
	"jiexu/node/store"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// Bounds of a roll-forward.
const (
	// rollForwardPeers is how many peers are asked at once.
	rollForwardPeers = 8
	// rollForwardPeerTimeout bounds the questions to one peer: a peer that
	// does not answer is reported, not waited for.
	rollForwardPeerTimeout = 2 * time.Minute
	// rollForwardDays is how far before the backup the questions reach: a
	// case open when the backup was taken was opened at most this long
	// before (dailyWindow), and the range may span at most maxSharedDays.
	rollForwardDays = dailyWindow
)

// roller brings a restored store forward from its peers' answers. It runs
// while the node is stopped, on the restored copy, with a gateway of its
// own over that copy: the node's certificate and its client dialling, the
// registry snapshot the copy (or registry_snapshot) holds, no dispatcher.
type roller struct {
	cfg    Config
	db     *bolt.DB
	gw     *gateway.Gateway
	log    *slog.Logger
	now    func() time.Time
	idKey  []byte
	report *store.RollForwardReport
	wait   time.Duration // RestoreOptions.PeerWait
	// backupAt is when the backup was taken: what happened after it is
	// what the peers' answers bring back.
	backupAt time.Time

	people    map[string]string // id hash → ID number, built on first need
	certCases map[string]string // certificate number → destination case here, built on first need
	node      *Node             // steps destination cases (stepper), built on first need
}

// rollForwardFunc is the store.RestoreOptions.RollForward of a node's
// restore.
func rollForwardFunc(cfg Config, log *slog.Logger, now func() time.Time, wait time.Duration) func(context.Context, *bolt.DB, *store.RestoreReport) error {
	return func(ctx context.Context, db *bolt.DB, r *store.RestoreReport) error {
		gw, err := rollForwardGateway(cfg, db, log, now)
		if err != nil {
			return err
		}
		defer gw.Wait()
		ro := &roller{cfg: cfg, db: db, gw: gw, log: log, now: now, idKey: make([]byte, 32), report: &r.RollForward, wait: wait}
		_, _ = rand.Read(ro.idKey)
		return ro.run(ctx, r.BackupTakenAt)
	}
}

// rollForwardGateway opens a gateway over the restored copy to call peers.
func rollForwardGateway(cfg Config, db *bolt.DB, log *slog.Logger, now func() time.Time) (*gateway.Gateway, error) {
	kp, err := certs.LoadKeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("cert_file/key_file: %w", err)
	}
	ca, err := certs.LoadCertificate(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	table := registry.DefaultTable()
	if cfg.DivisionsDir != "" {
		if table, err = registry.LoadTableDir(cfg.DivisionsDir); err != nil {
			return nil, fmt.Errorf("divisions_dir: %w", err)
		}
	}
	gcfg := gateway.NewConfig()
	gcfg.Region, gcfg.DB, gcfg.KeyPair, gcfg.CA, gcfg.Table = cfg.Region, db, kp, ca, table
	gcfg.CallTimeout, gcfg.Logger, gcfg.Now = time.Duration(cfg.CallTimeout), log, now
	gw, err := gateway.New(gcfg)
	if err != nil {
		return nil, err
	}
	if cfg.RegistrySnapshot != "" { // a newer snapshot than the backup's, if it is one
		if signed, err := registry.LoadSigned(cfg.RegistrySnapshot); err == nil {
			_, _ = gw.Directory().Install(signed)
		}
	}
	return gw, nil
}

// run asks every peer and brings the store forward from each answer.
func (ro *roller) run(ctx context.Context, backupAt time.Time) error {
	if backupAt.IsZero() {
		backupAt = ro.now()
	}
	ro.backupAt = backupAt
	now := ro.now()
	from := rules.DateOf(backupAt.In(rules.CST).AddDate(0, 0, -rollForwardDays))
	if oldest := now.In(rules.CST).AddDate(0, 0, -(maxSharedDays - 1)); rules.DateTime(from).Before(oldest) {
		from = rules.DateOf(oldest)
	}
	peers, err := ro.peers()
	if err != nil {
		return err
	}
	answers := ro.ask(ctx, peers, from, rules.DateOf(now))
	for _, peer := range peers {
		view, ok := answers[peer]
		if !ok {
			continue
		}
		if err := ro.apply(ctx, peer, view); err != nil {
			return fmt.Errorf("peer %s's answer: %w", peer, err)
		}
	}
	return nil
}

// peers are the regions to ask: every node the registry snapshot lists,
// and every region a case in the store names.
func (ro *roller) peers() ([]string, error) {
	seen := map[string]bool{}
	if r, err := ro.gw.Directory().Router(); err == nil {
		for _, region := range r.Regions() {
			if node, err := r.Node(region); err == nil {
				seen[node.GetRegion()] = true
			}
		}
	}
	err := ro.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCases).ForEach(func(k, v []byte) error {
			c, err := getCase(tx, string(k))
			if err == nil && c != nil {
				seen[ro.gw.Directory().Canonical(counterparty(c))] = true
			}
			return err
		})
	})
	delete(seen, "")
	for p := range seen {
		if ro.gw.Directory().SameRegion(p, ro.cfg.Region) {
			delete(seen, p)
		}
	}
	peers := make([]string, 0, len(seen))
	for p := range seen {
		peers = append(peers, p)
	}
	slices.Sort(peers)
	return peers, err
}

// ask asks the peers, a few at a time, what they hold of this region's
// cases; the report lists those that did not answer.
func (ro *roller) ask(ctx context.Context, peers []string, from, to *jiexuv1.Date) map[string]sideView {
	var mu sync.Mutex
	answers := map[string]sideView{}
	failed := map[string]error{}
	sem := make(chan struct{}, rollForwardPeers)
	var wg sync.WaitGroup
	for _, peer := range peers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			pctx, cancel := context.WithTimeout(ctx, rollForwardPeerTimeout)
			defer cancel()
			view, err := ro.collect(pctx, peer, from, to)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[peer] = err
				return
			}
			answers[peer] = view
		}()
	}
	wg.Wait()
	for _, peer := range peers {
		if err, ok := failed[peer]; ok {
			ro.log.Warn("roll-forward: a peer did not answer", "peer", peer, "err", err)
			ro.report.Unreachable = append(ro.report.Unreachable, fmt.Sprintf("%s (%v): once the node serves, run 'jiexu reconcile --peer %s --since %s'",
				peer, rules.Clip(err.Error(), 160), peer, rules.DateTime(from).Format("2006-01-02")))
		} else {
			ro.report.Asked = append(ro.report.Asked, peer)
		}
	}
	return answers
}

// collect reads a peer's answer, asking again for ro.wait while the peer
// cannot be reached: a node that is restarting answers in a moment.
func (ro *roller) collect(ctx context.Context, peer string, from, to *jiexuv1.Date) (sideView, error) {
	deadline := time.Now().Add(ro.wait)
	pause := 500 * time.Millisecond
	for {
		view, err := collectRange(ctx, peerSource(ro.gw.Invoke, peer), from, to, ro.idKey, true)
		code := status.Code(err)
		if err == nil || !errors.Is(err, ErrPeerUnreachable) || code != codes.Unavailable && code != codes.DeadlineExceeded ||
			time.Now().Add(pause).After(deadline) {
			return view, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// apply brings the store forward from one peer's answer, case by case in
// id order, each case in a transaction of its own: a case the state
// machine refuses to step is left as the backup had it (its numbers still
// marked used) and reported for an operator to decide.
func (ro *roller) apply(ctx context.Context, peer string, view sideView) error {
	for _, id := range slices.Sorted(maps.Keys(view)) {
		if err := ctx.Err(); err != nil {
			return err // stopped: the copy is not put in place
		}
		sc := view[id]
		err := ro.db.Update(func(tx *bolt.Tx) error { return ro.applyCase(tx, peer, sc) })
		if failed, ok := errors.AsType[*stepFailed](err); ok {
			ro.decide("case %s: rolling it forward from %s's record (%s there) failed, nothing changed: %s",
				id, peer, render.Label(sc.GetState()), rules.Clip(failed.Error(), 200))
			err = ro.db.Update(func(tx *bolt.Tx) error { return ro.markUsed(tx, sc) })
		}
		if err != nil {
			return fmt.Errorf("case %s: %w", id, err)
		}
	}
	return nil
}

// applyCase brings one case forward: the numbers the peer has seen are
// never handed out again, and a transfer the destination completed is
// closed here.
func (ro *roller) applyCase(tx *bolt.Tx, peer string, sc *jiexuv1.SharedCase) error {
	// A peer speaks only of the cases it shares with this region: opened
	// by one of the two, and, where this store holds the case, held with
	// that peer.
	dir := ro.gw.Directory()
	if !caseIDPattern.MatchString(sc.GetCaseId()) {
		ro.decide("%s answered about %q, which is not a case id: ignored", peer, rules.Clip(sc.GetCaseId(), 40))
		return nil
	}
	if opener := caseRegion(sc.GetCaseId()); !dir.SameRegion(opener, ro.cfg.Region) && !dir.SameRegion(opener, peer) {
		ro.decide("case %s: %s answered about a case opened by neither region: ignored", sc.GetCaseId(), peer)
		return nil
	}
	c, err := getCase(tx, sc.GetCaseId())
	if err != nil {
		return err
	}
	if c != nil && !dir.SameRegion(counterparty(c), peer) {
		ro.decide("case %s: %s answered about it, but this store shares the case with %s: ignored", sc.GetCaseId(), peer, counterparty(c))
		return nil
	}
	if err := ro.markUsed(tx, sc); err != nil {
		return err
	}
	switch {
	case sc.GetSide() == sideDestination && sc.GetState() == jiexuv1.CaseState_CASE_STATE_COMPLETED:
		return ro.closeOrigin(tx, peer, c, sc)
	case actedAtOrigin(sc) && (c == nil || c.GetSide() == sideDestination):
		return ro.rollDestination(tx, peer, c, sc)
	case endedAtOrigin(sc) && (c == nil || c.GetSide() == sideDestination):
		return ro.endDestination(tx, peer, c, sc)
	case c == nil && sc.GetSide() == sideDestination && sc.GetState() == jiexuv1.CaseState_CASE_STATE_NOTIFIED:
		return ro.refuseLost(tx, peer, sc)
	case c == nil:
		ro.decide("case %s: %s holds its %s side as %s; this store has no record of it. Ask %s's operator for the case and enter what it needs here",
			sc.GetCaseId(), peer, render.Label(sc.GetSide()), render.Label(sc.GetState()), peer)
	case c.GetSide() == sc.GetSide():
		ro.decide("case %s: both this store and %s hold its %s side", sc.GetCaseId(), peer, render.Label(c.GetSide()))
	case sc.GetEnded() && !transfer.Terminal(c.GetState()):
		ro.decide("case %s: %s ended its side as %s; this store holds it as %s. Compare with %s's operator and end it here as it ended there",
			sc.GetCaseId(), peer, render.Label(sc.GetState()), render.Label(c.GetState()), peer)
	}
	return nil
}

// closeOrigin closes this origin's side of a case the destination has
// completed: the period is transferred out and the remitted balance is no
// longer here, as if the messages lost with the restore had been applied.
func (ro *roller) closeOrigin(tx *bolt.Tx, peer string, c *jiexuv1.Case, sc *jiexuv1.SharedCase) error {
	if c != nil && (c.GetSide() != sideOrigin || transfer.Terminal(c.GetState())) {
		if c.GetSide() == sideOrigin && c.GetState() != jiexuv1.CaseState_CASE_STATE_CLOSED {
			ro.decide("case %s: %s says it completed it; this store ended it as %s: nothing changed here; compare with %s's operator",
				sc.GetCaseId(), peer, render.Label(c.GetState()), peer)
		}
		return nil
	}
	id, err := ro.personOf(tx, c, sc)
	if err != nil {
		return err
	}
	if id == "" {
		ro.decide("case %s: %s completed the transfer in (%s credited) of %s; no enrolment here matches: find the person and end the period here by hand",
			sc.GetCaseId(), peer, rules.AmountFigures(sc.GetAmountFen()), ro.masked(sc))
		return nil
	}
	e, err := getEnrolment(tx, id)
	if err != nil {
		return err
	}
	cert, err := ro.keepCertificate(tx, id, sc)
	if err != nil {
		return err
	}
	// Which period, and what moved. Where this store knows it acted
	// (certificate and remittance sent), its own case says so, and the
	// peer's record may only confirm it. Otherwise a peer's word alone
	// closes nothing: the claim must carry this region's own certificate
	// for the person, of a period here suspended with it (or suspended
	// after the backup, as the certificate records), and name no more money
	// than the certificate states (a destination without personal accounts
	// receives none; the rest is held here for the person). A registered
	// peer is trusted for nothing beyond its own region.
	var p *jiexuv1.Period
	amount, number := sc.GetAmountFen(), sc.GetCertificateNumber()
	if c.GetActed() {
		if p = periodOfCase(e, c.GetCaseId()); p == nil {
			p = latest(e)
		}
		if amount != c.GetAmountFen() || number != "" && number != c.GetCertificateNumber() {
			ro.decide("case %s: %s records %s and certificate %q; this store sent %s and certificate %s: closed with this store's figures; compare with %s's operator",
				sc.GetCaseId(), peer, rules.AmountFigures(amount), rules.Clip(number, 60), rules.AmountFigures(c.GetAmountFen()), c.GetCertificateNumber(), peer)
		}
		amount, number = c.GetAmountFen(), c.GetCertificateNumber()
	} else {
		switch {
		case cert == nil:
			ro.decide("case %s: %s says it completed the transfer in of %s (%s) but sends no certificate of this region's that verifies: nothing changed here; compare with %s's operator",
				sc.GetCaseId(), peer, ro.masked(sc), rules.AmountFigures(amount), peer)
			return nil
		case amount > cert.GetBalanceFen():
			ro.decide("case %s: %s says it received %s, more than the %s certificate %s states: nothing changed here; compare with %s's operator",
				sc.GetCaseId(), peer, rules.AmountFigures(amount), rules.AmountFigures(cert.GetBalanceFen()), cert.GetNumber(), peer)
			return nil
		}
		if p = ro.periodOfCertificate(tx, e, cert); p == nil {
			ro.decide("case %s: %s sends certificate %s, which no period here is suspended with (voided, used by another case, or another period's): nothing changed here; compare with %s's operator",
				sc.GetCaseId(), peer, cert.GetNumber(), peer)
			return nil
		}
		number = cert.GetNumber()
	}
	from := jiexuv1.CaseState_CASE_STATE_UNSPECIFIED
	if c == nil {
		c = &jiexuv1.Case{CaseId: sc.GetCaseId(), Side: sideOrigin, OpenedAt: timestamppb.New(ro.now()),
			Person: e.GetPerson(), OriginRegion: ro.cfg.Region, OriginDivision: ro.cfg.Region, DestinationRegion: peer}
	} else {
		from = c.GetState()
	}
	held, err := ro.transferOut(tx, e, p, c, amount, cert)
	if err != nil {
		return err
	}
	now := ro.now()
	c.State, c.Acted, c.Confirmed, c.CertificateAcked = jiexuv1.CaseState_CASE_STATE_CLOSED, true, true, true
	c.AmountFen, c.ExpectedAmountFen, c.CertificateNumber = amount, amount, number
	c.Note = fmt.Sprintf("rolled forward by 'jiexu node restore' from %s's record: completed there", peer)
	c.Steps = append(c.Steps, &jiexuv1.CaseStep{State: c.GetState(), At: timestamppb.New(now), Event: "RolledForward"})
	c.UpdatedAt = timestamppb.New(now)
	if err := ro.gw.Audit().Append(tx, gateway.CaseTransition(c.GetCaseId(), render.Label(from), render.Label(c.GetState()))); err != nil {
		return err
	}
	if err := putCase(tx, c); err != nil {
		return err
	}
	was := "missing"
	if from != jiexuv1.CaseState_CASE_STATE_UNSPECIFIED {
		was = render.Label(from)
	}
	ro.recovered("case %s (%s): %s completed it; here %s → closed; %s remitted is no longer here%s",
		c.GetCaseId(), rules.MaskID(id), peer, was, rules.AmountFigures(amount), heldNote(held))
	return nil
}

// periodOfCertificate returns the person's period cert, this region's
// verified certificate, was issued for: the period from the month the
// certificate names, suspended here with that certificate, or active here
// and suspended after the backup as the certificate records; nil when no
// period is (the certificate voided, used by a case already, or another
// period's).
func (ro *roller) periodOfCertificate(tx *bolt.Tx, e *jiexuv1.Enrolment, cert *jiexuv1.Certificate) *jiexuv1.Period {
	for _, p := range e.GetPeriods() {
		if rules.MonthIndex(p.GetEnrolledFrom()) != rules.MonthIndex(cert.GetEnrolledFrom()) {
			continue
		}
		switch p.GetStatus() {
		case statusSuspended: // resuming voids the certificate and clears it; checked all the same
			if p.GetCertificateNumber() == cert.GetNumber() && p.GetCaseId() == "" && !isVoided(tx, cert.GetNumber()) {
				return p
			}
		case statusActive:
			if ro.laterSuspension(tx, p, cert) {
				return p
			}
		}
	}
	return nil
}

// transferOut marks the person's period p transferred out by the case, as
// the origin's own step would have, amount remitted, and returns what is
// held here for the person (a balance beyond what was remitted). cert is
// this region's certificate for the case, verified, or nil.
func (ro *roller) transferOut(tx *bolt.Tx, e *jiexuv1.Enrolment, p *jiexuv1.Period, c *jiexuv1.Case, amount int64, cert *jiexuv1.Certificate) (int64, error) {
	if p == nil {
		return 0, fmt.Errorf("%w: %s has no period", ErrMismatch, rules.MaskID(e.GetPerson().GetIdNumber()))
	}
	if p.GetStatus() == statusTransferred {
		return p.GetHeldFen(), nil
	}
	if p.GetStatus() == statusActive && ro.laterSuspension(tx, p, cert) {
		// Suspended after the backup was taken: the certificate issued at
		// the suspension says what the lost step wrote (2009 §8).
		p.Status, p.EnrolledTo, p.SuspendedOn = statusSuspended, cert.GetEnrolledTo(), cert.GetSuspendedOn()
		p.MonthsPaid, p.BalanceFen, p.CertificateNumber = cert.GetMonthsPaid(), cert.GetBalanceFen(), cert.GetNumber()
		ro.recovered("case %s (%s): the suspension of %s, last month %s, came back from certificate %s",
			c.GetCaseId(), rules.MaskID(e.GetPerson().GetIdNumber()), render.FmtDate(cert.GetSuspendedOn()), ym(cert.GetEnrolledTo()), cert.GetNumber())
	}
	if p.GetStatus() != statusSuspended {
		ro.decide("case %s: the person's period here was %s, not suspended, when the backup was taken: it is now marked transferred out; check its last month",
			c.GetCaseId(), render.Label(p.GetStatus()))
	}
	rest := p.GetBalanceFen() - amount
	if rest < 0 {
		ro.decide("case %s: %s remitted is more than the %s this store held for the person: check the remittance with the destination",
			c.GetCaseId(), rules.AmountFigures(amount), rules.AmountFigures(p.GetBalanceFen()))
		rest = 0
	}
	p.Status, p.CaseId = statusTransferred, c.GetCaseId()
	p.HeldFen += rest
	p.BalanceFen = 0
	p.Note = fmt.Sprintf("transferred out to %s (case %s); rolled forward by 'jiexu node restore'", c.GetDestinationRegion(), c.GetCaseId())
	p.UpdatedAt = timestamppb.New(ro.now())
	return p.GetHeldFen(), putEnrolment(tx, e)
}

// laterSuspension says whether cert, this region's verified certificate
// for the person, records a suspension of the active period p made after
// the backup: issued after it, for the period p is (from the month p
// began), and not voided here. An older certificate of a suspension that
// was cancelled (恢复参保) is no such record: the period stays for the
// operator to decide.
func (ro *roller) laterSuspension(tx *bolt.Tx, p *jiexuv1.Period, cert *jiexuv1.Certificate) bool {
	return cert != nil && cert.GetSuspendedOn() != nil && cert.GetEnrolledTo() != nil &&
		cert.GetIssuedAt().AsTime().After(ro.backupAt) &&
		!isVoided(tx, cert.GetNumber()) &&
		rules.MonthIndex(cert.GetEnrolledFrom()) == rules.MonthIndex(p.GetEnrolledFrom()) &&
		rules.MonthIndex(cert.GetEnrolledTo()) >= rules.MonthIndex(p.GetEnrolledFrom())
}

// keepCertificate stores again a certificate this origin issued after the
// backup, from the destination's copy, once its seal (this region's own)
// verifies and it names the case's certificate and person: the serial is
// this region's, and a later restore of the destination finds it here. It
// returns the certificate when it verifies, whether kept now or already
// here, or nil.
func (ro *roller) keepCertificate(tx *bolt.Tx, person string, sc *jiexuv1.SharedCase) (*jiexuv1.Certificate, error) {
	number := sc.GetCertificateNumber()
	if sc.GetCertificate() == nil || number == "" {
		return nil, nil
	}
	have, err := getCertificate(tx, number)
	if err != nil {
		return nil, err
	}
	n, err := ro.stepper()
	if err != nil {
		return nil, err
	}
	cert, err := n.verifyDelivered(sc.GetCertificate())
	switch {
	case err != nil:
		ro.decide("case %s: the destination's copy of certificate %s does not verify (%v): it is not kept here", sc.GetCaseId(), number, rules.Clip(err.Error(), 160))
		return nil, nil
	case !n.same(cert.GetOriginRegion(), ro.cfg.Region) || cert.GetNumber() != number || cert.GetPerson().GetIdNumber() != person:
		ro.decide("case %s: the destination's copy of certificate %s is not this region's certificate %s for the case's person: it is not kept here", sc.GetCaseId(), cert.GetNumber(), number)
		return nil, nil
	case have != nil:
		return cert, nil
	}
	return cert, putProto(tx, bucketCertificates, []byte(number), sc.GetCertificate())
}

func heldNote(held int64) string {
	if held == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s held here for the person)", rules.AmountFigures(held))
}

// Bounds of the numbers a peer's answer may move this region's counters
// to: a peer can make gaps (a repeat is worse than a gap, so a number a
// peer names is never handed out), but not exhaust the counters.
const (
	// maxPeerCaseSeq is more cases than a region opens in a day.
	maxPeerCaseSeq = 1_000_000
	// maxPeerSerial is the most serials the template's six digits hold.
	maxPeerSerial = 999_999
)

// markUsed raises the counters past the case id and certificate serial a
// peer has seen from this region, so that neither is handed out again:
// a case id of a day no later than tomorrow, a certificate of this
// region's own from this year or the last, within bounds.
func (ro *roller) markUsed(tx *bolt.Tx, sc *jiexuv1.SharedCase) error {
	now := ro.now().In(rules.CST)
	if id := sc.GetCaseId(); caseRegion(id) == ro.cfg.Region {
		day, err := time.ParseInLocation("20060102", id[7:15], rules.CST)
		seq, serr := strconv.ParseUint(id[16:], 10, 64)
		switch {
		case err != nil || serr != nil || day.After(now.AddDate(0, 0, 1)) || seq > maxPeerCaseSeq:
			ro.decide("case %s: the peer names a case id of this region beyond any it could have seen: not marked used", id)
		default:
			if err := (counters{}).Raise(tx, "case/"+id[7:15], seq); err != nil {
				return err
			}
		}
	}
	if sc.GetSide() != sideDestination || sc.GetCertificateNumber() == "" {
		return nil // a certificate this node issued is one an origin's peer names
	}
	num, err := rules.ParseCertNumber(sc.GetCertificateNumber())
	abbrev, aerr := ro.divisions().Abbrev(ro.cfg.Region)
	short, serr := ro.divisions().ShortName(ro.cfg.Region)
	switch {
	case err != nil:
		ro.decide("case %s: the peer names certificate %q, which is not a certificate number", sc.GetCaseId(), rules.Clip(sc.GetCertificateNumber(), 60))
		return nil
	case aerr != nil || serr != nil || num.Abbrev != abbrev || num.Region != short:
		return nil // another region's certificate: not this region's serials
	case num.Year < now.Year()-1 || num.Year > now.Year() || num.Serial > maxPeerSerial:
		ro.decide("case %s: the peer names certificate %s, beyond any this region issued: not marked used", sc.GetCaseId(), sc.GetCertificateNumber())
		return nil
	}
	return (counters{}).Raise(tx, "cert/"+strconv.Itoa(num.Year), uint64(num.Serial))
}

// personOf finds the ID number of a case's person: the case's own, or the
// enrolment whose keyed hash the peer sent.
func (ro *roller) personOf(tx *bolt.Tx, c *jiexuv1.Case, sc *jiexuv1.SharedCase) (string, error) {
	if id := c.GetPerson().GetIdNumber(); id != "" {
		return id, nil
	}
	if len(sc.GetIdHash()) == 0 {
		return "", nil
	}
	if ro.people == nil {
		ro.people = map[string]string{}
		err := tx.Bucket(bucketEnrolments).ForEach(func(k, _ []byte) error {
			ro.people[string(idHash(ro.idKey, string(k)))] = string(k)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return ro.people[string(sc.GetIdHash())], nil
}

func (ro *roller) divisions() *registry.Table { return ro.gw.Directory().Table() }

// maskedPattern is a masked ID number as peers send it.
var maskedPattern = regexp.MustCompile(`^[0-9]{6}\*{8}[0-9]{3}[0-9X]$`)

// masked is the peer's masked ID number of a case's person for the
// report, when it is one; a peer's text is never echoed as it came.
func (ro *roller) masked(sc *jiexuv1.SharedCase) string {
	if m := sc.GetMaskedIdNumber(); maskedPattern.MatchString(m) {
		return m
	}
	return "the person (no masked ID number)"
}

func (ro *roller) recovered(format string, args ...any) {
	ro.report.Recovered = append(ro.report.Recovered, fmt.Sprintf(format, args...))
}

func (ro *roller) decide(format string, args ...any) {
	ro.report.Decide = append(ro.report.Decide, fmt.Sprintf(format, args...))
}
