package orchestrator

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	composetypes "github.com/compose-spec/compose-go/v2/types"

	"github.com/clusterctl/clusterctl/compose"
)

// buildProject returns project shop with one service web that builds
// image shop-web:dev from a context directory holding files.
func buildProject(t *testing.T, files map[string]string, build composetypes.BuildConfig) *compose.Project {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build.Context = dir
	svc := serviceOf("web", 1, func(svc *compose.Service) {
		svc.Config.Image = "shop-web:dev"
		svc.Config.Build = &build
	})
	p := projectOf(svc)
	p.WorkingDir = dir
	return p
}

func TestUp_BuildOptions(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	greeting := "hello"
	p := buildProject(t, map[string]string{"build.Dockerfile": "FROM scratch AS base\nFROM base AS app\n"}, composetypes.BuildConfig{
		Dockerfile: "build.Dockerfile",
		Args:       composetypes.MappingWithEquals{"GREETING": &greeting},
		Target:     "app",
		Labels:     composetypes.Labels{"org.example.team": "core"},
		Tags:       composetypes.StringList{"shop-web:extra"},
		NoCache:    true,
		Network:    "none",
	})

	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if len(engine.builds) != 1 {
		t.Fatalf("%d builds, want 1", len(engine.builds))
	}
	got := engine.builds[0]
	if !slices.Equal(got.Tags, []string{"shop-web:dev", "shop-web:extra"}) {
		t.Errorf("tags = %v, want the image and build.tags", got.Tags)
	}
	if got.Dockerfile != "build.Dockerfile" || got.Target != "app" || !got.NoCache || got.NetworkMode != "none" {
		t.Errorf("build options = dockerfile %q, target %q, no cache %v, network %q", got.Dockerfile, got.Target, got.NoCache, got.NetworkMode)
	}
	if v := got.BuildArgs["GREETING"]; v == nil || *v != "hello" {
		t.Errorf("build arg GREETING = %v, want hello", v)
	}
	if got.Labels["org.example.team"] != "core" {
		t.Errorf("build labels = %v, want the file's", got.Labels)
	}
	if got.PullParent {
		t.Error("the build asks the engine to pull its base image")
	}
}

func TestUp_PullPolicy(t *testing.T) {
	t.Parallel()
	dockerfile := map[string]string{"Dockerfile": "FROM scratch\n"}
	cases := []struct {
		name       string
		policy     string
		imageThere bool
		withBuild  bool
		wantBuilds int
		wantErr    []string
	}{
		{name: "missing uses the local image", policy: "missing", imageThere: true, withBuild: true, wantBuilds: 0},
		{name: "missing builds an absent image", policy: "missing", withBuild: true, wantBuilds: 1},
		{name: "never builds an absent image with a build section", policy: "never", withBuild: true, wantBuilds: 1},
		{name: "build rebuilds a present image", policy: "build", imageThere: true, withBuild: true, wantBuilds: 1},
		{
			name: "never without a build section", policy: "never",
			wantErr: []string{`image "shop-web:dev", which is not on this Docker engine`, "does not pull images (pull_policy: never)",
				"docker build -t shop-web:dev", "docker load"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			if tc.imageThere {
				engine.images["shop-web:dev"] = "sha256:old"
			}
			o, _ := newTestOrchestrator(engine)
			p := buildProject(t, dockerfile, composetypes.BuildConfig{})
			p.Services[0].Config.PullPolicy = tc.policy
			if !tc.withBuild {
				p.Services[0].Config.Build = nil
			}

			err := o.Up(t.Context(), p, UpOptions{})

			if tc.wantErr != nil {
				requireErrorContains(t, err, tc.wantErr...)
				if !errors.Is(err, ErrImageMissing) {
					t.Errorf("error does not match ErrImageMissing: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Up: %v", err)
			}
			if len(engine.builds) != tc.wantBuilds {
				t.Errorf("%d builds, want %d", len(engine.builds), tc.wantBuilds)
			}
		})
	}
}

func TestUp_BuildRejections(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		files map[string]string
		build composetypes.BuildConfig
		want  []string
	}{
		{
			name:  "missing base image",
			files: map[string]string{"Dockerfile": "FROM scratch AS empty\nFROM example.org/base:1\nFROM empty\n"},
			want:  []string{`build web: the Dockerfile starts FROM "example.org/base:1", which is not on this Docker engine`, "does not pull images"},
		},
		{
			name:  "BuildKit-only options",
			files: map[string]string{"Dockerfile": "FROM scratch\n"},
			build: composetypes.BuildConfig{SSH: composetypes.SSHConfig{{ID: "default"}}, Secrets: []composetypes.ServiceSecretConfig{{Source: "token"}}},
			want:  []string{"build web: ssh, secrets need BuildKit", "docker buildx build", "pull_policy: never"},
		},
		{
			name:  "missing Dockerfile",
			files: map[string]string{},
			want:  []string{"build web: read Dockerfile", "check build.dockerfile"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			engine := newFakeEngine()
			o, _ := newTestOrchestrator(engine)

			err := o.Up(t.Context(), buildProject(t, tc.files, tc.build), UpOptions{})

			requireErrorContains(t, err, tc.want...)
			if len(engine.builds) != 0 {
				t.Errorf("the engine built %d images, want none", len(engine.builds))
			}
		})
	}
}

func TestUp_RemoteBuildContextRejected(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := projectOf(serviceOf("web", 1, func(svc *compose.Service) {
		svc.Config.Image = "shop-web:dev"
		svc.Config.Build = &composetypes.BuildConfig{Context: "https://example.org/app.git"}
	}))

	err := o.Up(t.Context(), p, UpOptions{})

	requireErrorContains(t, err, `context "https://example.org/app.git" is remote`, "builds only from a local directory")
}

func TestContextTar_InjectsDockerfile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "elsewhere.Dockerfile")
	for path, content := range map[string]string{
		filepath.Join(dir, "app.txt"): "app", filepath.Join(dir, ".dockerignore"): "*.txt\n", outside: "FROM scratch\nLABEL from=outside\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		build    composetypes.BuildConfig
		wantName string
		wantText string
	}{
		{"inline", composetypes.BuildConfig{DockerfileInline: "FROM scratch\nLABEL from=inline\n"}, injectedDockerfile, "LABEL from=inline"},
		{"outside the context", composetypes.BuildConfig{Dockerfile: outside}, injectedDockerfile, "LABEL from=outside"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			source, err := readDockerfile(dir, &tc.build)
			if err != nil {
				t.Fatalf("readDockerfile: %v", err)
			}
			if source.Name != tc.wantName {
				t.Errorf("Dockerfile name = %q, want %q", source.Name, tc.wantName)
			}
			files := tarFiles(t, dir, source)
			if !strings.Contains(files[tc.wantName], tc.wantText) {
				t.Errorf("context file %s = %q, want it to contain %q", tc.wantName, files[tc.wantName], tc.wantText)
			}
			if _, ok := files["app.txt"]; ok {
				t.Error("the context contains app.txt, which .dockerignore excludes")
			}
		})
	}
}

// tarFiles packs a build context and returns its regular files by name.
func tarFiles(t *testing.T, dir string, source dockerfileSource) map[string]string {
	t.Helper()
	rc, err := contextTar(dir, source)
	if err != nil {
		t.Fatalf("contextTar: %v", err)
	}
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("read context: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = string(data)
	}
}

func TestBaseImages(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		dockerfile string
		want       []string
	}{
		{"scratch only", "FROM scratch\nCOPY a /a\n", nil},
		{"stages refer to earlier stages", "FROM scratch AS base\nFROM base AS app\nFROM app\n", nil},
		{"platform flag and lower-case keywords", "from --platform=linux/amd64 golang:1.26 as build\nFROM build\n", []string{"golang:1.26"}},
		{"continuation line and comment", "# base\nFROM \\\n  alpine:3 AS tools\nFROM scratch\nCOPY --from=tools /x /x\n", []string{"alpine:3"}},
		{"build argument is not checked", "ARG BASE=alpine:3\nFROM ${BASE}\n", nil},
		{"repeats once", "FROM busybox AS a\nFROM busybox AS b\n", []string{"busybox"}},
		{"stage name that shadows nothing yet", "FROM app AS app\n", []string{"app"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := baseImages(tc.dockerfile); !slices.Equal(got, tc.want) {
				t.Errorf("baseImages = %v, want %v", got, tc.want)
			}
		})
	}
}
