package compose

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clusterctl/clusterctl/internal/prose"
)

// ExtensionKey is the key of clusterctl's compose extension, at the top
// level and in each service.
const ExtensionKey = "x-clusterctl"

// extension is one x-clusterctl block as written. A nil field is unset, so
// that a service-level block overrides the top-level block key by key.
type extension struct {
	instances    *InstanceCount
	instanceVar  *string
	otel         *otelBlock
	ready        *ReadyProbe
	minUptime    *time.Duration
	drainTimeout *time.Duration
	proxy        *proxyBlock
}

type otelBlock struct {
	endpoint   *string
	protocol   *string
	enabled    *bool
	attributes map[string]string
}

type proxyBlock struct {
	// disabled is true for "proxy: false".
	disabled bool
	mode     *string
	port     *int
}

// field decodes the value of one key. path ends with that key.
type field func(value any, path []string) error

// set returns a field that stores the parsed value in *dst.
func set[T any](dst **T, parse func(value any, path []string) (T, error)) field {
	return func(value any, path []string) error {
		parsed, err := parse(value, path)
		if err != nil {
			return err
		}
		*dst = &parsed
		return nil
	}
}

// decodeExtension decodes an x-clusterctl block strictly: an unknown key or
// a bad value anywhere returns an *InvalidError for its key path.
func decodeExtension(raw any, path []string) (extension, error) {
	var e extension
	err := decodeFields(raw, path, map[string]field{
		"instances":     set(&e.instances, parseInstances),
		"instance_var":  set(&e.instanceVar, parseVariableName),
		"otel":          set(&e.otel, decodeOTel),
		"ready":         set(&e.ready, decodeReady),
		"min_uptime":    set(&e.minUptime, parseDuration),
		"drain_timeout": set(&e.drainTimeout, parseDuration),
		"proxy":         set(&e.proxy, decodeProxy),
	})
	return e, err
}

// decodeFields decodes the mapping raw with one field per valid key, in key
// order. A nil raw is an empty mapping.
func decodeFields(raw any, path []string, fields map[string]field) error {
	if raw == nil {
		return nil
	}
	validKeys := prose.JoinWords(slices.Sorted(maps.Keys(fields)), "and")
	mapping, ok := raw.(map[string]any)
	if !ok {
		return keyError(path, "%s must be a mapping with the keys %s, not %s",
			strings.Join(path, "."), validKeys, describeValue(raw))
	}

	for _, key := range slices.Sorted(maps.Keys(mapping)) {
		decode, ok := fields[key]
		keyPath := append(slices.Clip(path), key)
		if !ok {
			return keyError(keyPath, "unknown key %s; valid keys under %s are %s",
				strings.Join(keyPath, "."), strings.Join(path, "."), validKeys)
		}
		if err := decode(mapping[key], keyPath); err != nil {
			return err
		}
	}
	return nil
}

func decodeOTel(raw any, path []string) (otelBlock, error) {
	var b otelBlock
	err := decodeFields(raw, path, map[string]field{
		"endpoint": set(&b.endpoint, parseEndpoint),
		"protocol": set(&b.protocol, parseOTelProtocol),
		"enabled":  set(&b.enabled, parseBoolean),
		"resource_attributes": func(value any, path []string) (err error) {
			b.attributes, err = parseAttributes(value, path)
			return err
		},
	})
	return b, err
}

// decodeReady decodes and checks a ready block. A service-level block
// replaces the top-level one whole, so it must be complete on its own.
func decodeReady(raw any, path []string) (ReadyProbe, error) {
	var (
		r       ReadyProbe
		http    *string
		tcp     *bool
		port    *int
		timeout *time.Duration
	)
	err := decodeFields(raw, path, map[string]field{
		"http":    set(&http, parseHTTPPath),
		"tcp":     set(&tcp, parseBoolean),
		"port":    set(&port, parsePort),
		"timeout": set(&timeout, parseDuration),
	})
	if err != nil {
		return r, err
	}

	r.HTTPPath, r.TCP = deref(http, ""), deref(tcp, false)
	r.Port, r.Timeout = deref(port, 0), deref(timeout, 0)
	return r, checkReady(r, path)
}

func checkReady(r ReadyProbe, path []string) error {
	name := strings.Join(path, ".")
	switch {
	case r.HTTPPath != "" && r.TCP:
		return keyError(path, "%s sets both http and tcp; "+
			"keep http for an HTTP GET or tcp for a connect", name)
	case r.HTTPPath == "" && !r.TCP:
		return keyError(path, "%s needs a probe; "+
			"set http to a path such as /healthz, or tcp: true", name)
	case r.Port == 0:
		return keyError(append(slices.Clip(path), "port"),
			"%s.port is missing; set it to the container port to probe, such as port: 8080", name)
	default:
		return nil
	}
}

// decodeProxy decodes "proxy: false" or a proxy mapping.
func decodeProxy(raw any, path []string) (proxyBlock, error) {
	if enabled, ok := booleanValue(raw); ok {
		if enabled {
			return proxyBlock{}, keyError(path, "%s: true is not a valid setting; "+
				"write proxy: false to disable the front door, or a mapping with mode and port",
				strings.Join(path, "."))
		}
		return proxyBlock{disabled: true}, nil
	}

	var b proxyBlock
	err := decodeFields(raw, path, map[string]field{
		"mode": set(&b.mode, parseProxyMode),
		"port": set(&b.port, parsePort),
	})
	return b, err
}

// mergeExtensions applies the service-level block over the top-level one,
// key by key. The otel block merges key by key too, resource_attributes
// entry by entry. Every other block is replaced whole.
func mergeExtensions(top, service extension) extension {
	return extension{
		instances:    override(top.instances, service.instances),
		instanceVar:  override(top.instanceVar, service.instanceVar),
		otel:         mergeOTel(top.otel, service.otel),
		ready:        override(top.ready, service.ready),
		minUptime:    override(top.minUptime, service.minUptime),
		drainTimeout: override(top.drainTimeout, service.drainTimeout),
		proxy:        override(top.proxy, service.proxy),
	}
}

func mergeOTel(top, service *otelBlock) *otelBlock {
	if top == nil || service == nil {
		return override(top, service)
	}

	attributes := maps.Clone(top.attributes)
	if attributes == nil && service.attributes != nil {
		attributes = map[string]string{}
	}
	maps.Copy(attributes, service.attributes)
	return &otelBlock{
		endpoint:   override(top.endpoint, service.endpoint),
		protocol:   override(top.protocol, service.protocol),
		enabled:    override(top.enabled, service.enabled),
		attributes: attributes,
	}
}

// resolve returns the block's settings with defaults applied.
func (b *otelBlock) resolve() OTel {
	if b == nil {
		return OTel{Enabled: true}
	}
	return OTel{
		Endpoint:           deref(b.endpoint, ""),
		Protocol:           deref(b.protocol, ""),
		Enabled:            deref(b.enabled, true),
		ResourceAttributes: maps.Clone(b.attributes),
	}
}

func override[T any](top, service *T) *T {
	if service != nil {
		return service
	}
	return top
}

func deref[T any](p *T, fallback T) T {
	if p == nil {
		return fallback
	}
	return *p
}

// parseInstances parses an integer, a string holding one, or "max".
func parseInstances(value any, path []string) (InstanceCount, error) {
	if s, ok := value.(string); ok && strings.TrimSpace(s) == "max" {
		return InstanceCount{Max: true}, nil
	}
	if n, ok := integerValue(value); ok {
		return InstanceCount{Fixed: n}, nil
	}
	return InstanceCount{}, keyError(path, "%s is not a valid instance count for %s; "+
		"use a whole number such as 4, \"max\" for one instance per CPU, "+
		"or a negative number such as -1 for the CPU count minus 1",
		describeValue(value), strings.Join(path, "."))
}

func parsePort(value any, path []string) (int, error) {
	n, ok := integerValue(value)
	if !ok {
		return 0, keyError(path, "%s must be a port number such as 8080, not %s",
			strings.Join(path, "."), describeValue(value))
	}
	if n < 1 || n > math.MaxUint16 {
		return 0, keyError(path, "%s: port %d is out of range; use a port between 1 and 65535",
			strings.Join(path, "."), n)
	}
	return n, nil
}

func parseDuration(value any, path []string) (time.Duration, error) {
	s, ok := value.(string)
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if !ok || err != nil {
		return 0, keyError(path, "%s is not a valid duration for %s; "+
			"write one such as \"30s\" or \"1m30s\"", describeValue(value), strings.Join(path, "."))
	}
	if d < 0 {
		return 0, keyError(path, "%s must not be negative, got %s", strings.Join(path, "."), s)
	}
	return d, nil
}

func parseBoolean(value any, path []string) (bool, error) {
	b, ok := booleanValue(value)
	if !ok {
		return false, keyError(path, "%s must be true or false, not %s",
			strings.Join(path, "."), describeValue(value))
	}
	return b, nil
}

func parseString(value any, path []string) (string, error) {
	s, ok := value.(string)
	if !ok {
		return "", keyError(path, "%s must be a string, not %s",
			strings.Join(path, "."), describeValue(value))
	}
	return s, nil
}

// variableName matches a portable environment variable name.
var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func parseVariableName(value any, path []string) (string, error) {
	s, err := parseString(value, path)
	if err == nil && !variableName.MatchString(s) {
		err = keyError(path, "%s: %q is not a valid environment variable name; "+
			"use letters, digits and underscores, not starting with a digit, "+
			"such as NODE_APP_INSTANCE",
			strings.Join(path, "."), s)
	}
	return s, err
}

func parseHTTPPath(value any, path []string) (string, error) {
	s, err := parseString(value, path)
	if err == nil && !strings.HasPrefix(s, "/") {
		err = keyError(path, "%s: %q must be a path starting with /, such as /healthz",
			strings.Join(path, "."), s)
	}
	return s, err
}

// parseEndpoint accepts an http or https URL with a host, as the
// OpenTelemetry SDKs require in OTEL_EXPORTER_OTLP_ENDPOINT for every
// protocol, or an empty string, which injects no endpoint.
func parseEndpoint(value any, path []string) (string, error) {
	s, err := parseString(value, path)
	if err != nil || s == "" {
		return s, err
	}

	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", keyError(path, "%s: %q is not an http or https URL; write one such as "+
			"http://otel-collector:4318", strings.Join(path, "."), s)
	}
	return s, nil
}

func parseOTelProtocol(value any, path []string) (string, error) {
	return parseChoice(value, path, "grpc", "http/protobuf", "http/json")
}

func parseProxyMode(value any, path []string) (string, error) {
	return parseChoice(value, path, "http", "tcp")
}

func parseChoice(value any, path []string, choices ...string) (string, error) {
	s, err := parseString(value, path)
	if err == nil && !slices.Contains(choices, s) {
		err = keyError(path, "%s: %q is not valid; use %s",
			strings.Join(path, "."), s, prose.JoinWords(choices, "or"))
	}
	return s, err
}

// parseAttributes parses a mapping of resource attributes. Numbers and
// booleans become their YAML text.
func parseAttributes(value any, path []string) (map[string]string, error) {
	mapping, ok := value.(map[string]any)
	if !ok {
		return nil, keyError(path, "%s must be a mapping of attribute names to values, not %s",
			strings.Join(path, "."), describeValue(value))
	}

	attributes := make(map[string]string, len(mapping))
	for _, key := range slices.Sorted(maps.Keys(mapping)) {
		switch v := mapping[key].(type) {
		case string, bool, int, int64, uint64, float64:
			attributes[key] = fmt.Sprint(v)
		default:
			keyPath := append(slices.Clip(path), key)
			return nil, keyError(keyPath, "%s must be a string, number or boolean, not %s",
				strings.Join(keyPath, "."), describeValue(v))
		}
	}
	return attributes, nil
}

// integerValue returns value as an int when it is a YAML integer or a
// string that holds one. Interpolation turns ${VAR} into a string.
func integerValue(value any) (int, bool) {
	switch v := value.(type) {
	case int:
		return v, true
	case int64:
		return int(v), v >= math.MinInt && v <= math.MaxInt
	case uint64:
		return int(v), v <= math.MaxInt
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return n, err == nil
	default:
		return 0, false
	}
}

// booleanValue returns value as a bool when it is a YAML boolean or the
// string "true" or "false".
func booleanValue(value any) (bool, bool) {
	switch v := value.(type) {
	case bool:
		return v, true
	case string:
		switch strings.TrimSpace(v) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// describeValue formats a decoded YAML value for a message.
func describeValue(value any) string {
	switch v := value.(type) {
	case nil:
		return "an empty value"
	case string:
		return strconv.Quote(v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprint(v)
	}
}
