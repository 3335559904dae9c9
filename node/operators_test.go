package node

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

func TestIsLoopbackParsesTheHost(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:7444", true},
		{"127.1.2.3:7444", true},
		{"[::1]:7444", true},
		{"127.attacker.example:7444", false},
		{"localhost:7444", false}, // a name, whatever it resolves to
		{"10.1.2.3:7444", false},
		{"0.0.0.0:7444", false},
		{"127.0.0.1", false}, // no port
		{"[::ffff:127.0.0.1]:1", true},
	}
	for _, tt := range tests {
		if got := isLoopback(tt.addr); got != tt.want {
			t.Errorf("isLoopback(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// Every agency method is in the role table on purpose: a new method must be
// placed there (or it needs admin), and reading never needs more than
// writing.
func TestEveryAgencyMethodHasARole(t *testing.T) {
	for _, sd := range []protoreflect.ServiceDescriptor{
		jiexuv1.File_jiexu_v1_agency_proto.Services().ByName("AgencyService"),
		jiexuv1.File_jiexu_v1_audit_proto.Services().ByName("AuditService"),
	} {
		checkRoles(t, sd)
	}
}

func checkRoles(t *testing.T, sd protoreflect.ServiceDescriptor) {
	t.Helper()
	for i := 0; i < sd.Methods().Len(); i++ {
		m := sd.Methods().Get(i)
		full := "/" + string(sd.FullName()) + "/" + string(m.Name())
		r, ok := methodRoles[full]
		if !ok {
			t.Errorf("%s is not in methodRoles (it falls back to admin)", full)
			continue
		}
		if read := strings.HasPrefix(string(m.Name()), "Get") || strings.HasPrefix(string(m.Name()), "List"); read && r != RoleReader {
			t.Errorf("%s reads but needs %s", full, r)
		}
	}
}

func TestRoleNames(t *testing.T) {
	if MethodRole("/jiexu.v1.AgencyService/SomethingNew") != RoleAdmin {
		t.Error("an unknown method does not need admin")
	}
	for _, s := range []string{"reader", "clerk", "admin"} {
		if r, err := ParseRole(s); err != nil || r.String() != s {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole(root) succeeded")
	}
}
