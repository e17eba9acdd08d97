// Package compose loads compose files with compose-go and resolves the
// x-clusterctl extension into one Service value per compose service.
package compose

import (
	"strconv"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Project is a loaded compose project with clusterctl's settings resolved
// for each service.
type Project struct {
	// Name is the project name: -p, then COMPOSE_PROJECT_NAME, then the
	// top-level name, then the base name of WorkingDir.
	Name string
	// WorkingDir is the project directory, from which relative paths in the
	// files resolve: the directory of the first compose file.
	WorkingDir string
	// ComposeFiles are the absolute paths of the files that were loaded.
	ComposeFiles []string
	// Model is compose-go's resolved model, after interpolation, profiles and
	// defaults. Services lists the same services with clusterctl's settings.
	Model *types.Project
	// Services are the enabled services, sorted by name.
	Services []Service
}

// Service is one compose service with its x-clusterctl settings resolved
// (service level over top level over defaults).
type Service struct {
	// Name is the compose service name.
	Name string
	// Config is compose-go's service configuration.
	Config types.ServiceConfig
	// Instances is the instance count as written: x-clusterctl.instances,
	// else deploy.replicas (or scale), else 1.
	Instances InstanceCount
	// InstanceVar is an extra environment variable that carries the slot, or
	// empty.
	InstanceVar string
	// OTel is the otel block, service level merged over top level.
	OTel OTel
	// Ready is the readiness probe for images without a healthcheck, or nil.
	Ready *ReadyProbe
	// MinUptime is how long an instance must run before an exit counts as a
	// restart rather than a crash. Zero means no minimum.
	MinUptime time.Duration
	// DrainTimeout bounds how long in-flight requests may take once an
	// instance leaves its front door. It defaults to DefaultDrainTimeout.
	DrainTimeout time.Duration
	// OneShot is true when another service depends on this one with
	// condition service_completed_successfully. Its instances run to
	// completion, and its restart policy defaults to "no".
	OneShot bool
	// Proxy configures the service's front door. It is nil when the service
	// has none: with x-clusterctl.proxy: false, or with neither ports nor
	// x-clusterctl.proxy.port.
	Proxy *Proxy
}

// InstanceCount is an instance count as written: a fixed number, "max" (the
// engine's CPU count), or a negative number (the CPU count minus n).
type InstanceCount struct {
	// Fixed is the count when Max is false and Fixed >= 0. A negative value
	// means the engine's CPU count plus Fixed.
	Fixed int
	// Max is true for "max".
	Max bool
}

// Resolve returns the number of instances on an engine with cpus CPUs. A
// negative count never resolves below 1.
func (c InstanceCount) Resolve(cpus int) int {
	switch {
	case c.Max:
		return max(cpus, 1)
	case c.Fixed < 0:
		return max(cpus+c.Fixed, 1)
	default:
		return c.Fixed
	}
}

// String returns the count as written in a compose file: "max" or an
// integer.
func (c InstanceCount) String() string {
	if c.Max {
		return "max"
	}
	return strconv.Itoa(c.Fixed)
}

// mayExceedOne reports whether the count can resolve to more than one
// instance on some engine.
func (c InstanceCount) mayExceedOne() bool {
	return c.Max || c.Fixed < 0 || c.Fixed > 1
}

// OTel is the resolved otel block of x-clusterctl.
type OTel struct {
	// Endpoint is OTEL_EXPORTER_OTLP_ENDPOINT, or empty to inject none.
	Endpoint string
	// Protocol is grpc, http/protobuf or http/json, or empty to inject none.
	Protocol string
	// Enabled false injects OTEL_SDK_DISABLED=true. It defaults to true.
	Enabled bool
	// ResourceAttributes are added to OTEL_RESOURCE_ATTRIBUTES.
	ResourceAttributes map[string]string
}

// ReadyProbe is the x-clusterctl ready block: an HTTP GET or a TCP connect
// that clusterctl runs against each instance.
type ReadyProbe struct {
	// HTTPPath is the path of an HTTP GET that must return 2xx or 3xx.
	// Empty when TCP is true.
	HTTPPath string `json:"http,omitempty" yaml:"http,omitempty"`
	// TCP is true for a probe that only opens a connection.
	TCP bool `json:"tcp,omitempty" yaml:"tcp,omitempty"`
	// Port is the instance's container port.
	Port int `json:"port" yaml:"port"`
	// Timeout is the deadline for one instance to become ready. Zero means
	// the caller's default.
	Timeout time.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
}

// Proxy is the resolved front door of a service.
type Proxy struct {
	// Mode is "http" (the default) or "tcp".
	Mode string `json:"mode" yaml:"mode"`
	// Ports are the front door's listeners, one per ports entry of the
	// service, published on the host. The x-clusterctl.proxy.port listener
	// comes last and is reachable on the project network only. It is left
	// out when a published listener has the same Target.
	Ports []ProxyPort `json:"ports" yaml:"ports"`
}

// ProxyPort is one listener of a front door.
type ProxyPort struct {
	// Target is the container port of the instances, and the port the front
	// door listens on inside its own container.
	Target int `json:"target" yaml:"target"`
	// Protocol is "tcp". Load rejects UDP ports on a service with a front
	// door.
	Protocol string `json:"protocol" yaml:"protocol"`
	// Published is true for a listener published on the host, from the
	// service's ports, and false for one on the project network only, from
	// x-clusterctl.proxy.port.
	Published bool `json:"published" yaml:"published"`
	// HostIP and HostPort publish the listener on the host when Published is
	// true. An empty HostIP binds every interface. HostPort is a port, a range
	// such as "8000-8010" from which Docker binds a free port, or empty for
	// an ephemeral port.
	HostIP   string `json:"host_ip,omitempty" yaml:"host_ip,omitempty"`
	HostPort string `json:"host_port,omitempty" yaml:"host_port,omitempty"`
}
