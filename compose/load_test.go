package compose

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestLoad_Discovery(t *testing.T) {
	t.Parallel()
	const web = "services:\n  web:\n    image: web:1\n"
	cases := []struct {
		name      string
		files     map[string]string
		start     string // WorkingDir below the temporary directory
		opts      Options
		wantFiles []string
		wantImage string
	}{
		{
			name:      "compose.yaml",
			files:     map[string]string{"compose.yaml": web},
			wantFiles: []string{"compose.yaml"},
			wantImage: "web:1",
		},
		{
			name:      "docker-compose.yml",
			files:     map[string]string{"docker-compose.yml": web},
			wantFiles: []string{"docker-compose.yml"},
			wantImage: "web:1",
		},
		{
			name: "compose.yaml preferred",
			files: map[string]string{
				"compose.yaml":       web,
				"docker-compose.yml": "services:\n  web:\n    image: old:1\n",
			},
			wantFiles: []string{"compose.yaml"},
			wantImage: "web:1",
		},
		{
			name: "override file merged",
			files: map[string]string{
				"compose.yaml":          web,
				"compose.override.yaml": "services:\n  web:\n    image: web:dev\n",
			},
			wantFiles: []string{"compose.yaml", "compose.override.yaml"},
			wantImage: "web:dev",
		},
		{
			name:      "parent directory",
			files:     map[string]string{"compose.yml": web, "src/deep/.keep": ""},
			start:     "src/deep",
			wantFiles: []string{"compose.yml"},
			wantImage: "web:1",
		},
		{
			name: "explicit files skip discovery",
			files: map[string]string{
				"compose.yaml":          "services:\n  web:\n    image: ignored:1\n",
				"base.yaml":             web,
				"compose.override.yaml": "services:\n  web:\n    image: ignored:2\n",
				"prod.yaml":             "services:\n  web:\n    image: web:prod\n",
			},
			opts:      Options{Files: []string{"base.yaml", "prod.yaml"}},
			wantFiles: []string{"base.yaml", "prod.yaml"},
			wantImage: "web:prod",
		},
		{
			name: "COMPOSE_FILE",
			files: map[string]string{
				"compose.yaml": "services:\n  web:\n    image: ignored:1\n",
				"a.yaml":       web,
				"b.yaml":       "services:\n  web:\n    image: web:b\n",
			},
			opts:      Options{Environ: []string{"COMPOSE_FILE=a.yaml:b.yaml"}},
			wantFiles: []string{"a.yaml", "b.yaml"},
			wantImage: "web:b",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, tc.files)
			opts := tc.opts
			opts.WorkingDir = filepath.Join(dir, tc.start)

			p := mustLoad(t, opts)

			want := make([]string, len(tc.wantFiles))
			for i, f := range tc.wantFiles {
				want[i] = filepath.Join(dir, f)
			}
			if !slices.Equal(p.ComposeFiles, want) {
				t.Errorf("ComposeFiles = %v, want %v", p.ComposeFiles, want)
			}
			if p.WorkingDir != dir {
				t.Errorf("WorkingDir = %s, want the first file's directory %s", p.WorkingDir, dir)
			}
			if got := p.Services[0].Config.Image; got != tc.wantImage {
				t.Errorf("image = %s, want %s", got, tc.wantImage)
			}
		})
	}
}

func TestLoad_DiscoveryDotEnvInProjectDir(t *testing.T) {
	t.Parallel()
	start, err := filepath.Abs("testdata/discovery/app/src/deep")
	if err != nil {
		t.Fatal(err)
	}

	p := mustLoad(t, Options{WorkingDir: start})

	if p.Name != "app" {
		t.Errorf("Name = %s, want app, the directory of the compose file", p.Name)
	}
	if got := p.Services[0].Config.Image; got != "web:from-dotenv" {
		t.Errorf("image = %s, want web:from-dotenv from app/.env", got)
	}
}

func TestLoad_ProjectName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		file    string
		dotEnv  string
		opts    Options
		want    string
		wantDir string
	}{
		{
			name: "flag wins",
			file: "name: fromfile\n",
			opts: Options{
				ProjectName: "fromflag",
				Environ:     []string{"COMPOSE_PROJECT_NAME=fromenv"},
			},
			want: "fromflag",
		},
		{
			name: "environment over file",
			file: "name: fromfile\n",
			opts: Options{Environ: []string{"COMPOSE_PROJECT_NAME=fromenv"}},
			want: "fromenv",
		},
		{
			name:   "dotenv over file",
			file:   "name: fromfile\n",
			dotEnv: "COMPOSE_PROJECT_NAME=fromdotenv\n",
			want:   "fromdotenv",
		},
		{
			name: "top-level name",
			file: "name: fromfile\n",
			want: "fromfile",
		},
		{
			name: "interpolated top-level name",
			file: "name: ${STAGE}-shop\n",
			opts: Options{Environ: []string{"STAGE=prod"}},
			want: "prod-shop",
		},
		{
			name: "directory name",
			want: "myapp",
		},
		{
			name:    "directory name normalized",
			wantDir: "My.App",
			want:    "myapp",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dirName := "myapp"
			if tc.wantDir != "" {
				dirName = tc.wantDir
			}
			files := map[string]string{dirName + "/compose.yaml": tc.file + webService}
			if tc.dotEnv != "" {
				files[dirName+"/.env"] = tc.dotEnv
			}
			opts := tc.opts
			opts.WorkingDir = filepath.Join(writeFiles(t, files), dirName)

			p := mustLoad(t, opts)

			if p.Name != tc.want {
				t.Errorf("Name = %s, want %s", p.Name, tc.want)
			}
			if p.Model.Name != tc.want {
				t.Errorf("Model.Name = %s, want %s", p.Model.Name, tc.want)
			}
		})
	}
}

func TestLoad_Environment(t *testing.T) {
	t.Parallel()
	const file = "services:\n  web:\n    image: ${REPO:-repo}/web:${TAG:-default}\n"
	cases := []struct {
		name  string
		files map[string]string
		opts  Options
		want  string
	}{
		{
			name:  "defaults",
			files: map[string]string{},
			want:  "repo/web:default",
		},
		{
			name:  "dotenv",
			files: map[string]string{".env": "TAG=dotenv\n"},
			want:  "repo/web:dotenv",
		},
		{
			name:  "environment over dotenv",
			files: map[string]string{".env": "TAG=dotenv\nREPO=dotrepo\n"},
			opts:  Options{Environ: []string{"TAG=environ"}},
			want:  "dotrepo/web:environ",
		},
		{
			name: "env-file replaces dotenv",
			files: map[string]string{
				".env":     "TAG=dotenv\nREPO=dotrepo\n",
				"prod.env": "TAG=prod\n",
			},
			opts: Options{EnvFiles: []string{"prod.env"}},
			want: "repo/web:prod",
		},
		{
			name: "later env-file wins",
			files: map[string]string{
				"base.env":  "TAG=base\nREPO=baserepo\n",
				"local.env": "TAG=local\n",
			},
			opts: Options{EnvFiles: []string{"base.env", "local.env"}},
			want: "baserepo/web:local",
		},
		{
			name:  "env-file refers to earlier value",
			files: map[string]string{"a.env": "BASE=x\n", "b.env": "TAG=${BASE}-y\n"},
			opts:  Options{EnvFiles: []string{"a.env", "b.env"}},
			want:  "repo/web:x-y",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.files["compose.yaml"] = file
			opts := tc.opts
			opts.WorkingDir = writeFiles(t, tc.files)

			p := mustLoad(t, opts)

			if got := p.Services[0].Config.Image; got != tc.want {
				t.Errorf("image = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestLoad_Profiles(t *testing.T) {
	t.Parallel()
	const file = `services:
  web:
    image: web:1
  debug:
    image: debug:1
    profiles: [debug]
  seed:
    image: seed:1
    profiles: [tools, debug]
`
	cases := []struct {
		name string
		opts Options
		want []string
	}{
		{name: "none", want: []string{"web"}},
		{
			name: "debug",
			opts: Options{Profiles: []string{"debug"}},
			want: []string{"debug", "seed", "web"},
		},
		{name: "tools", opts: Options{Profiles: []string{"tools"}}, want: []string{"seed", "web"}},
		{
			name: "all",
			opts: Options{Profiles: []string{"*"}},
			want: []string{"debug", "seed", "web"},
		},
		{
			name: "COMPOSE_PROFILES",
			opts: Options{Environ: []string{"COMPOSE_PROFILES=tools"}},
			want: []string{"seed", "web"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := tc.opts
			opts.WorkingDir = writeFiles(t, map[string]string{"compose.yaml": file})

			p := mustLoad(t, opts)

			if got := serviceNames(p.Services); !slices.Equal(got, tc.want) {
				t.Errorf("Services = %v, want %v", got, tc.want)
			}
			if got := p.Model.ServiceNames(); !slices.Equal(got, tc.want) {
				t.Errorf("Model.Services = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLoad_LocalOnly loads a service whose image exists nowhere and whose
// build context is a remote URL, with DOCKER_HOST aimed at a closed port:
// Load succeeds because it contacts neither the engine nor the network.
func TestLoad_LocalOnly(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"compose.yaml": `services:
  app:
    image: clusterctl-test/never-built:none
    build: https://127.0.0.1:1/context.git
`})

	p := mustLoad(t, Options{WorkingDir: dir, Environ: []string{"DOCKER_HOST=tcp://127.0.0.1:1"}})

	svc, ok := p.Service("app")
	if !ok {
		t.Fatal("service app not loaded")
	}
	if svc.Config.Image != "clusterctl-test/never-built:none" {
		t.Errorf("image = %s, want it as written", svc.Config.Image)
	}
	if svc.Config.Build.Context != "https://127.0.0.1:1/context.git" {
		t.Errorf("build context = %s, want it as written", svc.Config.Build.Context)
	}
}
