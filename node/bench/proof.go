package bench

import (
	"context"
	"fmt"
	"sync"

	"jiexu/node/devnet"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Proofs reads, for each ID number, the certificate the origin issued when
// it suspended the person, with its verification code: what the applicant
// presents at the destination, so that the origin transfers without
// waiting for its operator. The certificate numbers come from the origin's
// enrolments a page at a time, the codes from one look-up each.
func Proofs(ctx context.Context, origin jiexuv1.AgencyServiceClient, ids []string) (map[string]devnet.Proof, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	numbers := map[string]string{}
	token := ""
	for {
		resp, err := origin.ListEnrolments(ctx, &jiexuv1.ListEnrolmentsRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list enrolments: %w", err)
		}
		for _, e := range resp.GetEnrolments() {
			id := e.GetPerson().GetIdNumber()
			ps := e.GetPeriods()
			if want[id] && len(ps) > 0 && ps[len(ps)-1].GetCertificateNumber() != "" {
				numbers[id] = ps[len(ps)-1].GetCertificateNumber()
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	out := make(map[string]devnet.Proof, len(ids))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var firstErr error
	for _, id := range ids {
		number, ok := numbers[id]
		if !ok {
			return nil, fmt.Errorf("no certificate at the origin for %s: was the person suspended?", rules.MaskID(id))
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			got, err := origin.GetCertificate(ctx, &jiexuv1.GetCertificateRequest{Number: number})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("certificate %s: %w", number, err)
				}
				return
			}
			out[id] = devnet.Proof{Certificate: number, Code: rules.VerificationCode(got.GetCertificate())}
		})
	}
	wg.Wait()
	return out, firstErr
}
