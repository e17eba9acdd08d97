package orchestrator

import (
	"reflect"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// fieldUse records what clusterctl does with one field of compose-go's
// types.ServiceConfig. TestServiceFields_AllClassified fails for a field
// that is not in serviceFields, so that a compose-go upgrade cannot add a
// key that clusterctl drops without a word.
type fieldUse struct {
	// applied is true when the field is translated into the container or
	// used elsewhere by clusterctl (the instance count, the image, the
	// start order). A field that is applied in part warns about the rest
	// where it is translated.
	applied bool
	// warning, when not empty, is the reason given in the warning that
	// NewTemplate emits when the field is set: clusterctl does not apply it.
	warning string
	// reason is the cause of a field being neither applied nor warned
	// about: the loader resolved it into other fields, or it cannot appear
	// in a file that compose.Load accepts.
	reason string
}

func applied() fieldUse                   { return fieldUse{applied: true} }
func warned(reason string) fieldUse       { return fieldUse{warning: reason} }
func notContainer(reason string) fieldUse { return fieldUse{reason: reason} }

// serviceFields classifies every field of types.ServiceConfig, by Go name,
// including the fields of its embedded ContainerSpec and WorkloadSpec.
var serviceFields = map[string]fieldUse{
	// Service. deploy and scale give the instance count, and deploy's
	// update_config and rollback_config the rollouts.
	"Name":          notContainer("the service name is the key of the service, not a setting"),
	"Profiles":      notContainer("compose.Load enables the services of the active profiles"),
	"Deploy":        applied(),
	"Develop":       warned("is not applied: clusterctl has no watch mode; use docker compose watch while developing"),
	"Restart":       applied(),
	"Scale":         applied(),
	"Attach":        notContainer("clusterctl up runs detached and attaches to no container's output"),
	"ContainerName": applied(),
	"Provider":      notContainer("compose.Load rejects provider services"),
	"Extends":       notContainer("compose-go merges the extended service into this one"),
	"ExternalLinks": applied(),
	"Links":         applied(),
	"Net":           warned("is not applied: it is a legacy key; use network_mode"),
	"PreStart":      warned("is not applied: clusterctl runs no lifecycle hooks; run the step in the image's entrypoint"),
	"PostStart":     warned("is not applied: clusterctl runs no lifecycle hooks; run the step in the image's entrypoint"),
	"PreStop":       warned("is not applied: clusterctl runs no lifecycle hooks; handle the stop signal in the program"),
	"Extensions":    notContainer("x-clusterctl is resolved by compose.Load, and other x- keys are for other tools"),

	// ContainerSpec.
	"Annotations":       applied(),
	"BlkioConfig":       applied(),
	"CapAdd":            applied(),
	"CapDrop":           applied(),
	"CgroupParent":      applied(),
	"Cgroup":            applied(),
	"CPUCount":          applied(),
	"CPUPercent":        applied(),
	"CPUPeriod":         applied(),
	"CPUQuota":          applied(),
	"CPURTPeriod":       applied(),
	"CPURTRuntime":      applied(),
	"CPUS":              applied(),
	"CPUSet":            applied(),
	"CPUShares":         applied(),
	"Command":           applied(),
	"Configs":           applied(),
	"CredentialSpec":    warned("is not applied: credential specs are for Windows containers with gMSA, which clusterctl does not set up"),
	"DeviceCgroupRules": applied(),
	"Devices":           applied(),
	"DNS":               applied(),
	"DNSOpts":           applied(),
	"DNSSearch":         applied(),
	"DomainName":        applied(),
	"Entrypoint":        applied(),
	"Environment":       applied(),
	"EnvFiles":          notContainer("compose-go reads env_file into environment, skipping a missing file with required: false"),
	"ExtraHosts":        applied(),
	"GroupAdd":          applied(),
	"Gpus":              applied(),
	"Hostname":          applied(),
	"Image":             applied(),
	"Init":              applied(),
	"Ipc":               applied(),
	"Isolation":         applied(),
	"Labels":            applied(),
	"LabelFiles":        notContainer("compose-go reads label_file into labels"),
	"CustomLabels":      notContainer("compose-go's own labels for Docker Compose; clusterctl sets its own"),
	"Logging":           applied(),
	"LogDriver":         warned("is not applied: it is a legacy key; use logging.driver"),
	"LogOpt":            warned("is not applied: it is a legacy key; use logging.options"),
	"MemLimit":          applied(),
	"MemReservation":    applied(),
	"MemSwapLimit":      applied(),
	"MemSwappiness":     applied(),
	"MacAddress":        applied(),
	"Models":            warned("is not applied: models need Docker Compose's model runner, which clusterctl does not start"),
	"NetworkMode":       applied(),
	"Networks":          applied(),
	"OomKillDisable":    applied(),
	"OomScoreAdj":       applied(),
	"Pid":               applied(),
	"PidsLimit":         applied(),
	"Platform":          applied(),
	"Privileged":        applied(),
	"PullPolicy":        notContainer("applies to image resolution; clusterctl never pulls an image"),
	"PullRefreshAfter":  notContainer("applies to image resolution; clusterctl never pulls an image"),
	"ReadOnly":          applied(),
	"Runtime":           applied(),
	"Secrets":           applied(),
	"SecurityOpt":       applied(),
	"ShmSize":           applied(),
	"StopGracePeriod":   applied(),
	"StopSignal":        applied(),
	"StorageOpt":        applied(),
	"Sysctls":           applied(),
	"Tmpfs":             applied(),
	"Ulimits":           applied(),
	"Umask":             warned("is not applied: the Docker API has no umask setting; set it in the entrypoint"),
	"UseAPISocket":      warned("is not applied: clusterctl does not hand the Docker API socket to instances; bind-mount it in volumes if the service needs it"),
	"User":              applied(),
	"UserNSMode":        applied(),
	"Uts":               applied(),
	"VolumeDriver":      warned("is not applied: it is a legacy key; set the driver in the top-level volumes section"),
	"Volumes":           applied(),
	"VolumesFrom":       applied(),
	"WorkingDir":        applied(),

	// WorkloadSpec.
	// build makes the image; depends_on orders the start of services.
	"Build":       applied(),
	"DependsOn":   applied(),
	"Dockerfile":  warned("is not applied: it is a legacy key; use build.dockerfile"),
	"Expose":      applied(),
	"HealthCheck": applied(),
	"Ports":       applied(),
	"StdinOpen":   applied(),
	"Tty":         applied(),
}

// warnUnapplied warns about each set field that clusterctl does not apply,
// and about the deploy keys that only Docker Swarm uses.
func (tr *translator) warnUnapplied() {
	cfg := reflect.ValueOf(tr.svc.Config)
	for _, field := range serviceFieldList() {
		use := serviceFields[field.Name]
		if use.warning != "" && !cfg.FieldByIndex(field.Index).IsZero() {
			tr.warn(yamlKey(field), "%s", use.warning)
		}
	}
	tr.warnDeploy()
}

// serviceFieldList returns the fields of types.ServiceConfig with those of
// its embedded structs in place of the embedded fields.
func serviceFieldList() []reflect.StructField {
	var fields []reflect.StructField
	for _, field := range reflect.VisibleFields(reflect.TypeFor[types.ServiceConfig]()) {
		if !field.Anonymous {
			fields = append(fields, field)
		}
	}
	return fields
}

// yamlKey returns the compose key of a field, from its yaml tag.
func yamlKey(field reflect.StructField) string {
	name, _, _ := strings.Cut(field.Tag.Get("yaml"), ",")
	if name == "" || name == "-" {
		return field.Name
	}
	return name
}

// warnDeploy warns about the deploy keys that configure Docker Swarm and
// have no engine setting.
func (tr *translator) warnDeploy() {
	deploy := tr.svc.Config.Deploy
	if deploy == nil {
		return
	}
	if deploy.Mode != "" && deploy.Mode != "replicated" {
		tr.warn("deploy.mode", "%q is not applied: clusterctl runs x-clusterctl.instances or "+
			"deploy.replicas instances on one engine", deploy.Mode)
	}
	if len(deploy.Labels) > 0 {
		tr.warn("deploy.labels", "are not applied: they label a Swarm service, not its containers; "+
			"use labels for container labels")
	}
	placement := deploy.Placement
	if len(placement.Constraints) > 0 || len(placement.Preferences) > 0 || placement.MaxReplicas != 0 {
		tr.warn("deploy.placement", "is not applied: clusterctl runs every instance on one engine")
	}
	if deploy.EndpointMode != "" {
		tr.warn("deploy.endpoint_mode", "is not applied: it is a Swarm setting; clients reach the "+
			"service through its front door or the service name alias")
	}
}
