package node

import (
	"context"
	"errors"
	"fmt"
	"testing"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// A peer answering a page with more cases than were asked for is refused,
// so that one peer cannot make a reconciliation or a restore read and
// apply without bound.
func TestCollectRefusesAnOverfullPage(t *testing.T) {
	page := func(n int) caseSource {
		return func(context.Context, *jiexuv1.ListSharedCasesRequest) (*jiexuv1.ListSharedCasesResponse, error) {
			resp := &jiexuv1.ListSharedCasesResponse{}
			for i := range n {
				resp.Cases = append(resp.Cases, &jiexuv1.SharedCase{CaseId: fmt.Sprintf("150700-20261208-%06d", i+1)})
			}
			return resp, nil
		}
	}
	from, to := &jiexuv1.Date{Year: 2026, Month: 12, Day: 1}, &jiexuv1.Date{Year: 2026, Month: 12, Day: 8}
	if view, err := collectRange(context.Background(), page(maxSharedPage), from, to, nil, false); err != nil || len(view) != maxSharedPage {
		t.Errorf("a full page: %d cases, %v; want %d, nil", len(view), err, maxSharedPage)
	}
	if _, err := collectRange(context.Background(), page(maxSharedPage+1), from, to, nil, false); !errors.Is(err, ErrPeerAnswer) {
		t.Errorf("an overfull page: %v; want ErrPeerAnswer", err)
	}
	if err := collectIDs(context.Background(), page(3), []string{"150700-20261208-000001", "150700-20261208-000002"}, nil, sideView{}); !errors.Is(err, ErrPeerAnswer) {
		t.Errorf("three cases for two ids: %v; want ErrPeerAnswer", err)
	}
}
