package node

import (
	"context"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/node/rules"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// storedCertificate is a certificate this node holds, verified, with what
// the node says of it now.
type storedCertificate struct {
	sealed     *jiexuv1.SealedCertificate
	cert       *jiexuv1.Certificate
	voidedOn   *jiexuv1.Date
	voidReason string
}

// certificate returns a stored certificate, verified.
func (n *Node) certificate(number string) (*storedCertificate, error) {
	got := &storedCertificate{}
	err := n.db.View(func(tx *bolt.Tx) error {
		var err error
		got.sealed, err = getCertificate(tx, number)
		if err == nil && got.sealed == nil {
			err = fmt.Errorf("%w: certificate %s", ErrNotFound, number)
		}
		got.voidedOn, got.voidReason = certificateVoided(tx, number)
		return err
	})
	if err != nil {
		return nil, err
	}
	if got.cert, err = VerifyCertificate(got.sealed, n.ca, nil); err != nil {
		return nil, fmt.Errorf("stored certificate %s fails verification: %w", number, err)
	}
	return got, nil
}

// reissue re-issues a lost certificate (补办): the same content and number,
// marked as a re-issue with its date, sealed anew. The replaced version is
// kept in the certificate history.
func (n *Node) reissue(number, id string) (*jiexuv1.SealedCertificate, error) {
	now := n.now()
	var out *jiexuv1.SealedCertificate
	err := n.gw.Update(func(tx *bolt.Tx) error {
		sc, err := getCertificate(tx, number)
		if err != nil {
			return err
		}
		if sc == nil {
			return fmt.Errorf("%w: certificate %s", ErrNotFound, number)
		}
		cert, err := VerifyCertificate(sc, n.ca, nil)
		if err != nil {
			return err
		}
		if !n.same(cert.GetOriginRegion(), n.cfg.Region) {
			return fmt.Errorf("%w: %s was issued by %s; only the issuing agency re-issues it", ErrMismatch, number, cert.GetOriginRegion())
		}
		if cert.GetPerson().GetIdNumber() != id {
			return fmt.Errorf("%w: certificate %s", ErrNotFound, number) // no hint that the number exists
		}
		if on, why := certificateVoided(tx, number); on != nil {
			return refuse("certificate %s was voided on %04d-%02d-%02d (%s); it is not re-issued", number, on.GetYear(), on.GetMonth(), on.GetDay(), why)
		}
		histKey := fmt.Sprintf("%s#%d", number, cert.GetReissueCount())
		if err := putProto(tx, bucketCertificateHistory, []byte(histKey), sc); err != nil {
			return err
		}
		cert.Reissue = true
		cert.ReissuedOn = rules.DateOf(now)
		cert.ReissueCount++
		cert.IssuedAt = timestamppb.New(now)
		// A region whose code changed since re-seals under its new code: the
		// seal's region must be the certificate's. The number keeps its name.
		cert.OriginRegion = n.cfg.Region
		if out, err = SealCertificate(n.gw.Signer(), cert); err != nil {
			return err
		}
		return putProto(tx, bucketCertificates, []byte(number), out)
	})
	if err != nil {
		return nil, err
	}
	n.log.Info("certificate re-issued", "number", number, "id", rules.MaskID(id))
	return out, nil
}

// issuerOf finds the region that issued a certificate number from its
// province abbreviation and region name.
func (n *Node) issuerOf(num rules.CertNumber) (string, error) {
	router, err := n.gw.Directory().Router()
	if err != nil {
		return "", err
	}
	node, err := router.CertIssuer(num.Abbrev, num.Region)
	if err != nil {
		return "", fmt.Errorf("%w; give issuer_division", err)
	}
	return node.GetRegion(), nil
}

// fetched is an issuer's answer to a look-up, verified.
type fetched struct {
	sealed     *jiexuv1.SealedCertificate
	cert       *jiexuv1.Certificate
	issuer     string
	voidedOn   *jiexuv1.Date
	voidReason string
}

// fetchCertificate asks the issuer (this node, or a peer over the network)
// for its record of a certificate, by number and ID number, and verifies
// the answer.
func (n *Node) fetchCertificate(ctx context.Context, number, id, code, issuerDivision string) (*fetched, error) {
	var issuer string
	if issuerDivision != "" {
		router, err := n.gw.Directory().Router()
		if err != nil {
			return nil, err
		}
		node, err := router.Resolve(issuerDivision)
		if err != nil {
			return nil, err
		}
		issuer = node.GetRegion()
	} else {
		num, err := rules.ParseCertNumber(number)
		if err != nil {
			return nil, err
		}
		if issuer, err = n.issuerOf(num); err != nil {
			return nil, err
		}
	}
	got := &fetched{issuer: issuer}
	if issuer == n.cfg.Region {
		local, err := n.lookupCertificate(operatorCaller(ctx), number, id, code)
		if err != nil {
			return nil, err
		}
		got.sealed, got.voidedOn, got.voidReason = local.sealed, local.voidedOn, local.voidReason
	} else {
		resp := &jiexuv1.LookupCertificateResponse{}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := n.gw.Invoke(cctx, issuer, jiexuv1.CertificateService_LookupCertificate_FullMethodName,
			&jiexuv1.LookupCertificateRequest{Number: number, IdNumber: id, VerificationCode: code}, resp)
		cancel()
		n.logLookup(operatorCaller(ctx), number, id, issuer, err)
		if err != nil {
			return nil, err
		}
		got.sealed, got.voidedOn, got.voidReason = resp.GetCertificate(), resp.GetVoidedOn(), resp.GetVoidReason()
	}
	cert, err := VerifyCertificate(got.sealed, n.ca, n.gw.Directory().Revoked())
	if err != nil {
		return nil, fmt.Errorf("%w: the issuer's answer does not verify: %v", ErrMismatch, err)
	}
	if cert.GetNumber() != number || cert.GetPerson().GetIdNumber() != id || !n.same(cert.GetOriginRegion(), issuer) {
		return nil, fmt.Errorf("%w: the issuer answered with another certificate", ErrMismatch)
	}
	got.cert = cert
	return got, nil
}

// registerCertificate records at the destination a certificate the person
// brought on paper (2009 §9): fetched from the issuer by number and ID
// number, it must show the verification code printed on the paper. It is
// stored as received and assessed against the person's enrolment here: the
// window, the gap and the waiting period, before any application.
func (n *Node) registerCertificate(ctx context.Context, req *jiexuv1.RegisterCertificateRequest) (*jiexuv1.RegisterCertificateResponse, error) {
	var vs violations
	id := n.v.checkCertRef(&vs, req.GetNumber(), req.GetIdNumber())
	code := strings.ToUpper(strings.TrimSpace(req.GetVerificationCode()))
	if len(strings.ReplaceAll(code, "-", "")) != 12 {
		vs.add("verification_code", "the 核验码 on the paper copy: 12 letters and digits, as XXXX-XXXX-XXXX")
	}
	if d := req.GetIssuerDivision(); d != "" {
		n.v.checkDivision(&vs, "issuer_division", d)
	}
	if err := vs.err(); err != nil {
		return nil, err
	}
	got, err := n.fetchCertificate(ctx, req.GetNumber(), id, code, req.GetIssuerDivision())
	if err != nil {
		return nil, err
	}
	if want := rules.VerificationCode(got.sealed); strings.ReplaceAll(code, "-", "") != strings.ReplaceAll(want, "-", "") {
		return nil, fmt.Errorf("%w: the verification code on the paper (%s) is not the issuer's record's; the paper may be an older copy or altered: ask the issuer", ErrMismatch, code)
	}
	if got.voidedOn != nil {
		return nil, refuse("the issuer voided certificate %s on %04d-%02d-%02d (%s): the person's enrolment there was resumed", req.GetNumber(),
			got.voidedOn.GetYear(), got.voidedOn.GetMonth(), got.voidedOn.GetDay(), got.voidReason)
	}
	resp := &jiexuv1.RegisterCertificateResponse{Certificate: got.sealed, IssuerRegion: got.issuer,
		Assessment: &jiexuv1.Case{Side: sideDestination, Person: got.cert.GetPerson(), OriginRegion: got.issuer,
			OriginScheme: got.cert.GetScheme(), CertificateNumber: got.cert.GetNumber(), MonthsPaid: got.cert.GetMonthsPaid(),
			ExpectedAmountFen: got.cert.GetBalanceFen()}}
	err = n.gw.Update(func(tx *bolt.Tx) error {
		if err := putProto(tx, bucketCertificates, []byte(req.GetNumber()), got.sealed); err != nil {
			return err
		}
		e, err := getEnrolment(tx, id)
		if err != nil {
			return err
		}
		if p := latest(e); p.GetStatus() == statusActive {
			a := resp.Assessment
			a.DestinationScheme, a.DestinationFrom, a.EnrolledOn = p.GetScheme(), p.GetEnrolledFrom(), p.GetRegisteredOn()
			n.assessCase(a, got.cert, p.GetGapBackPaid())
		}
		// An application already open for the person from this issuer gets
		// the proof: the notice goes again, with it.
		if cid := openCase(tx, id); cid != "" {
			c, err := getCase(tx, cid)
			if err != nil {
				return err
			}
			if c.GetSide() == sideDestination && n.same(c.GetOriginRegion(), got.issuer) && !transfer.Terminal(c.GetState()) && !c.GetCertified() {
				c.PresentedCertificate, c.PresentedCode = req.GetNumber(), rules.VerificationCode(got.sealed)
				if err := n.step(tx, c, transfer.Input{Event: transfer.Present}, n.now()); err != nil {
					return err
				}
				resp.Assessment.CaseId = c.GetCaseId()
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n.log.Info("paper certificate registered", "number", req.GetNumber(), "issuer", got.issuer, "id", rules.MaskID(id))
	return resp, nil
}
