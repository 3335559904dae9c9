package node

import (
	"context"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

func (s *agencyServer) GetStatus(context.Context, *jiexuv1.GetStatusRequest) (*jiexuv1.GetStatusResponse, error) {
	n := s.n
	resp := &jiexuv1.GetStatusResponse{
		Version:              Version,
		Region:               n.cfg.Region,
		AgencyName:           n.cfg.AgencyName,
		RegistryVersion:      n.gw.Directory().Version(),
		CertificateExpiresAt: timestamppb.New(n.kp.Leaf().NotAfter),
		Peers:                n.gw.PeerStats(),
		StoreEpoch:           n.Epoch(),
	}
	if snap := n.gw.Directory().Snapshot(); snap != nil {
		resp.RegistryExpiresAt = snap.GetExpiresAt()
	}
	if at := n.gw.Directory().LastFetched(); !at.IsZero() {
		resp.RegistryFetchedAt = timestamppb.New(at)
	}
	resp.HealthReason = n.Health()
	resp.Serving = resp.HealthReason == ""
	resp.RegistryError = n.gw.Directory().LastError()
	st := n.caseCounts()
	resp.OverdueDestination = int32(st.overdue[jiexuv1.CaseSide_CASE_SIDE_DESTINATION])
	resp.OverdueOrigin = int32(st.overdue[jiexuv1.CaseSide_CASE_SIDE_ORIGIN])
	resp.CertificateSerial = n.kp.Leaf().SerialNumber.String()
	for k, v := range st.byState {
		if v == 0 {
			continue
		}
		resp.Cases = append(resp.Cases, &jiexuv1.CaseCount{Side: k.side, State: k.state, Count: int32(v)})
	}
	slices.SortFunc(resp.Cases, func(a, b *jiexuv1.CaseCount) int {
		if a.GetSide() != b.GetSide() {
			return int(a.GetSide() - b.GetSide())
		}
		return int(a.GetState() - b.GetState())
	})
	_ = n.db.View(func(tx *bolt.Tx) error {
		resp.Records = int32(tx.Bucket(bucketEnrolments).Stats().KeyN)
		return nil
	})
	return resp, nil
}

// deliveryError describes why a case's messages have not been delivered,
// or "" when none is failing.
func (n *Node) deliveryError(caseID string) string {
	ms, err := n.gw.PendingFor(caseID)
	if err != nil {
		return ""
	}
	for _, m := range ms {
		if m.GetLastError() == "" {
			continue
		}
		what := "retrying"
		if m.GetDead() {
			what = "dead letter, see 'jiexu deadletters'"
		}
		method := m.GetMethod()[strings.LastIndex(m.GetMethod(), "/")+1:]
		return fmt.Sprintf("%s to %s: %d attempts (%s): %s", method, m.GetPeerRegion(), m.GetAttempts(), what, m.GetLastError())
	}
	return ""
}
