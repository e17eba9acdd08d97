package orchestrator

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/clusterctl/clusterctl/compose"
)

// Variables that clusterctl injects into every instance.
const (
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	EnvOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTLPProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvSDKDisabled        = "OTEL_SDK_DISABLED"
	EnvProject            = "CLUSTERCTL_PROJECT"
	EnvService            = "CLUSTERCTL_SERVICE"
	EnvInstance           = "CLUSTERCTL_INSTANCE"
	EnvInstances          = "CLUSTERCTL_INSTANCES"
	EnvRevision           = "CLUSTERCTL_REVISION"
)

// Resource attribute keys that clusterctl sets.
const (
	AttrServiceNamespace  = "service.namespace"
	AttrServiceInstanceID = "service.instance.id"
	AttrServiceVersion    = "service.version"
	AttrContainerName     = "container.name"
	AttrDeploymentEnv     = "deployment.environment.name"
)

// Attribute is one key=value pair of OTEL_RESOURCE_ATTRIBUTES, decoded.
type Attribute struct {
	Key   string
	Value string
}

// EnvTemplate is the environment shared by every instance of one revision of
// a service. Instance adds what differs per container.
type EnvTemplate struct {
	// Vars are KEY=VALUE pairs sorted by key: the user's variables and the
	// injected ones that are the same for every instance.
	Vars []string
	// Attributes are the resource attributes of every instance, in order:
	// the user's own, then those that clusterctl adds.
	Attributes []Attribute
	// UserSet lists the per-instance variables the user set, which are
	// left alone.
	UserSet []string
	// InstanceVar is the service's instance_var, an extra variable that
	// carries the slot.
	InstanceVar string `json:",omitempty"`
}

// InstanceVars are the values that differ between instances of one revision.
type InstanceVars struct {
	Slot       int
	Count      int
	Name       string
	InstanceID string
	Revision   string
}

// NewEnvTemplate computes the shared environment of a service's instances.
// The user's variables win over injected ones, except service.instance.id in
// OTEL_RESOURCE_ATTRIBUTES, which clusterctl always sets. The warnings name
// the user values that were replaced.
func NewEnvTemplate(project string, svc *compose.Service, version string) (EnvTemplate, []string) {
	user := userEnv(svc)
	injected := map[string]string{
		EnvServiceName: svc.Name,
		EnvProject:     project,
		EnvService:     svc.Name,
	}
	if svc.OTel.Endpoint != "" {
		injected[EnvOTLPEndpoint] = svc.OTel.Endpoint
	}
	if svc.OTel.Protocol != "" {
		injected[EnvOTLPProtocol] = svc.OTel.Protocol
	}
	if !svc.OTel.Enabled {
		injected[EnvSDKDisabled] = "true"
	}
	vars := maps.Clone(user)
	for key, value := range injected {
		if _, set := vars[key]; !set {
			vars[key] = value
		}
	}
	attrs, warnings := resourceAttributes(project, svc, user[EnvResourceAttributes], version)
	delete(vars, EnvResourceAttributes)

	tmpl := EnvTemplate{Attributes: attrs, InstanceVar: svc.InstanceVar}
	for _, key := range slices.Sorted(maps.Keys(vars)) {
		tmpl.Vars = append(tmpl.Vars, key+"="+vars[key])
	}
	for _, key := range perInstanceKeys(svc) {
		if _, set := user[key]; set {
			tmpl.UserSet = append(tmpl.UserSet, key)
			warnings = append(warnings, fmt.Sprintf(
				"service %q sets %s itself, so clusterctl does not inject the slot-specific value", svc.Name, key))
		}
	}
	return tmpl, warnings
}

// Instance returns the full environment of one instance.
func (t EnvTemplate) Instance(inst InstanceVars) []string {
	env := slices.Clone(t.Vars)
	perInstance := map[string]string{
		EnvInstance:  strconv.Itoa(inst.Slot),
		EnvInstances: strconv.Itoa(inst.Count),
		EnvRevision:  inst.Revision,
	}
	if t.InstanceVar != "" {
		perInstance[t.InstanceVar] = strconv.Itoa(inst.Slot)
	}
	for _, key := range slices.Sorted(maps.Keys(perInstance)) {
		if !slices.Contains(t.UserSet, key) {
			env = append(env, key+"="+perInstance[key])
		}
	}
	attrs := slices.Clone(t.Attributes)
	attrs = append(attrs, Attribute{AttrServiceInstanceID, inst.InstanceID})
	if !slices.ContainsFunc(attrs, func(a Attribute) bool { return a.Key == AttrContainerName }) {
		attrs = append(attrs, Attribute{AttrContainerName, inst.Name})
	}
	return append(env, EnvResourceAttributes+"="+EncodeAttributes(attrs))
}

func perInstanceKeys(svc *compose.Service) []string {
	keys := []string{EnvInstance, EnvInstances, EnvRevision}
	if svc.InstanceVar != "" {
		keys = append(keys, svc.InstanceVar)
	}
	return keys
}

// userEnv returns the service's variables that have a value. A variable
// listed without a value and unset in the environment is left out, as
// Docker Compose does.
func userEnv(svc *compose.Service) map[string]string {
	env := make(map[string]string, len(svc.Config.Environment))
	for key, value := range svc.Config.Environment {
		if value != nil {
			env[key] = *value
		}
	}
	return env
}

// resourceAttributes merges, in order of precedence: the user's
// OTEL_RESOURCE_ATTRIBUTES, the otel block's resource_attributes, and the
// attributes clusterctl adds. service.instance.id is per instance and is
// dropped here, with a warning when the user set it; Instance adds it.
func resourceAttributes(project string, svc *compose.Service, userValue, version string) ([]Attribute, []string) {
	var warnings []string
	var attrs []Attribute
	seen := map[string]bool{}
	add := func(key, value string) {
		if seen[key] {
			return
		}
		seen[key] = true
		if key == AttrServiceInstanceID {
			warnings = append(warnings, fmt.Sprintf(
				"service %q sets the resource attribute %s, which clusterctl replaces with a per-container value",
				svc.Name, key))
			return
		}
		attrs = append(attrs, Attribute{key, value})
	}
	for _, attr := range DecodeAttributes(userValue) {
		add(attr.Key, attr.Value)
	}
	configured := svc.OTel.ResourceAttributes
	for _, key := range slices.Sorted(maps.Keys(configured)) {
		add(key, configured[key])
	}
	add(AttrServiceNamespace, project)
	if version != "" {
		add(AttrServiceVersion, version)
	}
	return attrs, warnings
}

// EncodeAttributes formats attributes as OTEL_RESOURCE_ATTRIBUTES expects:
// comma-separated key=value pairs in the W3C Baggage format, with every
// value byte outside the baggage-octet range percent-encoded.
func EncodeAttributes(attrs []Attribute) string {
	parts := make([]string, 0, len(attrs))
	for _, attr := range attrs {
		parts = append(parts, attr.Key+"="+encodeBaggageValue(attr.Value))
	}
	return strings.Join(parts, ",")
}

// DecodeAttributes parses an OTEL_RESOURCE_ATTRIBUTES value. Pairs without a
// key or an '=' are skipped, as the OpenTelemetry SDKs skip them.
func DecodeAttributes(value string) []Attribute {
	var attrs []Attribute
	for pair := range strings.SplitSeq(value, ",") {
		key, raw, ok := strings.Cut(pair, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			continue
		}
		decoded, err := decodeBaggageValue(strings.TrimSpace(raw))
		if err != nil {
			decoded = strings.TrimSpace(raw)
		}
		attrs = append(attrs, Attribute{key, decoded})
	}
	return attrs
}

// isBaggageOctet reports whether b may appear unencoded in a W3C Baggage
// value. '%' is in that range but is encoded too, so that decoding is exact.
func isBaggageOctet(b byte) bool {
	switch {
	case b == 0x21, b >= 0x23 && b <= 0x2B, b >= 0x2D && b <= 0x3A,
		b >= 0x3C && b <= 0x5B, b >= 0x5D && b <= 0x7E:
		return b != '%'
	}
	return false
}

func encodeBaggageValue(value string) string {
	var out strings.Builder
	for i := 0; i < len(value); i++ {
		b := value[i]
		if isBaggageOctet(b) {
			out.WriteByte(b)
			continue
		}
		fmt.Fprintf(&out, "%%%02X", b)
	}
	return out.String()
}

func decodeBaggageValue(value string) (string, error) {
	var out strings.Builder
	for i := 0; i < len(value); i++ {
		if value[i] != '%' {
			out.WriteByte(value[i])
			continue
		}
		if i+2 >= len(value) {
			return "", fmt.Errorf("truncated escape in %q", value)
		}
		b, err := strconv.ParseUint(value[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("invalid escape in %q: %w", value, err)
		}
		out.WriteByte(byte(b))
		i += 2
	}
	return out.String(), nil
}
