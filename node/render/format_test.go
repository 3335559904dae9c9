package render

import (
	"testing"

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
