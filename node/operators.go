package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Role is what a caller of the agency API may do. Roles are ordered: each
// may do everything the ones before it may.
type Role int

// The agency API's roles.
const (
	// RoleNone may call nothing.
	RoleNone Role = iota
	// RoleReader reads cases, records, certificates, queues and status.
	RoleReader
	// RoleClerk also serves people at the counter: records, applications,
	// re-issues and checks of certificates.
	RoleClerk
	// RoleAdmin also imports records in bulk, takes backups and re-drives
	// dead letters. The node's own user on the unix socket is admin.
	RoleAdmin
)

var roleNames = map[Role]string{RoleReader: "reader", RoleClerk: "clerk", RoleAdmin: "admin"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return "none"
}

// ParseRole reads "reader", "clerk" or "admin".
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("role %q must be reader, clerk or admin", s)
}

// methodRoles is the least role each agency method needs, in one place. A
// method missing here needs admin.
var methodRoles = map[string]Role{
	jiexuv1.AgencyService_GetCase_FullMethodName:             RoleReader,
	jiexuv1.AgencyService_ListCases_FullMethodName:           RoleReader,
	jiexuv1.AgencyService_GetEnrolment_FullMethodName:        RoleReader,
	jiexuv1.AgencyService_ListEnrolments_FullMethodName:      RoleReader,
	jiexuv1.AgencyService_GetCertificate_FullMethodName:      RoleReader,
	jiexuv1.AgencyService_ListOutbox_FullMethodName:          RoleReader,
	jiexuv1.AgencyService_GetStatus_FullMethodName:           RoleReader,
	jiexuv1.AgencyService_Reconcile_FullMethodName:           RoleReader,
	"/grpc.health.v1.Health/Check":                           RoleReader,
	"/grpc.health.v1.Health/Watch":                           RoleReader,
	jiexuv1.AgencyService_ApplyTransfer_FullMethodName:       RoleClerk,
	jiexuv1.AgencyService_ApplyTransferOut_FullMethodName:    RoleClerk,
	jiexuv1.AgencyService_WithdrawCase_FullMethodName:        RoleClerk,
	jiexuv1.AgencyService_RefuseCase_FullMethodName:          RoleClerk,
	jiexuv1.AgencyService_ConfirmCase_FullMethodName:         RoleClerk,
	jiexuv1.AgencyService_PutRecord_FullMethodName:           RoleClerk,
	jiexuv1.AgencyService_SuspendEnrolment_FullMethodName:    RoleClerk,
	jiexuv1.AgencyService_ResumeEnrolment_FullMethodName:     RoleClerk,
	jiexuv1.AgencyService_RegisterCertificate_FullMethodName: RoleClerk,
	jiexuv1.AgencyService_ReissueCertificate_FullMethodName:  RoleClerk,
	jiexuv1.AgencyService_CheckCertificate_FullMethodName:    RoleClerk,
	jiexuv1.AgencyService_ImportRecords_FullMethodName:       RoleAdmin,
	jiexuv1.AgencyService_Backup_FullMethodName:              RoleAdmin,
	jiexuv1.AgencyService_RedriveOutbox_FullMethodName:       RoleAdmin,
	jiexuv1.AgencyService_PayOutHeld_FullMethodName:          RoleAdmin,
	jiexuv1.AuditService_VerifyAudit_FullMethodName:          RoleReader,
	jiexuv1.AuditService_ExportCase_FullMethodName:           RoleClerk,
}

// MethodRole returns the least role a full method name needs.
func MethodRole(method string) Role {
	if r, ok := methodRoles[method]; ok {
		return r
	}
	return RoleAdmin
}

// Operator is who called the agency API.
type Operator struct {
	// Name is the certificate's common name, or "uid N" on the socket.
	Name string
	Role Role
	// Serial is the operator certificate's serial, empty on the socket.
	Serial string
}

// String names the operator for logs and errors.
func (o Operator) String() string {
	if o.Serial == "" {
		return o.Name
	}
	return fmt.Sprintf("%s (serial %s)", o.Name, o.Serial)
}

type operatorKey struct{}

// OperatorFrom returns the caller the agency interceptor identified.
func OperatorFrom(ctx context.Context) (Operator, bool) {
	o, ok := ctx.Value(operatorKey{}).(Operator)
	return o, ok
}

// identify finds the caller of an agency call from its connection: the
// unix socket's peer credentials or the verified operator certificate.
func (n *Node) identify(ctx context.Context) (Operator, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Operator{}, errors.New("no peer")
	}
	switch ai := p.AuthInfo.(type) {
	case unixPeer:
		return Operator{Name: fmt.Sprintf("uid %d", ai.uid), Role: RoleAdmin}, nil
	case credentials.TLSInfo:
		if len(ai.State.VerifiedChains) == 0 || len(ai.State.VerifiedChains[0]) == 0 {
			return Operator{}, certs.ErrNoPeerCertificate
		}
		leaf := ai.State.VerifiedChains[0][0]
		_, label, err := certs.OperatorOf(leaf)
		if err != nil {
			return Operator{}, err
		}
		role, err := ParseRole(label)
		if err != nil {
			return Operator{}, err
		}
		return Operator{Name: leaf.Subject.CommonName, Role: role, Serial: leaf.SerialNumber.String()}, nil
	}
	return Operator{}, errors.New("unknown transport")
}

// authorize identifies the caller and checks its role against the method.
func (n *Node) authorize(ctx context.Context, method string) (context.Context, Operator, error) {
	op, err := n.identify(ctx)
	if err != nil {
		return ctx, op, status.Errorf(codes.Unauthenticated, "agency API: %v", err)
	}
	if need := MethodRole(method); op.Role < need {
		return ctx, op, status.Errorf(codes.PermissionDenied, "operator %s has role %s; %s needs %s", op.Name, op.Role, shortMethod(method), need)
	}
	return context.WithValue(ctx, operatorKey{}, op), op, nil
}

func shortMethod(full string) string { return full[strings.LastIndex(full, "/")+1:] }

// logCall writes the one line every agency call leaves: who, what, the
// result. Requests are never logged, so no ID number is either.
func (n *Node) logCall(ctx context.Context, op Operator, method string, err error, start time.Time) {
	code := status.Code(err)
	level := slog.LevelInfo
	if code != codes.OK {
		level = slog.LevelWarn
	}
	n.log.Log(ctx, level, "agency call", "operator", op.Name, "operator_serial", op.Serial, "role", op.Role.String(),
		"method", shortMethod(method), "code", code.String(), "ms", time.Since(start).Milliseconds())
}

// agencyUnary authorizes and logs every unary agency call.
func (n *Node) agencyUnary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		start := time.Now()
		ctx, op, err := n.authorize(ctx, info.FullMethod)
		defer func() { n.logCall(ctx, op, info.FullMethod, err, start) }()
		if err != nil {
			return nil, err
		}
		normalizeRequest(req)
		return handler(ctx, req)
	}
}

// agencyStream authorizes and logs every streaming agency call.
func (n *Node) agencyStream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		start := time.Now()
		ctx, op, err := n.authorize(ss.Context(), info.FullMethod)
		defer func() { n.logCall(ctx, op, info.FullMethod, err, start) }()
		if err != nil {
			return err
		}
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}

// contextStream carries the identified operator into a stream handler.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// operatorTLS is the TLS configuration of agency_tls_listen: the node's own
// certificate to the operator, and an operator certificate from the node's
// operator CA, for this region, not on the operator CA's list, from the
// operator.
func (n *Node) operatorTLS() (*tls.Config, error) {
	ca, err := certs.LoadCertificate(filepath.Join(n.cfg.OperatorCADir, certs.CACertFile))
	if err != nil {
		return nil, fmt.Errorf("operator_ca_dir: %w (create it with 'jiexu operator init')", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	crl := &operatorCRL{path: filepath.Join(n.cfg.OperatorCADir, certs.CRLFile), ca: ca}
	if _, err := crl.current(); err != nil {
		return nil, fmt.Errorf("operator_ca_dir: %w", err)
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      pool,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return n.kp.Certificate(), nil },
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.VerifiedChains) == 0 {
				return certs.ErrNoPeerCertificate
			}
			leaf := cs.VerifiedChains[0][0]
			region, label, err := certs.OperatorOf(leaf)
			if err != nil {
				return err
			}
			if region != n.cfg.Region {
				return fmt.Errorf("operator certificate is for region %s, this node is %s", region, n.cfg.Region)
			}
			if _, err := ParseRole(label); err != nil {
				return err
			}
			revoked, err := crl.current()
			if err != nil {
				return err
			}
			if revoked.Contains(leaf) {
				return fmt.Errorf("operator %s: %w", leaf.Subject.CommonName, certs.ErrRevoked)
			}
			return nil
		},
	}, nil
}

// operatorCRL is the operator CA's revocation list, read again when the
// file changes, so that 'jiexu operator revoke' takes effect at once.
type operatorCRL struct {
	path string
	ca   *x509.Certificate

	mu      sync.Mutex // guards the fields below
	modTime time.Time
	revoked *certs.Revoked
}

func (c *operatorCRL) current() (*certs.Revoked, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, err := os.Stat(c.path)
	if err != nil {
		return nil, fmt.Errorf("operator revocation list: %w", err)
	}
	if c.revoked == nil || !fi.ModTime().Equal(c.modTime) {
		der, err := certs.LoadCRL(c.path)
		if err != nil {
			return nil, err
		}
		r, err := certs.ParseRevoked(der, c.ca)
		if err != nil {
			return nil, err
		}
		c.revoked, c.modTime = r, fi.ModTime()
	}
	return c.revoked, nil
}

// Operator CA files: the CA itself (certs.CACertFile, certs.CAKeyFile,
// certs.CRLFile) in operator_ca_dir; an operator's folder holds key.pem,
// cert.pem, ca.pem (the operator CA) and ServerCAFile.
const (
	// ServerCAFile is the national CA in an operator's folder, to verify the node.
	ServerCAFile = "server-ca.pem"
)

// InitOperators creates the node's operator CA in cfg.OperatorCADir. A
// bureau's operators are its own staff: their certificates come from this
// CA, not the national one, so the bureau adds and removes staff itself and
// no certificate from the national CA (no node's) opens this node's agency
// API.
func InitOperators(cfg Config) (*certs.CA, error) {
	if cfg.OperatorCADir == "" {
		return nil, errors.New("operator_ca_dir: required")
	}
	return certs.InitCA(cfg.OperatorCADir, cfg.AgencyName+" operators CA "+cfg.Region, certs.WithOrganization(cfg.AgencyName))
}

// IssueOperator issues an operator certificate for this node into outDir:
// key.pem (0600), cert.pem, ca.pem, and server-ca.pem (the national CA, to
// verify the node), all an operator's CLI needs with --operator outDir.
func IssueOperator(cfg Config, name string, role Role, validity time.Duration, outDir string) (*x509.Certificate, error) {
	if role == RoleNone {
		return nil, errors.New("role: reader, clerk or admin")
	}
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("name: the operator's name is required")
	}
	ca, err := certs.LoadCA(cfg.OperatorCADir)
	if err != nil {
		return nil, err
	}
	cert, err := ca.Issue(certs.IssueRequest{Role: certs.RoleOperator, Region: cfg.Region, OperatorRole: role.String(), Name: name, Validity: validity}, outDir)
	if err != nil {
		return nil, err
	}
	national, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	if err := os.WriteFile(filepath.Join(outDir, ServerCAFile), national, 0o644); err != nil {
		return nil, err
	}
	return cert, nil
}

// RevokeOperator puts operator certificates on the operator CA's list; a
// running node refuses them from its next handshake on.
func RevokeOperator(cfg Config, serials []*big.Int) error {
	ca, err := certs.LoadCA(cfg.OperatorCADir)
	if err != nil {
		return err
	}
	_, err = ca.Revoke(serials)
	return err
}
