package orchestrator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/clusterctl/clusterctl/compose"
)

// networks returns the endpoint of the instances on each network, keyed by
// the engine's network name, the network to create them on when a priority
// chooses it, and the links to other services, which the executor resolves
// to containers. A service with network_mode joins no network: HostConfig
// carries the mode.
//
// Without a front door the instances carry the service name and the
// network's aliases, as in Docker Compose. With one, the front door carries
// them, so that clients on the project network also go through the front
// door.
func (tr *translator) networks() (map[string]*network.EndpointSettings, string, []string) {
	cfg := tr.svc.Config
	if cfg.NetworkMode != "" {
		if len(cfg.Links) > 0 || len(cfg.ExternalLinks) > 0 {
			tr.warn("links", "and external_links are not applied with network_mode %q, which "+
				"shares another network stack", cfg.NetworkMode)
		}
		return nil, "", nil
	}
	links := externalLinks(cfg.ExternalLinks)
	out := map[string]*network.EndpointSettings{}
	for key, nc := range ServiceNetworks(tr.svc) {
		endpoint := &network.EndpointSettings{Links: slices.Clone(links)}
		if tr.svc.Proxy == nil && nc.ServiceNameAliasEnabled() {
			endpoint.Aliases = append(endpoint.Aliases, tr.svc.Name)
		}
		if nc != nil {
			tr.endpointSettings(key, nc, endpoint)
		}
		out[NetworkName(tr.p, key)] = endpoint
	}
	return out, tr.primaryNetwork(), serviceLinks(cfg.Links)
}

// endpointSettings applies the service's settings for one network.
func (tr *translator) endpointSettings(key string, nc *types.ServiceNetworkConfig, endpoint *network.EndpointSettings) {
	if tr.svc.Proxy == nil {
		endpoint.Aliases = append(endpoint.Aliases, nc.Aliases...)
	}
	if nc.Ipv4Address != "" || nc.Ipv6Address != "" || len(nc.LinkLocalIPs) > 0 {
		endpoint.IPAMConfig = &network.EndpointIPAMConfig{
			IPv4Address: nc.Ipv4Address, IPv6Address: nc.Ipv6Address, LinkLocalIPs: nc.LinkLocalIPs,
		}
	}
	if len(nc.DriverOpts) > 0 {
		endpoint.DriverOpts = map[string]string(nc.DriverOpts)
	}
	if nc.GatewayPriority != 0 {
		endpoint.GwPriority = nc.GatewayPriority
		tr.warn("networks."+key+".gw_priority", "needs Docker API 1.48 or later; older engines ignore it")
	}
	if nc.MacAddress != "" && nc.MacAddress != primaryMACAddress(tr.svc.Config) {
		endpoint.MacAddress = nc.MacAddress
		tr.warn("networks."+key+".mac_address", "needs Docker API 1.44 or later on a network other than "+
			"the first; older engines assign their own address there")
	}
	if nc.InterfaceName != "" {
		tr.warn("networks."+key+".interface_name", "is not applied: the Docker API that clusterctl "+
			"uses has no interface name setting, so the engine names the interface")
	}
}

// primaryNetwork returns the engine's name of the network that a priority
// puts first, or "" when no network sets a priority and the first by name
// is the primary one.
func (tr *translator) primaryNetwork() string {
	for _, nc := range tr.svc.Config.Networks {
		if nc != nil && nc.Priority != 0 {
			return NetworkName(tr.p, tr.svc.Config.NetworksByPriority()[0])
		}
	}
	return ""
}

// serviceLinks returns links as "service:alias", the alias defaulting to
// the service name.
func serviceLinks(links []string) []string {
	var out []string
	for _, link := range links {
		name, alias, ok := strings.Cut(link, ":")
		if !ok {
			alias = name
		}
		out = append(out, name+":"+alias)
	}
	return out
}

// externalLinks returns external_links as "container:alias", the alias
// defaulting to the container name, as the engine takes them.
func externalLinks(links []string) []string {
	var out []string
	for _, link := range links {
		if !strings.Contains(link, ":") {
			link += ":" + link
		}
		out = append(out, link)
	}
	return out
}

// portBindings publishes the service's ports on its instances, which only
// a service without a front door does. A published range such as
// "8000-8010" lets the engine bind a free port of it.
func portBindings(ports []types.ServicePortConfig) nat.PortMap {
	if len(ports) == 0 {
		return nil
	}
	bindings := nat.PortMap{}
	for _, p := range ports {
		key := nat.Port(fmt.Sprintf("%d/%s", p.Target, protocol(p.Protocol)))
		bindings[key] = append(bindings[key], nat.PortBinding{HostIP: p.HostIP, HostPort: p.Published})
	}
	return bindings
}

// ServiceNetworks returns the service's networks by their key in the file,
// the default network when it lists none, and none with network_mode,
// which joins no network of the project.
func ServiceNetworks(svc *compose.Service) map[string]*types.ServiceNetworkConfig {
	if svc.Config.NetworkMode != "" {
		return nil
	}
	if len(svc.Config.Networks) == 0 {
		return map[string]*types.ServiceNetworkConfig{"default": nil}
	}
	return svc.Config.Networks
}

// NetworkName returns the engine's name of the network with the given key
// in the file: project_key unless the file names it.
func NetworkName(p *compose.Project, key string) string {
	if n, ok := p.Model.Networks[key]; ok && n.Name != "" {
		return n.Name
	}
	return p.Name + "_" + key
}
