package orchestrator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/clusterctl/clusterctl/compose"
)

// DefaultRestartPolicy applies when a service sets neither restart nor
// deploy.restart_policy. A cluster manager restarts crashed instances, as
// PM2 and Swarm do, unlike Docker Compose's default of "no".
const DefaultRestartPolicy = container.RestartPolicyUnlessStopped

// Template is everything that the instances of one revision of a service
// share. Its canonical JSON determines the revision.
type Template struct {
	Service string `json:"service"`
	// Image is the reference as written, ImageID what it resolved to.
	Image   string `json:"image"`
	ImageID string `json:"image_id"`
	// Version is the service.version resource attribute.
	Version string               `json:"version,omitempty"`
	Env     EnvTemplate          `json:"env"`
	Config  container.Config     `json:"config"`
	Host    container.HostConfig `json:"host"`
	// Networks maps network names, as the engine names them, to endpoint
	// settings. Instances join all of them.
	Networks map[string]*network.EndpointSettings `json:"networks"`
	// PrimaryNetwork is the network an instance is created on when the
	// service sets a network priority; otherwise it is the first network by
	// name. The instance joins the others after create.
	PrimaryNetwork string `json:"primary_network,omitempty"`
	// ServiceLinks are links to other services, "service:alias", which
	// resolve to a container of that service when an instance is created.
	ServiceLinks []string `json:"service_links,omitempty"`
	// Files are the secrets and configs that are copied into each instance
	// after create, without their values.
	Files []InjectedFile `json:"files,omitempty"`
	// Platform is the platform passed to create, such as linux/amd64. The
	// image must already be on the engine for it: clusterctl never pulls.
	Platform string `json:"platform,omitempty"`
	// ContainerName and Hostname are the service's fixed values, valid for
	// a one-instance service only.
	ContainerName string `json:"container_name,omitempty"`
	Hostname      string `json:"hostname,omitempty"`
	// Revision is the hash of everything above, set by NewTemplate.
	Revision string `json:"-"`
}

// NewTemplate translates a compose service into the container settings
// shared by its instances, with Docker Compose's semantics. imageID is the
// local image's ID and version the service.version to report. The warnings
// name, with the service, every setting that clusterctl replaced or does not
// apply. A setting that the engine cannot be given as written returns an
// error that matches compose.ErrInvalid.
func NewTemplate(p *compose.Project, svc *compose.Service, imageID, version string) (*Template, []string, error) {
	env, warnings := NewEnvTemplate(p.Name, svc, version)
	tr := &translator{p: p, svc: svc, warnings: warnings}
	t := &Template{
		Service: svc.Name,
		Image:   ImageRef(p, svc),
		ImageID: imageID,
		Version: version,
		Env:     env,

		Platform:      svc.Config.Platform,
		ContainerName: svc.Config.ContainerName,
		Hostname:      svc.Config.Hostname,
	}
	t.Config = tr.containerConfig(imageID)
	if svc.MinUptime > 0 {
		// A label of the template, so that a change of min_uptime is a new
		// revision, as a change of the restart policy is.
		if t.Config.Labels == nil {
			t.Config.Labels = map[string]string{}
		}
		t.Config.Labels[LabelMinUptime] = svc.MinUptime.String()
	}
	host, err := tr.hostConfig()
	if err != nil {
		return nil, nil, err
	}
	t.Host = host
	t.Networks, t.PrimaryNetwork, t.ServiceLinks = tr.networks()
	if t.Files, err = tr.injectedFiles(); err != nil {
		return nil, nil, err
	}
	tr.warnUnapplied()
	t.Revision = t.hash()
	return t, tr.warnings, nil
}

// ImageRef returns the image a service runs: its image field, or for a
// build-only service the name Docker Compose gives it, project-service.
func ImageRef(p *compose.Project, svc *compose.Service) string {
	if svc.Config.Image != "" {
		return svc.Config.Image
	}
	return p.Name + "-" + svc.Name
}

func (t *Template) hash() string {
	data, err := json.Marshal(t)
	if err != nil {
		// Every field is a plain value or a Docker API type that marshals.
		panic(fmt.Sprintf("marshal template: %v", err))
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:12]
}

// Spec returns the JSON stored in LabelSpec on every instance.
func (t *Template) Spec() string {
	data, _ := json.Marshal(t)
	return string(data)
}

// InstanceSpec is the complete create request for one instance.
type InstanceSpec struct {
	Name       string
	Slot       int
	InstanceID string
	Config     *container.Config
	Host       *container.HostConfig
	// Network is the network the instance is created on; Extra are joined
	// after create, because API 1.41 accepts one network at create. Network
	// is empty when the service sets network_mode, which Host carries.
	Network      string
	Endpoint     *network.EndpointSettings
	ExtraNetwork map[string]*network.EndpointSettings
	// ServiceLinks, Files and Platform are the template's, which the
	// executor resolves when it creates the container.
	ServiceLinks []string
	Files        []InjectedFile
	Platform     string
}

// Instance returns the create request for one instance of the template.
// count is the service's instance count, recorded in CLUSTERCTL_INSTANCES;
// instanceID must be unique per container.
func (t *Template) Instance(project string, slot, count int, instanceID string) InstanceSpec {
	name := InstanceName(project, t.Service, t.ContainerName, slot, instanceID)
	cfg := t.Config
	cfg.Env = t.Env.Instance(InstanceVars{
		Slot: slot, Count: count, Name: name, InstanceID: instanceID, Revision: t.Revision,
	})
	cfg.Labels = maps.Clone(t.Config.Labels)
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	maps.Copy(cfg.Labels, map[string]string{
		LabelProject:    project,
		LabelService:    t.Service,
		LabelInstance:   strconv.Itoa(slot),
		LabelRevision:   t.Revision,
		LabelRole:       RoleInstance,
		LabelInstanceID: instanceID,
		LabelCount:      strconv.Itoa(count),
		LabelImage:      t.Image,
		LabelSpec:       t.Spec(),
	})
	if t.Hostname != "" {
		cfg.Hostname = t.Hostname
	}
	host := t.Host
	host.Binds = slices.Clone(t.Host.Binds)
	host.Mounts = slices.Clone(t.Host.Mounts)
	spec := InstanceSpec{Name: name, Slot: slot, InstanceID: instanceID, Config: &cfg, Host: &host,
		ServiceLinks: t.ServiceLinks, Files: t.Files, Platform: t.Platform}
	for _, net := range t.networkOrder() {
		endpoint := *t.Networks[net]
		endpoint.Aliases = slices.Clone(endpoint.Aliases)
		endpoint.Links = slices.Clone(endpoint.Links)
		if spec.Network == "" {
			spec.Network, spec.Endpoint = net, &endpoint
			continue
		}
		if spec.ExtraNetwork == nil {
			spec.ExtraNetwork = map[string]*network.EndpointSettings{}
		}
		spec.ExtraNetwork[net] = &endpoint
	}
	return spec
}

// networkOrder returns the template's networks with the primary network
// first and the others by name.
func (t *Template) networkOrder() []string {
	names := slices.Sorted(maps.Keys(t.Networks))
	if i := slices.Index(names, t.PrimaryNetwork); i > 0 {
		names = append([]string{names[i]}, slices.Delete(names, i, i+1)...)
	}
	return names
}

// InstanceName returns a container name that starts with
// project-service-slot and is unique per container, because an old and a
// new instance of one slot exist side by side during a replacement. A
// container_name on a one-instance service is used as written.
func InstanceName(project, service, containerName string, slot int, instanceID string) string {
	if containerName != "" {
		return containerName
	}
	suffix := strings.ReplaceAll(instanceID, "-", "")
	if len(suffix) > 6 {
		suffix = suffix[:6]
	}
	return fmt.Sprintf("%s-%s-%d-%s", project, service, slot, suffix)
}
