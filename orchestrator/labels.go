package orchestrator

// Labels that clusterctl sets on the containers, networks and volumes it
// creates. All state lives in these labels; the CLI keeps no local state.
const (
	LabelProject    = "io.clusterctl.project"
	LabelService    = "io.clusterctl.service"
	LabelInstance   = "io.clusterctl.instance"
	LabelRevision   = "io.clusterctl.revision"
	LabelRole       = "io.clusterctl.role"
	LabelInstanceID = "io.clusterctl.instance-id"
	// LabelImage is the image reference as written in the file; the
	// container itself runs the image ID it resolved to.
	LabelImage = "io.clusterctl.image"
	// LabelSpec carries the canonical JSON of the instance template, so that
	// a later run can report which fields changed.
	LabelSpec = "io.clusterctl.spec"
	// LabelCount is the instance count the service had when this container
	// was created.
	LabelCount = "io.clusterctl.instances"
	// LabelMinUptime is x-clusterctl.min_uptime as a Go duration, set only
	// when the file sets it, so that ps can tell a crash loop from a restart
	// without the file.
	LabelMinUptime = "io.clusterctl.min-uptime"

	// RoleFrontDoor marks front door containers.
	RoleFrontDoor = "frontdoor"
	// RoleInstance marks instance containers.
	RoleInstance = "instance"
	// RoleProbe marks the short-lived containers that run ready probes.
	RoleProbe = "probe"
)
