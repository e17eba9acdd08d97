package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
)

// Labels of the networks and volumes that clusterctl creates, besides
// LabelProject.
const (
	// LabelNetwork is the network's key in the file.
	LabelNetwork = "io.clusterctl.network"
	// LabelVolume is the volume's key in the file.
	LabelVolume = "io.clusterctl.volume"
	// LabelConfig carries the canonical JSON of the settings from the file
	// that a network or volume was created with, so that a later up can
	// tell when the file changed them.
	LabelConfig = "io.clusterctl.config"
)

// networkSettings are the settings of a project network from the file.
type networkSettings struct {
	Driver     string            `json:"driver,omitempty"`
	DriverOpts map[string]string `json:"driver_opts,omitempty"`
	Internal   bool              `json:"internal,omitempty"`
	Attachable bool              `json:"attachable,omitempty"`
	EnableIPv4 *bool             `json:"enable_ipv4,omitempty"`
	EnableIPv6 *bool             `json:"enable_ipv6,omitempty"`
	IPAM       *network.IPAM     `json:"ipam,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

func newNetworkSettings(cfg types.NetworkConfig) networkSettings {
	s := networkSettings{
		Driver:     cfg.Driver,
		DriverOpts: cfg.DriverOpts,
		Internal:   cfg.Internal,
		Attachable: cfg.Attachable,
		EnableIPv4: cfg.EnableIPv4,
		EnableIPv6: cfg.EnableIPv6,
		Labels:     cfg.Labels,
	}
	if cfg.Ipam.Driver != "" || len(cfg.Ipam.Config) > 0 || len(cfg.Ipam.Options) > 0 {
		s.IPAM = &network.IPAM{Driver: cfg.Ipam.Driver, Options: cfg.Ipam.Options}
		for _, pool := range cfg.Ipam.Config {
			s.IPAM.Config = append(s.IPAM.Config, network.IPAMConfig{
				Subnet: pool.Subnet, IPRange: pool.IPRange, Gateway: pool.Gateway, AuxAddress: pool.AuxiliaryAddresses,
			})
		}
	}
	return s
}

// createOptions returns the create request of the network with the given
// key in the file. The file's labels come first, so that clusterctl's own
// labels win.
func (s networkSettings) createOptions(project, key string) network.CreateOptions {
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, map[string]string{LabelProject: project, LabelNetwork: key, LabelConfig: canonicalJSON(s)})
	return network.CreateOptions{
		Driver:     s.Driver,
		Options:    s.DriverOpts,
		Internal:   s.Internal,
		Attachable: s.Attachable,
		EnableIPv4: s.EnableIPv4,
		EnableIPv6: s.EnableIPv6,
		IPAM:       s.IPAM,
		Labels:     labels,
	}
}

// volumeSettings are the settings of a named volume from the file.
type volumeSettings struct {
	Driver     string            `json:"driver,omitempty"`
	DriverOpts map[string]string `json:"driver_opts,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

func (s volumeSettings) createOptions(project, key, name string) volume.CreateOptions {
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, map[string]string{LabelProject: project, LabelVolume: key, LabelConfig: canonicalJSON(s)})
	return volume.CreateOptions{Name: name, Driver: s.Driver, DriverOpts: s.DriverOpts, Labels: labels}
}

func canonicalJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		// Both settings types hold only strings, booleans and maps of strings.
		panic(fmt.Sprintf("marshal settings: %v", err))
	}
	return string(data)
}

// checkExisting compares the labels of a network or volume that exists
// with the file's settings. kind is "network" or "volume". It returns
// nil when the object belongs to this project and key and its recorded
// settings match, or when it predates the LabelConfig label. Otherwise the
// error names the label or settings that differ and how to fix them.
func checkExisting(kind, name string, labels map[string]string, project, keyLabel, key, settings string) error {
	if got := labels[LabelProject]; got != project {
		return fmt.Errorf("%s %s was found but has incorrect label %s set to %q (expected %q), so it is not this project's; "+
			"declare it in the file with external: true to use it as it is, or remove it with docker %s rm %s",
			kind, name, LabelProject, got, project, kind, name)
	}
	if got := labels[keyLabel]; got != key {
		return fmt.Errorf("%s %s was found but has incorrect label %s set to %q (expected %q); "+
			"run clusterctl down, then up, to recreate it", kind, name, keyLabel, got, key)
	}
	recorded, ok := labels[LabelConfig]
	if !ok || recorded == settings {
		return nil
	}
	fix := "run clusterctl down, then up, to recreate it with the file's settings"
	if kind == "volume" {
		fix = "clusterctl does not recreate a volume by itself, because that deletes its data; " +
			"change the file back, or back the data up and run clusterctl down --volumes, then up"
	}
	return fmt.Errorf("%s %s was found but has incorrect config: %s differ from the file; %s",
		kind, name, strings.Join(differingFields(recorded, settings), ", "), fix)
}

// differingFields returns the top-level JSON fields whose values differ
// between two settings documents, sorted.
func differingFields(a, b string) []string {
	var left, right map[string]any
	if json.Unmarshal([]byte(a), &left) != nil || json.Unmarshal([]byte(b), &right) != nil {
		return []string{"the settings"}
	}
	return changedKeys(left, right)
}

// ensureResources creates the networks and volumes of the selected
// services that do not exist yet and checks those that do. It runs on
// every up, even one with nothing else to do, so that a network or volume
// whose settings no longer match the file is reported.
func (r *upRun) ensureResources(ctx context.Context) error {
	return r.ensureResourcesOf(ctx, slices.Collect(maps.Values(r.services)))
}

// ensureResourcesOf creates and checks the networks and volumes of
// services, as ensureResources does for all of the run's services.
func (r *upRun) ensureResourcesOf(ctx context.Context, services []*service) error {
	if err := r.ensureNetworks(ctx, services); err != nil {
		return err
	}
	return r.ensureVolumes(ctx, services)
}

// ensureNetworks creates the networks of services that do not exist yet,
// in name order. An external network must exist already.
func (r *upRun) ensureNetworks(ctx context.Context, services []*service) error {
	keys := map[string]bool{}
	for _, svc := range services {
		for key := range ServiceNetworks(svc.Service) {
			keys[key] = true
		}
	}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		if err := r.ensureNetwork(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

func (r *upRun) ensureNetwork(ctx context.Context, key string) error {
	name := NetworkName(r.p, key)
	cfg := r.p.Model.Networks[key]
	existing, err := r.o.Engine.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	settings := newNetworkSettings(cfg)
	for _, n := range existing {
		if n.Name != name {
			continue
		}
		if cfg.External {
			return nil
		}
		return checkExisting("network", name, n.Labels, r.p.Name, LabelNetwork, key, canonicalJSON(settings))
	}
	if cfg.External {
		return fmt.Errorf("network %s is declared external in the file (key %q) but does not exist; "+
			"create it with docker network create %s, or remove external: true to let clusterctl create it", name, key, name)
	}
	resp, err := r.o.Engine.NetworkCreate(ctx, name, settings.createOptions(r.p.Name, key))
	if err != nil {
		return fmt.Errorf("create network %s: %w", name, err)
	}
	r.mu.Lock()
	r.networks = append(r.networks, resp.ID)
	r.mu.Unlock()
	r.o.Report.emit(Event{Kind: EventCreated, Project: r.p.Name, Slot: -1, Message: "network " + name})
	return nil
}

// ensureVolumes creates the named volumes of services that do not exist
// yet, in name order. An external volume must exist already.
func (r *upRun) ensureVolumes(ctx context.Context, services []*service) error {
	names := map[string]bool{}
	for _, svc := range services {
		for _, m := range svc.Template.Host.Mounts {
			if m.Type == "volume" && m.Source != "" {
				names[m.Source] = true
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if err := r.ensureVolume(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (r *upRun) ensureVolume(ctx context.Context, name string) error {
	key, cfg := r.volumeConfig(name)
	list, err := r.o.Engine.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	settings := volumeSettings{Driver: cfg.Driver, DriverOpts: cfg.DriverOpts, Labels: cfg.Labels}
	for _, v := range list.Volumes {
		if v.Name != name {
			continue
		}
		if cfg.External {
			return nil
		}
		return checkExisting("volume", name, v.Labels, r.p.Name, LabelVolume, key, canonicalJSON(settings))
	}
	if cfg.External {
		return fmt.Errorf("volume %s is declared external in the file (key %q) but does not exist; "+
			"create it with docker volume create %s, or remove external: true to let clusterctl create it", name, key, name)
	}
	if _, err := r.o.Engine.VolumeCreate(ctx, settings.createOptions(r.p.Name, key, name)); err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	r.mu.Lock()
	r.volumes = append(r.volumes, name)
	r.mu.Unlock()
	r.o.Report.emit(Event{Kind: EventCreated, Project: r.p.Name, Slot: -1, Message: "volume " + name})
	return nil
}

// volumeConfig returns the key and settings of the volume that the engine
// names name. A volume that the file does not declare has the name as
// its key and no settings.
func (r *upRun) volumeConfig(name string) (string, types.VolumeConfig) {
	for _, key := range slices.Sorted(maps.Keys(r.p.Model.Volumes)) {
		if cfg := r.p.Model.Volumes[key]; cfg.Name == name {
			return key, cfg
		}
	}
	return name, r.p.Model.Volumes[name]
}
