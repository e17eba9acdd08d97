package main

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	defaultPort     = "8080"
	defaultVersion  = "dev"
	defaultExitCode = 1
)

// config is the worker's configuration, read once from the environment.
type config struct {
	port       string
	service    string
	instanceID string
	version    string
	slot       *int
	hostname   string

	exitAfter       time.Duration
	exitCode        int
	readyAfter      time.Duration
	neverReady      bool
	ignoreSIGTERM   bool
	crashAfterReady time.Duration
	allocMBPerSec   int
}

// loadConfig reads the configuration through getenv. hostname is the
// fallback for the instance ID when OTEL_RESOURCE_ATTRIBUTES has no
// service.instance.id. It returns every invalid variable in one joined error.
func loadConfig(getenv func(string) string, hostname string) (config, error) {
	attrs := parseResourceAttributes(getenv("OTEL_RESOURCE_ATTRIBUTES"))
	cfg := config{
		port:       valueOr(getenv("PORT"), defaultPort),
		service:    getenv("OTEL_SERVICE_NAME"),
		instanceID: valueOr(attrs["service.instance.id"], hostname),
		version:    valueOr(attrs["service.version"], valueOr(getenv("DEMO_VERSION"), defaultVersion)),
		hostname:   hostname,
	}

	var errs []error
	errs = append(errs, checkPort(cfg.port))
	cfg.slot, errs = parseSlot(getenv("CLUSTERCTL_INSTANCE"), errs)
	cfg.exitAfter, errs = parseDuration(getenv, "DEMO_EXIT_AFTER", errs)
	cfg.readyAfter, errs = parseDuration(getenv, "DEMO_READY_AFTER", errs)
	cfg.crashAfterReady, errs = parseDuration(getenv, "DEMO_CRASH_AFTER_READY", errs)
	cfg.exitCode, errs = parseInt(getenv, "DEMO_EXIT_CODE", defaultExitCode, 0, 255, errs)
	cfg.allocMBPerSec, errs = parseInt(getenv, "DEMO_ALLOC_MB_PER_SEC", 0, 0, 1<<20, errs)
	cfg.neverReady, errs = parseBool(getenv, "DEMO_NEVER_READY", errs)
	cfg.ignoreSIGTERM, errs = parseBool(getenv, "DEMO_IGNORE_SIGTERM", errs)

	return cfg, errors.Join(errs...)
}

// parseResourceAttributes decodes an OTEL_RESOURCE_ATTRIBUTES value: pairs
// key=value separated by commas, with percent-encoded values. Like the Go SDK,
// it skips pairs without "=" and keeps a value as written when it is not valid
// percent-encoding.
func parseResourceAttributes(value string) map[string]string {
	attrs := make(map[string]string)
	for pair := range strings.SplitSeq(value, ",") {
		key, raw, found := strings.Cut(pair, "=")
		key = strings.TrimSpace(key)
		if !found || key == "" {
			continue
		}
		decoded, err := url.PathUnescape(strings.TrimSpace(raw))
		if err != nil {
			decoded = strings.TrimSpace(raw)
		}
		attrs[key] = decoded
	}

	return attrs
}

func checkPort(port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid PORT %q: set a port number from 1 to 65535", port)
	}

	return nil
}

// parseSlot returns nil when CLUSTERCTL_INSTANCE is unset, as it is outside
// clusterctl.
func parseSlot(value string, errs []error) (*int, []error) {
	if value == "" {
		return nil, errs
	}
	slot, err := strconv.Atoi(value)
	if err != nil || slot < 0 {
		return nil, append(errs, fmt.Errorf(
			"invalid CLUSTERCTL_INSTANCE %q: set a slot number of 0 or more", value))
	}

	return &slot, errs
}

// parseDuration returns zero, which disables the knob, when name is unset.
func parseDuration(getenv func(string) string, name string, errs []error) (time.Duration, []error) {
	value := getenv(name)
	if value == "" {
		return 0, errs
	}
	d, err := time.ParseDuration(value)
	if err != nil || d < 0 {
		return 0, append(errs, fmt.Errorf(
			"invalid %s %q: set a non-negative Go duration such as 500ms or 2s", name, value))
	}

	return d, errs
}

func parseInt(
	getenv func(string) string, name string, fallback, lowest, highest int, errs []error,
) (int, []error) {
	value := getenv(name)
	if value == "" {
		return fallback, errs
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < lowest || n > highest {
		return fallback, append(errs, fmt.Errorf(
			"invalid %s %q: set an integer from %d to %d", name, value, lowest, highest))
	}

	return n, errs
}

func parseBool(getenv func(string) string, name string, errs []error) (bool, []error) {
	value := getenv(name)
	if value == "" {
		return false, errs
	}
	b, err := strconv.ParseBool(value)
	if err != nil {
		return false, append(errs, fmt.Errorf("invalid %s %q: set 1 or 0", name, value))
	}

	return b, errs
}

func valueOr(value, fallback string) string {
	if value == "" {
		return fallback
	}

	return value
}
