package orchestrator

import (
	"context"
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"

	"github.com/clusterctl/clusterctl/compose"
)

// versionLabel is the OCI image label whose value becomes service.version.
const versionLabel = "org.opencontainers.image.version"

// localImage is a resolved local image.
type localImage struct {
	ID      string
	Version string
}

// ensureImage returns the local image of a service, building it first when
// the service has a build section and the image is missing, force is set,
// or pull_policy is build. It never pulls: pull_policy missing, never and
// if_not_present all mean "use the local image", and a missing image
// without a build section is an error. compose.Load rejects the pull
// policies that pull.
func (o *Orchestrator) ensureImage(ctx context.Context, p *compose.Project, svc *compose.Service, force bool) (localImage, error) {
	ref := ImageRef(p, svc)
	force = force || svc.Config.PullPolicy == types.PullPolicyBuild
	inspect, err := o.Engine.ImageInspect(ctx, ref)
	switch {
	case err == nil && (!force || svc.Config.Build == nil):
		return localImage{ID: inspect.ID, Version: imageVersion(ref, imageLabels(inspect))}, nil
	case err != nil && !errdefs.IsNotFound(err):
		return localImage{}, fmt.Errorf("inspect image %s: %w", ref, err)
	case svc.Config.Build == nil:
		policy := ""
		if svc.Config.PullPolicy != "" {
			policy = " (pull_policy: " + svc.Config.PullPolicy + ")"
		}
		return localImage{}, fmt.Errorf("%w: service %q uses image %q, which is not on this Docker engine, and clusterctl does not pull images%s; "+
			"build it (add a build: section to the service, or run docker build -t %s) or load it with docker load: %w",
			ErrImageMissing, svc.Name, ref, policy, ref, err)
	}
	if err := o.buildImage(ctx, p, svc, ref); err != nil {
		return localImage{}, err
	}
	inspect, err = o.Engine.ImageInspect(ctx, ref)
	if err != nil {
		return localImage{}, fmt.Errorf("inspect built image %s: %w", ref, err)
	}
	return localImage{ID: inspect.ID, Version: imageVersion(ref, imageLabels(inspect))}, nil
}

// imageVersion returns the service.version of an image: its OCI version
// label, else its tag unless the tag is latest.
func imageVersion(ref string, labels map[string]string) string {
	if v := labels[versionLabel]; v != "" {
		return v
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	if _, tag, ok := strings.Cut(name, ":"); ok && tag != "latest" {
		return tag
	}
	return ""
}

func imageLabels(inspect image.InspectResponse) map[string]string {
	if inspect.Config == nil {
		return nil
	}
	return inspect.Config.Labels
}
