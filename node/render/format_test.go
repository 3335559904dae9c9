package render

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

func TestLabel(t *testing.T) {
	for _, tt := range []struct {
		e    protoreflect.Enum
		want string
	}{
		{jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT, "certificate_sent"},
		{jiexuv1.CaseSide_CASE_SIDE_DESTINATION, "destination"},
		{jiexuv1.Scheme_SCHEME_NCMS, "ncms"},
		{jiexuv1.HouseholdType_HOUSEHOLD_TYPE_NON_AGRICULTURAL, "non_agricultural"},
		{jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED_AT_DESTINATION, "not_enrolled_at_destination"},
		{jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED, "suspended"},
		{jiexuv1.CaseState(99), "99"},
	} {
		if got := Label(tt.e); got != tt.want {
			t.Errorf("Label(%v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestFormatStatusHasAHealthLine(t *testing.T) {
	tests := []struct {
		name string
		s    *jiexuv1.GetStatusResponse
		want []string
	}{
		{"serving", &jiexuv1.GetStatusResponse{Region: "150781", Serving: true, RegistryVersion: 3}, []string{"health", "SERVING", "version 3"}},
		{"revoked", &jiexuv1.GetStatusResponse{Region: "150781", HealthReason: "node certificate revoked", RegistryVersion: 3},
			[]string{"NOT_SERVING: node certificate revoked", "fix: this certificate was revoked"}},
		{"no snapshot", &jiexuv1.GetStatusResponse{Region: "150781", HealthReason: "no registry snapshot yet", RegistryError: "x509: certificate is valid for registry.example, not 10.0.0.1"},
			[]string{"NOT_SERVING: no registry snapshot yet", "registry_address", "no snapshot yet", "last error: x509"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			FormatStatus(&b, tt.s, time.Now())
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("status lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
