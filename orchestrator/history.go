package orchestrator

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
)

// HistoryLimit is how many revisions per service the engine keeps.
const HistoryLimit = 10

// Labels of a revision record.
const (
	// RoleRevision marks a volume that records one revision of a service.
	RoleRevision        = "revision"
	labelRevisionNumber = "io.clusterctl.revision-number"
	labelCreated        = "io.clusterctl.created"
)

// Revision is one entry of a service's rollout history.
type Revision struct {
	Number   int       `json:"number"`
	Revision string    `json:"revision"`
	Image    string    `json:"image"`
	Created  time.Time `json:"created"`
	// Current is true for the revision the service's instances run.
	Current bool `json:"current"`
	// Template is the stored template, from which rollout undo recreates
	// the revision's instances.
	Template *Template `json:"-"`
}

// Rollout history is stored on the engine, not where the command runs, so
// that any machine reaching the engine can list and undo it. Each revision
// is an empty named volume whose labels carry the revision number, time,
// image and the template as JSON; volumes are the engine objects that
// outlive containers and never show in docker ps.
func historyVolumeName(project, service string, number int) string {
	return fmt.Sprintf("%s_clusterctl-history_%s_%d", project, service, number)
}

// History returns a service's recorded revisions, oldest first.
func (o *Orchestrator) History(ctx context.Context, project, service string) ([]Revision, error) {
	list, err := o.Engine.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelProject+"="+project),
		filters.Arg("label", LabelService+"="+service),
		filters.Arg("label", LabelRole+"="+RoleRevision),
	)})
	if err != nil {
		return nil, fmt.Errorf("list rollout history: %w", err)
	}
	var revisions []Revision
	for _, v := range list.Volumes {
		rev, err := parseRevision(v.Labels)
		if err != nil {
			o.logger().Warn("skipping unreadable revision record", "volume", v.Name, "err", err)
			continue
		}
		revisions = append(revisions, rev)
	}
	slices.SortFunc(revisions, func(a, b Revision) int { return cmp.Compare(a.Number, b.Number) })
	current, err := o.currentRevision(ctx, project, service)
	if err != nil {
		return nil, err
	}
	for i := range revisions {
		revisions[i].Current = revisions[i].Revision == current
	}
	return revisions, nil
}

func parseRevision(labels map[string]string) (Revision, error) {
	number, err := strconv.Atoi(labels[labelRevisionNumber])
	if err != nil {
		return Revision{}, fmt.Errorf("revision number: %w", err)
	}
	created, _ := time.Parse(time.RFC3339, labels[labelCreated])
	tmpl, err := ParseTemplate(labels[LabelSpec], labels[LabelRevision])
	if err != nil {
		return Revision{}, err
	}
	return Revision{Number: number, Revision: labels[LabelRevision], Image: labels[LabelImage], Created: created, Template: tmpl}, nil
}

// ParseTemplate reads a template from its JSON, as stored in LabelSpec,
// with the revision it was recorded under.
func ParseTemplate(spec, revision string) (*Template, error) {
	var t Template
	if err := json.Unmarshal([]byte(spec), &t); err != nil {
		return nil, fmt.Errorf("decode stored template: %w", err)
	}
	t.Revision = revision
	return &t, nil
}

// currentRevision returns the revision most running instances of a
// service have, or "" when none runs.
func (o *Orchestrator) currentRevision(ctx context.Context, project, service string) (string, error) {
	observed, err := o.observe(ctx, project)
	if err != nil {
		return "", err
	}
	counts := map[string]int{}
	best := ""
	for _, c := range observed {
		if c.Service != service || c.Role != RoleInstance || c.State != "running" {
			continue
		}
		counts[c.Revision]++
		if counts[c.Revision] > counts[best] {
			best = c.Revision
		}
	}
	return best, nil
}

// recordRevision adds a template to its service's history unless it is
// the newest entry already. A revision that returns, after an undo for
// example, moves to the top with a new number. The oldest entries beyond
// HistoryLimit are removed.
func (o *Orchestrator) recordRevision(ctx context.Context, project string, t *Template) error {
	history, err := o.History(ctx, project, t.Service)
	if err != nil {
		return err
	}
	if n := len(history); n > 0 && history[n-1].Revision == t.Revision {
		return nil
	}
	next := 1
	var keep []Revision
	for _, rev := range history {
		next = max(next, rev.Number+1)
		if rev.Revision == t.Revision {
			o.removeRevision(ctx, project, t.Service, rev.Number)
			continue
		}
		keep = append(keep, rev)
	}
	_, err = o.Engine.VolumeCreate(ctx, volume.CreateOptions{
		Name: historyVolumeName(project, t.Service, next),
		Labels: map[string]string{
			LabelProject: project, LabelService: t.Service, LabelRole: RoleRevision,
			LabelRevision: t.Revision, LabelImage: t.Image, LabelSpec: t.Spec(),
			labelRevisionNumber: strconv.Itoa(next), labelCreated: time.Now().UTC().Format(time.RFC3339),
		},
	})
	if err != nil {
		return fmt.Errorf("record revision %s of %s: %w", t.Revision, t.Service, err)
	}
	for len(keep) >= HistoryLimit {
		o.removeRevision(ctx, project, t.Service, keep[0].Number)
		keep = keep[1:]
	}
	return nil
}

func (o *Orchestrator) removeRevision(ctx context.Context, project, service string, number int) {
	err := o.Engine.VolumeRemove(ctx, historyVolumeName(project, service, number), true)
	if err != nil && !errdefs.IsNotFound(err) {
		o.logger().Warn("remove revision record", "service", service, "number", number, "err", err)
	}
}
