package orchestrator

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
)

// secretKey matches variable names whose values describe masks, such as
// API_TOKEN, DB_PASSWORD or OTEL_EXPORTER_OTLP_HEADERS.
var secretKey = regexp.MustCompile(`(?i)(secret|token|passw|pwd|key|credential|auth|private|cert|cookie|session|headers)`)

// maskedValue replaces the value of a secret-looking variable.
const maskedValue = "********"

// MaskEnv returns KEY=VALUE pairs with the values of secret-looking keys
// replaced by asterisks.
func MaskEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		if secretKey.MatchString(key) {
			kv = key + "=" + maskedValue
		}
		out = append(out, kv)
	}
	return out
}

// InstanceDescription is the describe view of one instance.
type InstanceDescription struct {
	InstanceStatus
	InstanceID string    `json:"instance_id"`
	Created    time.Time `json:"created"`
	FinishedAt string    `json:"finished_at,omitempty"`
	// LastReason is why the latest run ended: "OOMKilled", the engine's
	// error, or "exited with code N".
	LastReason string `json:"last_exit_reason,omitempty"`
	// RestartPolicy is the engine's restart policy, such as
	// "unless-stopped" or "on-failure:5".
	RestartPolicy string `json:"restart_policy"`
	// MinUptime is the run time below which an exit is unstable.
	MinUptime   string   `json:"min_uptime"`
	MemoryLimit int64    `json:"memory_limit,omitempty"`
	Environment []string `json:"environment"`
	Logs        []string `json:"last_logs"`
}

// ServiceDescription is the describe view of one service.
type ServiceDescription struct {
	Service   string                `json:"service"`
	Revision  string                `json:"revision"`
	Image     string                `json:"image"`
	FrontDoor string                `json:"front_door,omitempty"`
	Instances []InstanceDescription `json:"instances"`
}

// Describe returns the running state of a service, or of one instance when
// target is service.slot or a container name. Values of secret-looking
// variables are masked.
func (o *Orchestrator) Describe(ctx context.Context, project, target string) (*ServiceDescription, error) {
	observed, err := o.observe(ctx, project)
	if err != nil {
		return nil, err
	}
	desc := &ServiceDescription{}
	var matched []ObservedContainer
	for _, c := range observed {
		if !describes(c, target) {
			continue
		}
		desc.Service = c.Service
		switch c.Role {
		case RoleFrontDoor:
			desc.FrontDoor = c.Name
		case RoleInstance:
			matched = append(matched, c)
		}
	}
	instances, err := o.superviseAll(ctx, project, matched)
	if err != nil {
		return nil, err
	}
	for _, inst := range instances {
		d := o.describeInstance(ctx, project, inst)
		desc.Instances = append(desc.Instances, d)
		desc.Revision, desc.Image = d.Revision, d.Image
	}
	if len(desc.Instances) == 0 {
		return nil, fmt.Errorf("no instance of project %q matches %q; give a service name, service.slot or a container name from clusterctl ps",
			project, target)
	}
	slices.SortFunc(desc.Instances, func(a, b InstanceDescription) int { return a.Slot - b.Slot })
	return desc, nil
}

func describes(c ObservedContainer, target string) bool {
	if c.Role == RoleFrontDoor {
		return c.Service == target
	}
	return c.Service == target || c.Name == target || c.Service+"."+strconv.Itoa(c.Slot) == target
}

func (o *Orchestrator) describeInstance(ctx context.Context, project string, inst supervisedInstance) InstanceDescription {
	info, sup := inst.Info, inst.Supervision
	desc := InstanceDescription{
		InstanceStatus: inst.status(project),
		InstanceID:     info.Config.Labels[LabelInstanceID],
		RestartPolicy:  formatRestartPolicy(sup.Policy.Restart),
		MinUptime:      sup.Policy.MinUptime.String(),
		Environment:    MaskEnv(info.Config.Env),
		Logs:           o.lastLogs(ctx, inst.ID, logTail),
	}
	desc.Created, _ = time.Parse(time.RFC3339Nano, info.Created)
	if finished := parseTime(info.State.FinishedAt); !finished.IsZero() {
		desc.FinishedAt = info.State.FinishedAt
	}
	if info.HostConfig != nil {
		desc.MemoryLimit = info.HostConfig.Memory
	}
	switch {
	case sup.LastExit != nil && sup.LastExit.OOMKilled, sup.EarlierOOMKill:
		desc.LastReason = "OOMKilled"
	case info.State.Error != "":
		desc.LastReason = info.State.Error
	case sup.LastExit != nil:
		desc.LastReason = fmt.Sprintf("exited with code %d", sup.LastExit.ExitCode)
	case info.RestartCount > 0:
		desc.LastReason = "exited; the engine's events no longer record how"
	}
	return desc
}

// formatRestartPolicy writes a restart policy as compose's restart key
// does: "no", "always", "unless-stopped", "on-failure" or "on-failure:N".
func formatRestartPolicy(p container.RestartPolicy) string {
	switch {
	case p.Name == "":
		return string(container.RestartPolicyDisabled)
	case p.Name == container.RestartPolicyOnFailure && p.MaximumRetryCount > 0:
		return fmt.Sprintf("%s:%d", p.Name, p.MaximumRetryCount)
	}
	return string(p.Name)
}
