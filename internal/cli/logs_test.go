package cli

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	cases := []struct {
		value string
		want  time.Time
	}{
		{"10m", now.Add(-10 * time.Minute)},
		{"1h30m", now.Add(-90 * time.Minute)},
		{"2026-12-04T17:58:36Z", time.Date(2026, 12, 4, 17, 58, 36, 0, time.UTC)},
		{"2026-12-04T17:58:36.123456789Z", time.Date(2026, 12, 4, 17, 58, 36, 123456789, time.UTC)},
		{"2026-12-04T18:58:36+01:00", time.Date(2026, 12, 4, 17, 58, 36, 0, time.UTC)},
		{"2026-12-04T17:58:36", time.Date(2026, 12, 4, 17, 58, 36, 0, time.Local)},
		{"2026-12-04", time.Date(2026, 12, 4, 0, 0, 0, 0, time.Local)},
		{"1796407116", time.Unix(1796407116, 0)},
		{"1796407116.5", time.Unix(1796407116, 500000000)},
		{"0", time.Unix(0, 0)},
	}
	for _, tc := range cases {
		got, err := parseSince(tc.value, now)
		if err != nil {
			t.Errorf("parseSince(%q): %v", tc.value, err)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, want %v", tc.value, got, tc.want)
		}
	}
}

func TestParseSince_Invalid(t *testing.T) {
	t.Parallel()
	for _, value := range []string{"abc", "10 minutes", "-5m", "2026-13-40", "12.3.4", "1.1234567890"} {
		_, err := parseSince(value, time.Now())
		var usage usageError
		if !errors.As(err, &usage) {
			t.Errorf("parseSince(%q) error = %v, want a usage error", value, err)
			continue
		}
		if !strings.Contains(err.Error(), `"`+value+`"`) || !strings.Contains(err.Error(), "10m") {
			t.Errorf("parseSince(%q) error = %q, want the value and an example", value, err)
		}
	}
}

func TestParseTail(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]int{"all": -1, "0": 0, "20": 20} {
		got, err := parseTail(value)
		if err != nil || got != want {
			t.Errorf("parseTail(%q) = %d, %v; want %d", value, got, err, want)
		}
	}
	for _, value := range []string{"-1", "x", ""} {
		var usage usageError
		if _, err := parseTail(value); !errors.As(err, &usage) {
			t.Errorf("parseTail(%q) error = %v, want a usage error", value, err)
		}
	}
}

func TestParseScaleArgs(t *testing.T) {
	t.Parallel()
	targets, err := parseScaleArgs([]string{"web=4", "worker=max", "batch=-1", "idle=0"})
	if err != nil {
		t.Fatalf("parseScaleArgs: %v", err)
	}
	var got []string
	for _, target := range targets {
		got = append(got, target.Service+"="+target.Count.String())
	}
	if strings.Join(got, " ") != "web=4 worker=max batch=-1 idle=0" {
		t.Errorf("targets = %v", got)
	}
	for _, args := range [][]string{nil, {"web"}, {"=3"}, {"web=x"}, {"web=2.5"}, {"web=2", "web=3"}, {"web=1001"}, {"web=99999999999"}} {
		var usage usageError
		if _, err := parseScaleArgs(args); !errors.As(err, &usage) {
			t.Errorf("parseScaleArgs(%q) error = %v, want a usage error", args, err)
		}
	}
}
