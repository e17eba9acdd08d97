package compose

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// resolveServices resolves x-clusterctl for every enabled service of model,
// sorted by name, and checks each service.
func resolveServices(model *types.Project) ([]Service, error) {
	top, err := decodeExtension(model.Extensions[ExtensionKey], []string{ExtensionKey})
	if err != nil {
		return nil, err
	}

	services := make([]Service, 0, len(model.Services))
	for _, name := range model.ServiceNames() {
		svc, err := resolveService(model.Name, model.Services[name], top)
		if err != nil {
			return nil, err
		}
		if err := checkServiceSettings(model, svc); err != nil {
			return nil, err
		}
		services = append(services, svc)
	}
	if err := markOneShots(services); err != nil {
		return nil, err
	}
	if err := checkSharedHostPorts(services); err != nil {
		return nil, err
	}
	return services, nil
}

// checkSharedHostPorts rejects two services that publish the same fixed host
// port and protocol on the same address, or one of them on every address,
// because the second front door or instance could not bind it. Ranges are
// compared only as written.
func checkSharedHostPorts(services []Service) error {
	type binding struct{ service, ip, port, protocol string }
	var seen []binding
	for _, svc := range services {
		for _, port := range svc.Config.Ports {
			if port.Published == "" {
				continue
			}
			b := binding{svc.Name, port.HostIP, port.Published, cmp.Or(port.Protocol, "tcp")}
			for _, other := range seen {
				sameAddress := other.ip == b.ip || other.ip == "" || b.ip == "" ||
					other.ip == "0.0.0.0" || b.ip == "0.0.0.0"
				if other.service != b.service && other.port == b.port && other.protocol == b.protocol && sameAddress {
					return keyError([]string{"services", svc.Name, "ports"}, "services %s and %s both publish "+
						"host port %s/%s, which only one of them can bind; give one of them another host port",
						other.service, svc.Name, b.port, b.protocol)
				}
			}
			seen = append(seen, b)
		}
	}
	return nil
}

func resolveService(project string, cfg types.ServiceConfig, top extension) (Service, error) {
	path := []string{"services", cfg.Name, ExtensionKey}
	own, err := decodeExtension(cfg.Extensions[ExtensionKey], path)
	if err != nil {
		return Service{}, err
	}
	ext := mergeExtensions(top, own)

	svc := Service{
		Name:         cfg.Name,
		Config:       cfg,
		Instances:    deref(ext.instances, InstanceCount{Fixed: cfg.GetScale()}),
		InstanceVar:  deref(ext.instanceVar, ""),
		OTel:         ext.otel.resolve(),
		MinUptime:    deref(ext.minUptime, 0),
		DrainTimeout: deref(ext.drainTimeout, DefaultDrainTimeout),
	}
	if ext.ready != nil {
		ready := *ext.ready
		svc.Ready = &ready
	}

	svc.Proxy, err = resolveProxy(cfg, ext.proxy)
	if err != nil {
		return Service{}, err
	}
	return svc, checkService(project, svc)
}

// resolveProxy returns the service's front door, or nil when it has none:
// with "proxy: false", or with neither published ports nor proxy.port.
//
// Each ports entry becomes one published listener. compose-go has already
// expanded a range that maps host ports to as many container ports
// ("8080-8081:80-81") into one entry per port. A host range for a single
// container port ("8000-8010:80") stays one listener whose HostPort is the
// range, and Docker binds a free port from it.
func resolveProxy(cfg types.ServiceConfig, block *proxyBlock) (*Proxy, error) {
	if block != nil && block.disabled {
		return nil, nil
	}

	proxy := &Proxy{Mode: "http"}
	for _, port := range cfg.Ports {
		if port.Protocol != "" && port.Protocol != "tcp" {
			return nil, keyError([]string{"services", cfg.Name, "ports"},
				"port %s uses %s, but the front door proxies TCP only; "+
					"set x-clusterctl.proxy: false to publish the service's ports "+
					"on its instances directly",
				formatPort(port), strings.ToUpper(port.Protocol))
		}
		proxy.Ports = append(proxy.Ports, ProxyPort{
			Target: int(port.Target), Protocol: "tcp",
			HostIP: port.HostIP, HostPort: port.Published, Published: true,
		})
	}

	if block != nil {
		proxy.Mode = deref(block.mode, proxy.Mode)
		proxy.addNetworkPort(deref(block.port, 0))
	}
	if len(proxy.Ports) == 0 {
		return nil, nil
	}
	return proxy, nil
}

// addNetworkPort adds a listener on the project network only, unless port
// is 0 or a published listener already serves it.
func (p *Proxy) addNetworkPort(port int) {
	if port == 0 {
		return
	}
	for _, listener := range p.Ports {
		if listener.Target == port {
			return
		}
	}
	p.Ports = append(p.Ports, ProxyPort{Target: port, Protocol: "tcp"})
}

// formatPort writes a ports entry in the short compose syntax.
func formatPort(port types.ServicePortConfig) string {
	text := strconv.Itoa(int(port.Target)) + "/" + port.Protocol
	if port.Published != "" {
		text = port.Published + ":" + text
	}
	if port.HostIP != "" {
		text = port.HostIP + ":" + text
	}
	return text
}

// checkService rejects settings that conflict with running the service as
// several instances, a pull policy that pulls, and a missing build context.
func checkService(project string, svc Service) error {
	if err := CheckInstanceLimit(svc.Name, svc.Instances); err != nil {
		return keyError([]string{"services", svc.Name}, "%s; lower x-clusterctl.instances or deploy.replicas", err)
	}
	if err := checkInstances(project, svc); err != nil {
		return err
	}
	if err := checkPullPolicy(svc); err != nil {
		return err
	}
	return checkBuildContext(svc)
}

// checkBuildContext rejects a local build context directory that does not
// exist. Remote contexts (URLs, git references, service: and other
// builder-specific contexts) are not checked, as that would need the
// network.
func checkBuildContext(svc Service) error {
	build := svc.Config.Build
	if build == nil || isRemoteContext(build.Context) {
		return nil
	}

	path := []string{"services", svc.Name, "build", "context"}
	info, err := os.Stat(build.Context)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return keyError(path, "build context directory %s does not exist; "+
			"create it or fix the build path", build.Context)
	case err != nil:
		return keyError(path, "cannot read build context %s: %v; check its permissions",
			build.Context, err)
	case !info.IsDir():
		return keyError(path, "build context %s is not a directory; point build at the directory "+
			"that contains the Dockerfile", build.Context)
	default:
		return nil
	}
}

// isRemoteContext follows compose-go, which leaves these contexts as written
// instead of resolving them against the project directory.
func isRemoteContext(context string) bool {
	if strings.Contains(context, "://") || strings.HasPrefix(context, types.ServicePrefix) {
		return true
	}
	return strings.HasPrefix(context, "github.com/") || strings.HasPrefix(context, "git@")
}
