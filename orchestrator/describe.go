package orchestrator

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
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
	InstanceID  string    `json:"instance_id"`
	Created     time.Time `json:"created"`
	FinishedAt  string    `json:"finished_at,omitempty"`
	OOMKilled   bool      `json:"oom_killed"`
	LastReason  string    `json:"last_exit_reason,omitempty"`
	MemoryLimit int64     `json:"memory_limit,omitempty"`
	Environment []string  `json:"environment"`
	Logs        []string  `json:"last_logs"`
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
	for _, c := range observed {
		if !describes(c, target) {
			continue
		}
		desc.Service = c.Service
		if c.Role == RoleFrontDoor {
			desc.FrontDoor = c.Name
			continue
		}
		if c.Role != RoleInstance {
			continue
		}
		inst, err := o.describeInstance(ctx, project, c)
		if err != nil {
			return nil, err
		}
		desc.Instances = append(desc.Instances, inst)
		desc.Revision, desc.Image = inst.Revision, inst.Image
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

func (o *Orchestrator) describeInstance(ctx context.Context, project string, c ObservedContainer) (InstanceDescription, error) {
	info, err := o.Engine.ContainerInspect(ctx, c.ID)
	if err != nil {
		return InstanceDescription{}, fmt.Errorf("inspect %s: %w", c.Name, err)
	}
	desc := InstanceDescription{
		InstanceStatus: statusOf(project, c, info),
		InstanceID:     info.Config.Labels[LabelInstanceID],
		OOMKilled:      info.State.OOMKilled,
		Environment:    MaskEnv(info.Config.Env),
		Logs:           o.lastLogs(ctx, c.ID, logTail),
	}
	desc.Created, _ = time.Parse(time.RFC3339Nano, info.Created)
	if info.State.FinishedAt != "" && !strings.HasPrefix(info.State.FinishedAt, "0001") {
		desc.FinishedAt = info.State.FinishedAt
	}
	if info.HostConfig != nil {
		desc.MemoryLimit = info.HostConfig.Memory
	}
	switch {
	case info.State.OOMKilled:
		desc.LastReason = "OOMKilled"
	case info.State.Error != "":
		desc.LastReason = info.State.Error
	case info.State.ExitCode != 0 || info.RestartCount > 0:
		desc.LastReason = fmt.Sprintf("exited with code %d", info.State.ExitCode)
	}
	return desc, nil
}
