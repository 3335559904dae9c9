package node

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"jiexu/gateway"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// auditServer serves the audit chain beside the agency API.
type auditServer struct {
	jiexuv1.UnimplementedAuditServiceServer
	n *Node
}

func (s *auditServer) VerifyAudit(context.Context, *jiexuv1.VerifyAuditRequest) (*jiexuv1.VerifyAuditResponse, error) {
	var r *jiexuv1.VerifyAuditResponse
	err := s.n.db.View(func(tx *bolt.Tx) error {
		r = gateway.VerifyAudit(tx, s.n.ca)
		return nil
	})
	if err != nil {
		return nil, toStatus(err)
	}
	if r.GetProblem() != "" {
		s.n.log.Error("audit chain does not verify", "problem", r.GetProblem())
	}
	return r, nil
}

func (s *auditServer) ExportCase(ctx context.Context, req *jiexuv1.ExportCaseRequest) (*jiexuv1.ExportCaseResponse, error) {
	if req.GetCaseId() == "" {
		var vs violations
		vs.add("case_id", "required")
		return nil, toStatus(vs.err())
	}
	x, err := s.n.gw.Audit().ExportCase(req.GetCaseId())
	if err != nil {
		return nil, toStatus(err)
	}
	op, _ := OperatorFrom(ctx)
	s.n.log.Info("audit export", "case_id", req.GetCaseId(), "operator", op.String(), "links", len(x.GetLinks()))
	return &jiexuv1.ExportCaseResponse{Export: x}, nil
}

// VerifyAuditStore checks the audit chain of a store file offline: a backup,
// or the store of a stopped node.
func VerifyAuditStore(path string, ca *x509.Certificate) (*jiexuv1.VerifyAuditResponse, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s (a running node holds its store: stop it, or check a backup): %w", path, err)
	}
	defer db.Close()
	var r *jiexuv1.VerifyAuditResponse
	err = db.View(func(tx *bolt.Tx) error {
		r = gateway.VerifyAudit(tx, ca)
		return nil
	})
	return r, err
}

// WriteAuditReport says what VerifyAudit found; it returns an error when
// the chain does not verify.
func WriteAuditReport(w io.Writer, r *jiexuv1.VerifyAuditResponse) error {
	if p := r.GetProblem(); p != "" {
		return fmt.Errorf("%w: %s", gateway.ErrAuditTampered, p)
	}
	fmt.Fprintf(w, "OK: %d audit entries chained, %d checkpoints sealed", r.GetEntries(), r.GetCheckpoints())
	if len(r.GetKinds()) > 0 {
		kinds := make([]string, 0, len(r.GetKinds()))
		for k, n := range r.GetKinds() {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, strings.ReplaceAll(k, "_", " ")))
		}
		slices.Sort(kinds)
		fmt.Fprintf(w, " (%s)", strings.Join(kinds, ", "))
	}
	if n := r.GetEntries() - r.GetLastCheckpoint(); n > 0 && r.GetCheckpoints() > 0 {
		fmt.Fprintf(w, "; the last %d entries are chained but not yet under a checkpoint", n)
	}
	fmt.Fprintln(w)
	return nil
}

// VerifyAuditExport checks an export file ('jiexu audit export') offline
// against the CA and writes the case's history.
func VerifyAuditExport(path string, ca *x509.Certificate, w io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	x := &jiexuv1.AuditExport{}
	if err := proto.Unmarshal(data, x); err != nil {
		return fmt.Errorf("%s is not an audit export: %w", path, err)
	}
	r, err := gateway.VerifyExport(x, ca)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "OK: case %s at region %s: %d entries of the case, every seal verified, %d checkpoint(s) sealed by %s (%d links in all)\n",
		r.CaseID, r.Region, len(r.Entries), len(r.Checkpoints), r.Region, r.Links)
	for _, e := range r.Entries {
		at := e.GetAt().AsTime().In(rules.CST).Format("2006-01-02 15:04:05")
		switch e.GetKind() {
		case jiexuv1.AuditKind_AUDIT_KIND_CASE_TRANSITION:
			fmt.Fprintf(w, "  %6d %s  case %s\n", e.GetSequence(), at, e.GetDetail())
		case jiexuv1.AuditKind_AUDIT_KIND_MESSAGE_OUT:
			fmt.Fprintf(w, "  %6d %s  sent %s to %s (message %s, sealed)\n", e.GetSequence(), at, shortMethod(e.GetMethod()), e.GetPeerRegion(), e.GetMessageId())
		case jiexuv1.AuditKind_AUDIT_KIND_MESSAGE_IN:
			fmt.Fprintf(w, "  %6d %s  received %s from %s (message %s, sealed; receipt sealed here)\n", e.GetSequence(), at, shortMethod(e.GetMethod()), e.GetPeerRegion(), e.GetMessageId())
		case jiexuv1.AuditKind_AUDIT_KIND_RECEIPT:
			fmt.Fprintf(w, "  %6d %s  %s's sealed receipt for %s (message %s)\n", e.GetSequence(), at, e.GetPeerRegion(), shortMethod(e.GetMethod()), e.GetMessageId())
		}
	}
	return nil
}
