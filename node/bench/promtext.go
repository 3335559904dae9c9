package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sample is one line of a Prometheus text exposition: a name, its labels
// and a value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Metrics is a parsed /metrics page.
type Metrics []Sample

// ParseMetrics reads the Prometheus text format (version 0.0.4): comments
// and blank lines are skipped, every other line is name{labels} value
// [timestamp]. It is the small part of the format a node writes, parsed
// strictly: a line it cannot read is an error naming the line.
func ParseMetrics(r io.Reader) (Metrics, error) {
	var out Metrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		s, err := parseSample(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseSample(text string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(text, "{ \t")
	if i <= 0 {
		return s, fmt.Errorf("%w: no value in %q", ErrMetricsFormat, clip(text))
	}
	s.Name, text = text[:i], text[i:]
	if !validName(s.Name) {
		return s, fmt.Errorf("%w: metric name %q", ErrMetricsFormat, clip(s.Name))
	}
	if text[0] == '{' {
		rest, err := parseLabels(text[1:], s.Labels)
		if err != nil {
			return s, err
		}
		text = rest
	}
	fields := strings.Fields(text)
	if len(fields) < 1 || len(fields) > 2 {
		return s, fmt.Errorf("%w: want a value and an optional timestamp after %s, got %q", ErrMetricsFormat, s.Name, clip(text))
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return s, fmt.Errorf("%w: value of %s: %q", ErrMetricsFormat, s.Name, clip(fields[0]))
	}
	s.Value = v
	return s, nil
}

// parseLabels reads label pairs up to the closing '}' into labels and
// returns what follows it.
func parseLabels(text string, labels map[string]string) (string, error) {
	for {
		text = strings.TrimLeft(text, " \t")
		if strings.HasPrefix(text, "}") {
			return text[1:], nil
		}
		eq := strings.IndexByte(text, '=')
		if eq <= 0 {
			return "", fmt.Errorf("%w: label without '=' in %q", ErrMetricsFormat, clip(text))
		}
		name := strings.TrimSpace(text[:eq])
		if !validName(name) {
			return "", fmt.Errorf("%w: label name %q", ErrMetricsFormat, clip(name))
		}
		text = strings.TrimLeft(text[eq+1:], " \t")
		if !strings.HasPrefix(text, `"`) {
			return "", fmt.Errorf("%w: label %s: value not quoted", ErrMetricsFormat, name)
		}
		var val strings.Builder
		closed := false
		j := 1
		for ; j < len(text); j++ {
			c := text[j]
			if c == '"' {
				closed = true
				break
			}
			if c != '\\' {
				val.WriteByte(c)
				continue
			}
			if j++; j == len(text) {
				break
			}
			switch text[j] {
			case 'n':
				val.WriteByte('\n')
			case '\\', '"':
				val.WriteByte(text[j])
			default:
				return "", fmt.Errorf("%w: label %s: unknown escape \\%c", ErrMetricsFormat, name, text[j])
			}
		}
		if !closed {
			return "", fmt.Errorf("%w: label %s: unterminated value", ErrMetricsFormat, name)
		}
		labels[name] = val.String()
		text = strings.TrimLeft(text[j+1:], " \t")
		if strings.HasPrefix(text, ",") {
			text = text[1:]
		}
	}
}

func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return s != ""
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// matches reports whether s has every label of match (name, value pairs).
func (s Sample) matches(match []string) bool {
	for i := 0; i+1 < len(match); i += 2 {
		if s.Labels[match[i]] != match[i+1] {
			return false
		}
	}
	return true
}

// Sum adds the values of every sample named name whose labels include the
// given name, value pairs: Sum("jiexu_outbox_deliveries_total", "result", "ok").
func (m Metrics) Sum(name string, match ...string) float64 {
	var sum float64
	for _, s := range m {
		if s.Name == name && s.matches(match) {
			sum += s.Value
		}
	}
	return sum
}

// Buckets returns the cumulative buckets of histogram name (without the
// _bucket suffix), summed over every label set that includes match: the
// histogram of all peers together.
func (m Metrics) Buckets(name string, match ...string) []Bucket {
	byBound := map[float64]float64{}
	var bounds []float64
	for _, s := range m {
		if s.Name != name+"_bucket" || !s.matches(match) {
			continue
		}
		le, err := parseValue(s.Labels["le"])
		if err != nil {
			continue
		}
		if _, ok := byBound[le]; !ok {
			bounds = append(bounds, le)
		}
		byBound[le] += s.Value
	}
	out := make([]Bucket, 0, len(bounds))
	for _, b := range bounds {
		out = append(out, Bucket{UpperBound: b, Count: byBound[b]})
	}
	return out
}

// NewScrapeClient returns an HTTP client for Scrape that does not ask for
// gzip: on loopback, compressing the page only spends the node's CPU.
func NewScrapeClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
}

// Scrape fetches and parses a node's /metrics.
func Scrape(ctx context.Context, client *http.Client, addr string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", addr, resp.Status)
	}
	m, err := ParseMetrics(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s/metrics: %w", addr, err)
	}
	return m, nil
}
