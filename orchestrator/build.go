package orchestrator

import (
	"archive/tar"
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/moby/go-archive"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/clusterctl/clusterctl/compose"
)

// injectedDockerfile is the name under which a Dockerfile that is not a
// file inside the build context (dockerfile_inline, or a path outside the
// context) is added to the context sent to the engine.
const injectedDockerfile = ".clusterctl.Dockerfile"

// dockerfileSource is the Dockerfile of one build: its name inside the
// context that the engine reads, and its text when clusterctl adds it to
// the context itself.
type dockerfileSource struct {
	Name string
	// Inject is true when Text must be added to the context as Name.
	Inject bool
	Text   string
}

// buildImage builds a service's image through the engine's build API (the
// classic builder, which API 1.41 engines run) from its context directory,
// honouring .dockerignore. It first checks that every base image the
// Dockerfile names is on the engine, because the builder would pull a
// missing one.
func (o *Orchestrator) buildImage(ctx context.Context, p *compose.Project, svc *compose.Service, ref string) error {
	b := svc.Config.Build
	if err := checkBuildOptions(svc.Name, b); err != nil {
		return err
	}
	if b.Pull {
		o.Report.emit(Event{Kind: EventWarning, Project: p.Name, Service: svc.Name, Slot: -1,
			Message: "build.pull: true is ignored, because clusterctl does not pull images"})
	}
	contextDir := b.Context
	if !filepath.IsAbs(contextDir) {
		contextDir = filepath.Join(p.WorkingDir, contextDir)
	}
	dockerfile, err := readDockerfile(contextDir, b)
	if err != nil {
		return fmt.Errorf("build %s: %w", svc.Name, err)
	}
	if err := o.checkBaseImages(ctx, svc.Name, dockerfile.Text); err != nil {
		return err
	}

	o.Report.emit(Event{Kind: EventBuilding, Project: p.Name, Service: svc.Name, Slot: -1, Message: ref})
	tar, err := contextTar(contextDir, dockerfile)
	if err != nil {
		return fmt.Errorf("build %s: %w", svc.Name, err)
	}
	defer tar.Close()

	resp, err := o.Engine.ImageBuild(ctx, tar, buildOptions(b, ref, dockerfile.Name))
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

// buildOptions translates a build section into the engine's build request.
// The image is tagged ref and every build.tags entry.
func buildOptions(b *types.BuildConfig, ref, dockerfile string) build.ImageBuildOptions {
	args := map[string]*string{}
	for k, v := range b.Args {
		args[k] = v
	}
	opts := build.ImageBuildOptions{
		Tags:        append([]string{ref}, b.Tags...),
		Dockerfile:  dockerfile,
		BuildArgs:   args,
		Target:      b.Target,
		Labels:      b.Labels,
		NoCache:     b.NoCache,
		NetworkMode: b.Network,
		ExtraHosts:  b.ExtraHosts.AsList(":"),
		ShmSize:     int64(b.ShmSize),
		CacheFrom:   b.CacheFrom,
		Isolation:   container.Isolation(b.Isolation),
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
	}
	if len(b.Platforms) == 1 {
		opts.Platform = b.Platforms[0]
	}
	for _, name := range slices.Sorted(maps.Keys(b.Ulimits)) {
		limit := b.Ulimits[name]
		soft, hard := int64(limit.Soft), int64(limit.Hard)
		if limit.Single != 0 {
			soft, hard = int64(limit.Single), int64(limit.Single)
		}
		opts.Ulimits = append(opts.Ulimits, &container.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	return opts
}

// checkBuildOptions rejects build settings that the classic builder cannot
// honour: remote contexts, which would be fetched from the network, and
// options that only BuildKit implements.
func checkBuildOptions(service string, b *types.BuildConfig) error {
	if strings.Contains(b.Context, "://") || strings.HasPrefix(b.Context, "git@") || strings.HasPrefix(b.Context, "github.com/") {
		return fmt.Errorf("build %s: context %q is remote, and clusterctl builds only from a local directory; "+
			"clone it and set build.context to the directory", service, b.Context)
	}
	var unsupported []string
	for _, option := range []struct {
		name string
		set  bool
	}{
		{"ssh", len(b.SSH) > 0},
		{"secrets", len(b.Secrets) > 0},
		{"additional_contexts", len(b.AdditionalContexts) > 0},
		{"entitlements", len(b.Entitlements) > 0},
		{"privileged", b.Privileged},
		{"cache_to", len(b.CacheTo) > 0},
		{"no_cache_filter", len(b.NoCacheFilter) > 0},
		{"platforms with more than one platform", len(b.Platforms) > 1},
	} {
		if option.set {
			unsupported = append(unsupported, option.name)
		}
	}
	if len(unsupported) > 0 {
		return fmt.Errorf("build %s: %s need BuildKit, and clusterctl builds through the Docker API's classic builder; "+
			"remove them, or build the image with docker buildx build and set pull_policy: never", service, strings.Join(unsupported, ", "))
	}
	return nil
}

// readDockerfile returns the Dockerfile of a build section: the inline
// text, a file inside the context, or a file elsewhere, which is added to
// the context because the engine reads the Dockerfile from there.
func readDockerfile(contextDir string, b *types.BuildConfig) (dockerfileSource, error) {
	if b.DockerfileInline != "" {
		return dockerfileSource{Name: injectedDockerfile, Inject: true, Text: b.DockerfileInline}, nil
	}
	name := cmp.Or(b.Dockerfile, "Dockerfile")
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(contextDir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return dockerfileSource{}, fmt.Errorf("read Dockerfile: %w; check build.dockerfile", err)
	}
	rel, err := filepath.Rel(contextDir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return dockerfileSource{Name: injectedDockerfile, Inject: true, Text: string(data)}, nil
	}
	return dockerfileSource{Name: filepath.ToSlash(rel), Text: string(data)}, nil
}

// checkBaseImages fails when a base image of the Dockerfile is not on the
// engine, because the engine's builder would try to pull it.
func (o *Orchestrator) checkBaseImages(ctx context.Context, service, dockerfile string) error {
	for _, base := range baseImages(dockerfile) {
		_, err := o.Engine.ImageInspect(ctx, base)
		if errdefs.IsNotFound(err) {
			return fmt.Errorf("%w: build %s: the Dockerfile starts FROM %q, which is not on this Docker engine, "+
				"and clusterctl does not pull images; build or load that image first (docker build, docker load)",
				ErrImageMissing, service, base)
		}
		if err != nil {
			return fmt.Errorf("build %s: inspect base image %s: %w", service, base, err)
		}
	}
	return nil
}

// baseImages returns the images that the FROM instructions of a Dockerfile
// name, in order and without repeats, leaving out scratch and earlier
// stages.
//
// NOTE: a FROM that uses a build argument (FROM ${BASE}) is not checked,
// because its value is known only to the builder.
func baseImages(dockerfile string) []string {
	var images []string
	stages := map[string]bool{}
	for _, line := range logicalLines(dockerfile) {
		fields := strings.Fields(line)
		if len(fields) < 2 || !strings.EqualFold(fields[0], "FROM") {
			continue
		}
		args := slices.DeleteFunc(fields[1:], func(f string) bool { return strings.HasPrefix(f, "--") })
		if len(args) == 0 {
			continue
		}
		image := args[0]
		local := strings.EqualFold(image, "scratch") || stages[strings.ToLower(image)] || strings.Contains(image, "$")
		if !local && !slices.Contains(images, image) {
			images = append(images, image)
		}
		if len(args) >= 3 && strings.EqualFold(args[1], "AS") {
			stages[strings.ToLower(args[2])] = true
		}
	}
	return images
}

// logicalLines joins a Dockerfile's continuation lines and drops comments
// and blank lines.
func logicalLines(text string) []string {
	var lines []string
	var current strings.Builder
	scanner := bufio.NewScanner(strings.NewReader(text))
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if strings.HasPrefix(line, "#") || (line == "" && current.Len() == 0) {
			continue
		}
		if rest, ok := strings.CutSuffix(line, "\\"); ok {
			current.WriteString(rest + " ")
			continue
		}
		current.WriteString(line)
		lines = append(lines, current.String())
		current.Reset()
	}
	if current.Len() > 0 {
		lines = append(lines, current.String())
	}
	return lines
}

// contextTar packs a build context. Like the docker CLI, it always sends
// the Dockerfile and .dockerignore, even when .dockerignore excludes them,
// and it adds a Dockerfile that is not in the context under its own name.
func contextTar(dir string, dockerfile dockerfileSource) (io.ReadCloser, error) {
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
		excludes = append(excludes, "!"+dockerfile.Name, "!.dockerignore")
	}
	tarball, err := archive.TarWithOptions(dir, &archive.TarOptions{ExcludePatterns: excludes})
	if err != nil || !dockerfile.Inject {
		return tarball, err
	}
	text := []byte(dockerfile.Text)
	return archive.ReplaceFileTarWrapper(tarball, map[string]archive.TarModifierFunc{
		dockerfile.Name: func(string, *tar.Header, io.Reader) (*tar.Header, []byte, error) {
			return &tar.Header{Name: dockerfile.Name, Mode: 0o600, Size: int64(len(text)), Typeflag: tar.TypeReg}, text, nil
		},
	}), nil
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
