package orchestrator

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/moby/go-archive"
	"github.com/moby/patternmatcher/ignorefile"

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
// the service has a build section and the image is missing or force is
// set. It never pulls: a missing image without a build section is an error.
func (o *Orchestrator) ensureImage(ctx context.Context, p *compose.Project, svc *compose.Service, force bool) (localImage, error) {
	ref := ImageRef(p, svc)
	inspect, err := o.Engine.ImageInspect(ctx, ref)
	switch {
	case err == nil && (!force || svc.Config.Build == nil):
		return localImage{ID: inspect.ID, Version: imageVersion(ref, imageLabels(inspect))}, nil
	case err != nil && !errdefs.IsNotFound(err):
		return localImage{}, fmt.Errorf("inspect image %s: %w", ref, err)
	case svc.Config.Build == nil:
		return localImage{}, fmt.Errorf("%w: service %q uses image %q, which is not on this Docker engine, and clusterctl does not pull images; "+
			"add a build: section to the service, or load the image with docker load or docker build: %w",
			ErrImageMissing, svc.Name, ref, err)
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

// buildImage builds a service's image through the engine's build API from
// its context directory, honouring .dockerignore.
func (o *Orchestrator) buildImage(ctx context.Context, p *compose.Project, svc *compose.Service, ref string) error {
	b := svc.Config.Build
	o.Report.emit(Event{Kind: EventBuilding, Project: p.Name, Service: svc.Name, Slot: -1, Message: ref})
	contextDir := b.Context
	if !filepath.IsAbs(contextDir) {
		contextDir = filepath.Join(p.WorkingDir, contextDir)
	}
	tar, err := contextTar(contextDir, b.Dockerfile)
	if err != nil {
		return fmt.Errorf("build %s: %w", svc.Name, err)
	}
	defer tar.Close()
	args := map[string]*string{}
	for k, v := range b.Args {
		args[k] = v
	}
	resp, err := o.Engine.ImageBuild(ctx, tar, build.ImageBuildOptions{
		Tags:        []string{ref},
		Dockerfile:  b.Dockerfile,
		BuildArgs:   args,
		Target:      b.Target,
		Labels:      b.Labels,
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", svc.Name, err)
	}
	defer resp.Body.Close()
	if err := readBuildOutput(resp.Body); err != nil {
		return fmt.Errorf("build %s from %s: %w", svc.Name, contextDir, err)
	}
	o.Report.emit(Event{Kind: EventBuilt, Project: p.Name, Service: svc.Name, Slot: -1, Message: ref})
	return nil
}

// contextTar packs a build context. Like the docker CLI, it always sends
// the Dockerfile and .dockerignore, even when .dockerignore excludes them.
func contextTar(dir, dockerfile string) (io.ReadCloser, error) {
	var excludes []string
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	switch {
	case err == nil:
		excludes, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read .dockerignore: %w", err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	if len(excludes) > 0 {
		excludes = append(excludes, "!"+cmp.Or(dockerfile, "Dockerfile"), "!.dockerignore")
	}
	return archive.TarWithOptions(dir, &archive.TarOptions{ExcludePatterns: excludes})
}

// readBuildOutput drains the build's JSON message stream and returns the
// error it reports, if any, with the last lines of output.
func readBuildOutput(r io.Reader) error {
	dec := json.NewDecoder(r)
	var tail []string
	for {
		var msg jsonmessage.JSONMessage
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read build output: %w", err)
		}
		if msg.Error != nil {
			return fmt.Errorf("%s\n%s", msg.Error.Message, strings.Join(tail, ""))
		}
		if msg.Stream != "" {
			tail = append(tail, msg.Stream)
			if len(tail) > 10 {
				tail = tail[1:]
			}
		}
	}
}

func imageLabels(inspect image.InspectResponse) map[string]string {
	if inspect.Config == nil {
		return nil
	}
	return inspect.Config.Labels
}
