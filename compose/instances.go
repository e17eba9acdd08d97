package compose

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// MaxInstances is the largest instance count of one service. A count far
// above what one engine runs is a typo, and planning for it would take
// memory in proportion.
const MaxInstances = 1000

// CheckInstanceLimit rejects a fixed count, or a negative one, whose size
// exceeds MaxInstances.
func CheckInstanceLimit(service string, count InstanceCount) error {
	if count.Max || (count.Fixed <= MaxInstances && count.Fixed >= -MaxInstances) {
		return nil
	}
	return fmt.Errorf("instance count %d of %s is beyond the limit of %d instances per service",
		count.Fixed, service, MaxInstances)
}

// checkInstances rejects settings that only one container can hold when the
// service may run more than one instance. These are a container name, a
// host name, a static IP or MAC address, and a fixed host port that the
// instances would publish themselves. With one instance they work as in
// Docker Compose.
func checkInstances(project string, svc Service) error {
	if !svc.Instances.mayExceedOne() {
		return nil
	}
	checks := []func(string, Service) error{
		checkContainerName, checkHostname, checkStaticAddresses, checkMACAddress, checkHostPorts,
	}
	for _, check := range checks {
		if err := check(project, svc); err != nil {
			return err
		}
	}
	if !svc.Instances.Max && svc.Instances.Fixed > 1 {
		return CheckInstanceCount(svc, svc.Instances.Fixed)
	}
	return nil
}

// CheckInstanceCount rejects a host port range on a service without a front
// door that has fewer ports than count, the resolved instance count, because
// each instance binds one port of the range. Load checks fixed counts. The
// orchestrator checks "max" and negative counts once it has read the CPUs.
func CheckInstanceCount(svc Service, count int) error {
	if svc.Proxy != nil || count <= 1 {
		return nil
	}
	for _, port := range svc.Config.Ports {
		size, ok := portRangeSize(port.Published)
		if !ok || size >= count {
			continue
		}
		return keyError([]string{"services", svc.Name, "ports"},
			"host port range %s of port %s has %d ports, but the service runs %d instances, "+
				"and each instance binds one port of the range; widen the range to at least %d ports, "+
				"publish only the container port (\"%d\") to give each instance an ephemeral host port, "+
				"or remove x-clusterctl.proxy: false so the front door owns the port",
			port.Published, formatPort(port), size, count, count, port.Target)
	}
	return nil
}

// portRangeSize returns the number of ports in a published range such as
// "8000-8010", and false for a single port or an empty value.
func portRangeSize(published string) (int, bool) {
	low, high, ok := strings.Cut(published, "-")
	if !ok {
		return 0, false
	}
	first, err1 := strconv.Atoi(low)
	last, err2 := strconv.Atoi(high)
	if err1 != nil || err2 != nil || last < first {
		return 0, false
	}
	return last - first + 1, true
}

// checkContainerName rejects container_name, because Docker needs a unique
// name per container, front door or not.
func checkContainerName(project string, svc Service) error {
	name := svc.Config.ContainerName
	if name == "" {
		return nil
	}
	return keyError([]string{"services", svc.Name, "container_name"},
		"container_name %q cannot be used with instances: %s, because each instance needs "+
			"its own container name; remove container_name, and clusterctl gives each instance "+
			"a name that starts with %s-%s-<slot>",
		name, svc.Instances, project, svc.Name)
}

// checkHostname rejects a fixed hostname, which would make every instance
// report the same host name in logs and telemetry.
func checkHostname(_ string, svc Service) error {
	name := svc.Config.Hostname
	if name == "" {
		return nil
	}
	return keyError([]string{"services", svc.Name, "hostname"},
		"hostname %q cannot be used with instances: %s, because every instance would report the "+
			"same host name; remove hostname, and each instance gets its container ID as host name "+
			"(CLUSTERCTL_INSTANCE holds its slot), or set instances to 1",
		name, svc.Instances)
}

// checkStaticAddresses rejects ipv4_address and ipv6_address, because only
// one container can hold an address on a network.
func checkStaticAddresses(_ string, svc Service) error {
	for _, name := range slices.Sorted(maps.Keys(svc.Config.Networks)) {
		cfg := svc.Config.Networks[name]
		if cfg == nil {
			continue
		}
		for _, field := range [][2]string{{"ipv4_address", cfg.Ipv4Address}, {"ipv6_address", cfg.Ipv6Address}} {
			key, address := field[0], field[1]
			if address == "" {
				continue
			}
			return keyError([]string{"services", svc.Name, "networks", name, key},
				"networks.%s.%s %s cannot be used with instances: %s, because only one container "+
					"can hold an address; remove %s so that the network assigns each instance an "+
					"address, and reach the instances by the service name %q, or set instances to 1",
				name, key, address, svc.Instances, key, svc.Name)
		}
	}
	return nil
}

// checkMACAddress rejects mac_address, at the service level or on a
// network, because a MAC address must be unique on its network.
func checkMACAddress(_ string, svc Service) error {
	path := []string{"services", svc.Name, "mac_address"}
	address := svc.Config.MacAddress
	for _, name := range slices.Sorted(maps.Keys(svc.Config.Networks)) {
		if cfg := svc.Config.Networks[name]; address == "" && cfg != nil && cfg.MacAddress != "" {
			path = []string{"services", svc.Name, "networks", name, "mac_address"}
			address = cfg.MacAddress
		}
	}
	if address == "" {
		return nil
	}
	return keyError(path,
		"mac_address %s cannot be used with instances: %s, because a MAC address must be unique "+
			"on its network; remove mac_address so that the engine generates one per instance, "+
			"or set instances to 1",
		address, svc.Instances)
}

// checkHostPorts rejects a fixed host port on a service without a front door:
// every instance would publish it, and only one container can bind it. With
// a front door, the front door owns the published ports and the instances
// publish none.
func checkHostPorts(_ string, svc Service) error {
	if svc.Proxy != nil {
		return nil
	}
	for _, port := range svc.Config.Ports {
		if port.Published == "" || strings.Contains(port.Published, "-") {
			continue
		}
		return keyError([]string{"services", svc.Name, "ports"},
			"host port %s of port %s would be published by every instance, "+
				"but only one container can bind it, and instances is %s; "+
				"remove x-clusterctl.proxy: false so the front door owns the port, "+
				"or publish only the container port (\"%d\") "+
				"to give each instance an ephemeral host port",
			port.Published, formatPort(port), svc.Instances, port.Target)
	}
	return nil
}
