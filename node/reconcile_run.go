package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/proto/limits"
	"jiexu/registry"
)

// ErrPeerUnreachable is returned when a peer does not answer a
// reconciliation; the caller may try again later.
var ErrPeerUnreachable = errors.New("the peer did not answer")

// ErrPeerAnswer is returned when a peer's answer breaks the contract (more
// than it was asked for).
var ErrPeerAnswer = errors.New("the peer's answer is not what was asked")

// caseSource answers ListSharedCases for one side of a pair: a peer over
// the wire, or this node's own store.
type caseSource func(ctx context.Context, req *jiexuv1.ListSharedCasesRequest) (*jiexuv1.ListSharedCasesResponse, error)

// invoker calls a peer's method (gateway.Gateway.Invoke).
type invoker func(ctx context.Context, peer, method string, req, resp proto.Message) error

// Bounds of a client's reconciliation.
const (
	// maxSharedPages bounds the pages read from one side in one pass.
	maxSharedPages = 1000
	// maxLimitedWait bounds how long a client waits when a peer asks it to
	// slow down (RetryInfo), and maxLimitedRetries how often.
	maxLimitedWait    = 10 * time.Second
	maxLimitedRetries = 5
	// reconcileCallTimeout bounds one page's call.
	reconcileCallTimeout = 30 * time.Second
)

// peerSource asks peer's ReconcileService, waiting as the peer asks when
// it limits the rate.
func peerSource(call invoker, peer string) caseSource {
	return func(ctx context.Context, req *jiexuv1.ListSharedCasesRequest) (*jiexuv1.ListSharedCasesResponse, error) {
		for attempt := 0; ; attempt++ {
			resp := &jiexuv1.ListSharedCasesResponse{}
			cctx, cancel := context.WithTimeout(ctx, reconcileCallTimeout)
			err := call(cctx, peer, jiexuv1.ReconcileService_ListSharedCases_FullMethodName, req, resp)
			cancel()
			wait, limited := limits.RetryAfter(err)
			switch {
			case err == nil:
				return resp, nil
			case !limited || attempt == maxLimitedRetries:
				return nil, peerError(peer, err)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(min(max(wait, 100*time.Millisecond), maxLimitedWait)):
			}
		}
	}
}

// peerError classifies a failed call: a refusal of this node says so; any
// other failure is ErrPeerUnreachable.
func peerError(peer string, err error) error {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.Unimplemented:
		return fmt.Errorf("peer %s refused the reconciliation: %w", peer, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrPeerUnreachable, peer, err)
}

// localSource answers from this node's store about the cases it shares
// with peer, as peer's node would be answered.
func (n *Node) localSource(peer string) caseSource {
	return func(_ context.Context, req *jiexuv1.ListSharedCasesRequest) (*jiexuv1.ListSharedCasesResponse, error) {
		q, err := n.checkSharedQuery(req)
		if err != nil {
			return nil, err
		}
		return n.sharedCases(peer, q)
	}
}

// collectRange reads every page of a side's cases opened in a range of days.
// withCerts asks for the certificates an origin issued (a roll-forward).
func collectRange(ctx context.Context, src caseSource, from, to *jiexuv1.Date, idKey []byte, withCerts bool) (sideView, error) {
	view := sideView{}
	req := &jiexuv1.ListSharedCasesRequest{OpenedFrom: from, OpenedTo: to, PageSize: maxSharedPage, IdKey: idKey, WithCertificates: withCerts}
	for range maxSharedPages {
		resp, err := src(ctx, req)
		if err != nil {
			return nil, err
		}
		if err := pageWithin(resp, maxSharedPage); err != nil {
			return nil, err
		}
		for _, c := range resp.GetCases() {
			view[c.GetCaseId()] = c
		}
		if len(resp.GetNextPageToken()) == 0 {
			return view, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
	return nil, fmt.Errorf("more than %d pages of cases: choose a shorter range", maxSharedPages)
}

// pageWithin refuses a peer's page with more cases than were asked for, so
// that what one peer's answers can make a reconciliation or a restore read
// and apply stays bounded (maxSharedPages pages of at most limit cases).
func pageWithin(resp *jiexuv1.ListSharedCasesResponse, limit int) error {
	if n := len(resp.GetCases()); n > limit {
		return fmt.Errorf("%w: the peer answered %d cases to a page of at most %d", ErrPeerAnswer, n, limit)
	}
	return nil
}

// collectIDs adds to view what a side holds of the named cases.
func collectIDs(ctx context.Context, src caseSource, ids []string, idKey []byte, view sideView) error {
	for batch := range slices.Chunk(ids, maxSharedIDs) {
		resp, err := src(ctx, &jiexuv1.ListSharedCasesRequest{CaseIds: batch, IdKey: idKey})
		if err != nil {
			return err
		}
		if err := pageWithin(resp, len(batch)); err != nil {
			return err
		}
		for _, c := range resp.GetCases() {
			view[c.GetCaseId()] = c
		}
	}
	return nil
}

// absentFrom lists the ids of a that b lacks, sorted.
func absentFrom(a, b sideView) []string {
	var ids []string
	for id := range a {
		if b[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// views reads both sides over a range of days. Each node chooses by the
// day it opened its side, and those days may differ at the edges of the
// range (or when a message took days to arrive): a case one side listed
// and the other did not is then asked for by id.
func views(ctx context.Context, here, peer caseSource, from, to *jiexuv1.Date) (sideView, sideView, error) {
	p, err := collectRange(ctx, peer, from, to, nil, false)
	if err != nil {
		return nil, nil, err
	}
	h, err := collectRange(ctx, here, from, to, nil, false)
	if err != nil {
		return nil, nil, err
	}
	if err := collectIDs(ctx, peer, absentFrom(h, p), nil, p); err != nil {
		return nil, nil, err
	}
	if err := collectIDs(ctx, here, absentFrom(p, h), nil, h); err != nil {
		return nil, nil, err
	}
	return h, p, nil
}

// reconcilePair compares this node's and a peer's cases over a range of
// days. A pair is in flight, and not compared, while a message about it is
// queued on either side (each side says so per case); and a difference is
// reported only when a second look, recheck later, finds it again, so
// that a message delivered between the two sides' reads does not show as
// one.
func reconcilePair(ctx context.Context, here, peer caseSource, from, to *jiexuv1.Date, recheck time.Duration) (comparison, error) {
	h, p, err := views(ctx, here, peer, from, to)
	if err != nil {
		return comparison{}, err
	}
	first := compareViews(h, p)
	if len(first.differences) == 0 {
		return first, nil
	}
	select {
	case <-ctx.Done():
		return comparison{}, ctx.Err()
	case <-time.After(recheck):
	}
	seen := map[string]bool{}
	for _, d := range first.differences {
		seen[d.GetCaseId()+"/"+d.GetKind().String()] = true
	}
	ids := slices.Sorted(maps.Keys(keysOf(first.differences)))
	h2, p2 := sideView{}, sideView{}
	if err := collectIDs(ctx, here, ids, nil, h2); err != nil {
		return comparison{}, err
	}
	if err := collectIDs(ctx, peer, ids, nil, p2); err != nil {
		return comparison{}, err
	}
	second := compareViews(h2, p2)
	out := comparison{compared: first.compared, inFlight: first.inFlight + second.inFlight}
	for _, d := range second.differences {
		if seen[d.GetCaseId()+"/"+d.GetKind().String()] {
			out.differences = append(out.differences, d)
		}
	}
	return out, nil
}

// keysOf is the set of case ids of some differences.
func keysOf(ds []*jiexuv1.ReconcileDifference) map[string]bool {
	out := map[string]bool{}
	for _, d := range ds {
		out[d.GetCaseId()] = true
	}
	return out
}

// Reconcile compares this node's cases with a peer's (the agency API).
func (s *agencyServer) Reconcile(ctx context.Context, req *jiexuv1.ReconcileRequest) (*jiexuv1.ReconcileResponse, error) {
	var vs violations
	n := s.n
	peer := req.GetPeer()
	if err := registry.CheckCodeSyntax(peer); err != nil {
		vs.add("peer", "%q: %v", truncate(peer), err)
	} else if n.same(peer, n.cfg.Region) {
		vs.add("peer", "%s is this node", peer)
	}
	n.checkDayRange(&vs, "opened_from", "opened_to", req.GetOpenedFrom(), req.GetOpenedTo())
	if err := vs.err(); err != nil {
		return nil, toStatus(err)
	}
	resp, err := n.reconcile(ctx, peer, req.GetOpenedFrom(), req.GetOpenedTo())
	if err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}

// reconcile runs one reconciliation with peer, counts it and logs each
// difference.
func (n *Node) reconcile(ctx context.Context, peer string, from, to *jiexuv1.Date) (*jiexuv1.ReconcileResponse, error) {
	cmp, err := reconcilePair(ctx, n.localSource(peer), peerSource(n.gw.Invoke, peer), from, to, n.reconcileRecheck)
	if err != nil {
		n.reconMetrics.runs.WithLabelValues(resultFailed).Inc()
		n.log.Warn("reconciliation failed", "peer", peer, "err", err)
		if errors.Is(err, ErrPeerUnreachable) {
			return nil, fmt.Errorf("%w (try again later: jiexu reconcile --peer %s)", err, peer)
		}
		return nil, err
	}
	result := resultClean
	if len(cmp.differences) > 0 {
		result = resultDifferences
	}
	n.reconMetrics.runs.WithLabelValues(result).Inc()
	n.reconMetrics.differences.WithLabelValues(peer).Set(float64(len(cmp.differences)))
	for _, d := range cmp.differences {
		n.log.Warn("reconciliation difference", "peer", peer, "case_id", d.GetCaseId(), "kind", d.GetKind().String(), "detail", d.GetDetail())
	}
	n.log.Info("reconciled", "peer", peer, "compared", cmp.compared, "in_flight", cmp.inFlight, "differences", len(cmp.differences))
	return &jiexuv1.ReconcileResponse{Peer: peer, Differences: cmp.differences, Compared: uint32(cmp.compared),
		InFlight: uint32(cmp.inFlight), At: timestamppb.New(n.now())}, nil
}

// dayBefore is the date days before t (China Standard Time).
func dayBefore(t time.Time, days int) *jiexuv1.Date {
	return rules.DateOf(t.In(rules.CST).AddDate(0, 0, -days))
}
