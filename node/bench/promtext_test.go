package bench

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const page = `# HELP jiexu_outbox_deliveries_total Delivery attempts by peer region and result (ok, error).
# TYPE jiexu_outbox_deliveries_total counter
jiexu_outbox_deliveries_total{peer="150700",result="ok"} 400
jiexu_outbox_deliveries_total{peer="150700",result="error"} 2
jiexu_outbox_deliveries_total{peer="110000",result="ok"} 1e+02
# TYPE jiexu_outbox_delivery_seconds histogram
jiexu_outbox_delivery_seconds_bucket{peer="150700",le="0.005"} 10
jiexu_outbox_delivery_seconds_bucket{peer="150700",le="0.01"} 300
jiexu_outbox_delivery_seconds_bucket{peer="150700",le="+Inf"} 400
jiexu_outbox_delivery_seconds_bucket{peer="110000",le="0.005"} 0
jiexu_outbox_delivery_seconds_bucket{peer="110000",le="0.01"} 50
jiexu_outbox_delivery_seconds_bucket{peer="110000",le="+Inf"} 100
jiexu_outbox_delivery_seconds_sum{peer="150700"} 3.5
jiexu_node_info{region="150100",version="dev \"x\"\\y\nz"} 1
go_goroutines 42 1700000000000
weird_value NaN
`

func TestParseMetrics(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Sum("jiexu_outbox_deliveries_total", "result", "ok"); got != 500 {
		t.Errorf("Sum(deliveries ok) = %g, want 500", got)
	}
	if got := m.Sum("jiexu_outbox_deliveries_total", "peer", "150700", "result", "error"); got != 2 {
		t.Errorf("Sum(150700 errors) = %g, want 2", got)
	}
	if got := m.Sum("go_goroutines"); got != 42 {
		t.Errorf("Sum(go_goroutines) = %g, want 42 (timestamp ignored)", got)
	}
	if got := m.Sum("missing"); got != 0 {
		t.Errorf("Sum(missing) = %g, want 0", got)
	}
	var info Sample
	for _, s := range m {
		if s.Name == "jiexu_node_info" {
			info = s
		}
	}
	if want := "dev \"x\"\\y\nz"; info.Labels["version"] != want {
		t.Errorf("escaped label = %q, want %q", info.Labels["version"], want)
	}
	b := m.Buckets("jiexu_outbox_delivery_seconds")
	want := map[float64]float64{0.005: 10, 0.01: 350, math.Inf(1): 500}
	if len(b) != len(want) {
		t.Fatalf("Buckets = %+v, want %d bounds", b, len(want))
	}
	for _, x := range b {
		if want[x.UpperBound] != x.Count {
			t.Errorf("bucket le=%g count %g, want %g", x.UpperBound, x.Count, want[x.UpperBound])
		}
	}
	if got := m.Buckets("jiexu_outbox_delivery_seconds", "peer", "110000"); len(got) != 3 || got[2].Count != 100 {
		t.Errorf("Buckets(peer 110000) = %+v, want 3 bounds ending at 100", got)
	}
}

func TestParseMetricsRejects(t *testing.T) {
	for name, line := range map[string]string{
		"no value":            "jiexu_x",
		"bad value":           "jiexu_x 1.2.3",
		"unterminated label":  `jiexu_x{a="b} 1`,
		"unquoted label":      `jiexu_x{a=b} 1`,
		"bad escape":          `jiexu_x{a="\t"} 1`,
		"bad name":            "9x 1",
		"three fields":        "jiexu_x 1 2 3",
		"label without equal": `jiexu_x{a} 1`,
	} {
		if _, err := ParseMetrics(strings.NewReader(line + "\n")); !errors.Is(err, ErrMetricsFormat) {
			t.Errorf("%s: ParseMetrics(%q) err = %v, want ErrMetricsFormat", name, line, err)
		}
	}
}

// FuzzParseMetrics: the parser reads what a node's HTTP listener sends;
// nothing it is given may make it panic.
func FuzzParseMetrics(f *testing.F) {
	f.Add(page)
	f.Add(`x{a="\\",b="\""} +Inf`)
	f.Add("x{")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMetrics(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, x := range m {
			if !validName(x.Name) {
				t.Fatalf("accepted a sample named %q", x.Name)
			}
		}
	})
}
