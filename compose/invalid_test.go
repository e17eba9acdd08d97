package compose

import (
	"path/filepath"
	"strings"
	"testing"
)

// invalidCase is one input that Load must reject with ErrInvalid.
type invalidCase struct {
	name string
	// compose is the content of compose.yaml, written when not empty.
	compose string
	// files are further files, keyed by slash-separated path.
	files map[string]string
	opts  Options
	// want are substrings of the error, with {file} replaced by the path of
	// compose.yaml and {dir} by the temporary directory.
	want []string
	// wantLine is the expected Line, or 0 to skip the check.
	wantLine int
}

func runInvalidCases(t *testing.T, cases []invalidCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{}
			for name, content := range tc.files {
				files[name] = content
			}
			if tc.compose != "" {
				files["compose.yaml"] = tc.compose
			}
			dir := writeFiles(t, files)
			opts := tc.opts
			opts.WorkingDir = dir

			_, err := load(t, opts)

			file := filepath.Join(dir, "compose.yaml")
			replacer := strings.NewReplacer("{file}", file, "{dir}", dir)
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = replacer.Replace(w)
			}
			invalid := requireInvalid(t, err, want...)
			if tc.wantLine != 0 && invalid.Line != tc.wantLine {
				t.Errorf("Line = %d, want %d", invalid.Line, tc.wantLine)
			}
		})
	}
}

const webService = "services:\n  web:\n    image: web:1\n"

func TestLoad_InvalidFiles(t *testing.T) {
	t.Parallel()
	runInvalidCases(t, []invalidCase{
		{
			name:  "no compose file",
			files: map[string]string{"README.md": "no compose file here\n"},
			want: []string{"no compose file found in {dir}", "compose.yaml", "compose.yml",
				"docker-compose.yml", "docker-compose.yaml", "-f"},
		},
		{
			name:    "missing -f file",
			compose: webService,
			opts:    Options{Files: []string{"prod.yaml"}},
			want:    []string{"{dir}/prod.yaml: compose file not found", "check the -f path"},
		},
		{
			name:  "-f directory",
			files: map[string]string{"conf/.keep": ""},
			opts:  Options{Files: []string{"conf"}},
			want:  []string{"{dir}/conf: the compose file is a directory", "-f"},
		},
		{
			name:    "stdin",
			compose: webService,
			opts:    Options{Files: []string{"-"}},
			want:    []string{"stdin", "not supported", "write it to a file"},
		},
		{
			name:    "missing COMPOSE_FILE file",
			compose: webService,
			opts:    Options{Environ: []string{"COMPOSE_FILE=nope.yaml"}},
			want:    []string{"{dir}/nope.yaml: compose file not found", "COMPOSE_FILE"},
		},
		{
			name:    "missing env file",
			compose: webService,
			opts:    Options{EnvFiles: []string{"prod.env"}},
			want:    []string{"{dir}/prod.env: env file not found", "--env-file"},
		},
		{
			name:    "unparsable dotenv",
			compose: webService,
			files:   map[string]string{".env": "TAG=1\nA B=1\n"},
			want: []string{"{dir}/.env: invalid env file: line 2: key cannot contain a space",
				"fix the file"},
		},
		{
			name:    "invalid project name",
			compose: webService,
			opts:    Options{ProjectName: "My Shop"},
			want:    []string{`invalid project name "My Shop"`, "lowercase"},
		},
	})
}

func TestLoad_InvalidCompose(t *testing.T) {
	t.Parallel()
	runInvalidCases(t, []invalidCase{
		{
			name: "invalid YAML",
			compose: `services:
  web:
    image: web:1
   ports: [
`,
			want:     []string{"{file}:4:4: invalid YAML", "did not find expected key", "line 4"},
			wantLine: 4,
		},
		{
			name: "duplicate key",
			compose: `services:
  web:
    image: a
    image: b
`,
			want: []string{"{file}:4:5:", "services.web.image is defined twice",
				"lines 3 and 4", "remove one"},
			wantLine: 4,
		},
		{
			name: "unknown top-level key",
			compose: `servics:
  web:
    image: web:1
`,
			want:     []string{"{file}:1:1:", `unknown top-level key "servics"`, "services", "x-"},
			wantLine: 1,
		},
		{
			name: "unknown top-level key in override file",
			files: map[string]string{
				"compose.yaml":          webService,
				"compose.override.yaml": "# local settings\nvolume:\n  data: {}\n",
			},
			want: []string{"{dir}/compose.override.yaml:2:1:",
				`unknown top-level key "volume"`},
			wantLine: 2,
		},
		{
			name:    "unknown key in included file",
			compose: "include:\n  - other.yaml\n" + webService,
			files:   map[string]string{"other.yaml": "servicess: {}\n"},
			want:    []string{"{dir}/other.yaml: unknown key servicess;"},
		},
		{
			name:  "empty file",
			files: map[string]string{"compose.yaml": "# nothing yet\n"},
			want:  []string{"{file}: the compose files define nothing; add a services section"},
		},
		{
			name:     "top level not a mapping",
			compose:  "- web\n",
			want:     []string{"{file}:1:1:", "must be a mapping"},
			wantLine: 1,
		},
		{
			name: "unknown service key",
			compose: `services:
  web:
    image: web:1
    imagee: x
`,
			want:     []string{"{file}:4:", "unknown key services.web.imagee", "spelling"},
			wantLine: 4,
		},
		{
			name: "unknown deploy key",
			compose: `services:
  web:
    image: web:1
    deploy:
      replica: 2
`,
			want:     []string{"{file}:5:", "unknown key services.web.deploy.replica"},
			wantLine: 5,
		},
		{
			name: "wrong compose type",
			compose: `services:
  web:
    image: web:1
    ports: 8080
`,
			want:     []string{"{file}:4:", "services.web.ports must be a list"},
			wantLine: 4,
		},
		{
			name: "required variable",
			compose: `services:
  web:
    image: web:1
    environment:
      PASSWORD: ${DB_PASSWORD:?set the database password}
`,
			want: []string{"{file}:5:", "required variable DB_PASSWORD has no value",
				"set the database password", "--env-file"},
			wantLine: 5,
		},
		{
			name: "required variable in override file",
			files: map[string]string{
				"compose.yaml":          webService,
				"compose.override.yaml": "services:\n  web:\n    image: web:${TAG?}\n",
			},
			want: []string{"{dir}/compose.override.yaml:3:", "required variable TAG",
				"services.web.image"},
			wantLine: 3,
		},
		{
			name: "missing build context",
			compose: `services:
  api:
    build: ./api
`,
			want: []string{"{file}:3:", "build context directory {dir}/api does not exist",
				"create it or fix the build path"},
			wantLine: 3,
		},
		{
			name: "build context is a file",
			compose: `services:
  api:
    build:
      context: Dockerfile
`,
			files: map[string]string{"Dockerfile": "FROM scratch\n"},
			want:  []string{"build context {dir}/Dockerfile is not a directory"},
		},
		{
			name: "neither image nor build",
			compose: `services:
  api:
    environment: [A=1]
`,
			want:     []string{"{file}:2:", "service api has neither image nor build", "set image:"},
			wantLine: 2,
		},
		{
			name:     "undefined dependency",
			compose:  "services:\n  api:\n    image: api:1\n    depends_on: [db]\n",
			want:     []string{"{file}:4:", "service api depends on db, which the file does not define", "remove it from depends_on"},
			wantLine: 4,
		},
		{
			name: "dependency behind a profile",
			compose: "services:\n  api:\n    image: api:1\n    depends_on: [db]\n" +
				"  db:\n    image: db:1\n    profiles: [data]\n",
			want:     []string{"{file}:4:", "service api depends on db, which is not enabled", "--profile"},
			wantLine: 4,
		},
		{
			name:     "invalid memory size",
			compose:  "services:\n  api:\n    image: api:1\n    mem_limit: lots\n",
			want:     []string{"{file}:4:", `services.api.mem_limit: "lots" is not a size`, "512m"},
			wantLine: 4,
		},
		{
			name: "two services on one host port",
			compose: "services:\n  one:\n    image: api:1\n    ports: [\"127.0.0.1:8080:80\"]\n" +
				"  two:\n    image: api:1\n    ports: [\"8080:80\"]\n",
			want:     []string{"{file}:7:", "services one and two both publish host port 8080/tcp", "another host port"},
			wantLine: 7,
		},
		{
			name:    "published port out of range",
			compose: "services:\n  api:\n    image: api:1\n    ports: [\"127.0.0.1:99999:80\"]\n",
			want:    []string{"{file}: published port 99999 is not a port", "from 1 to 65535"},
		},
	})
}

func TestLoad_InvalidInstances(t *testing.T) {
	t.Parallel()
	runInvalidCases(t, []invalidCase{
		{
			name:     "instances beyond the limit",
			compose:  "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      instances: 99999999999\n",
			want:     []string{"{file}:2:", "instance count 99999999999 of api is beyond the limit of 1000", "lower x-clusterctl.instances"},
			wantLine: 2,
		},
		{
			name:    "replicas beyond the limit",
			compose: "services:\n  api:\n    image: api:1\n    deploy:\n      replicas: 1001\n",
			want:    []string{"instance count 1001 of api is beyond the limit of 1000"},
		},
		{
			name:    "negative count beyond the limit",
			compose: "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      instances: -5000\n",
			want:    []string{"instance count -5000 of api is beyond the limit"},
		},
		{
			name: "container_name without front door",
			compose: `services:
  api:
    image: api:1
    container_name: api
    x-clusterctl:
      instances: 3
      proxy: false
`,
			want: []string{"{file}:4:", `container_name "api" cannot be used with instances: 3`,
				"each instance needs its own container name", "remove container_name", "-api-<slot>"},
			wantLine: 4,
		},
		{
			name: "container_name with front door",
			compose: `services:
  api:
    image: api:1
    container_name: api
    ports: ["8080:80"]
    deploy:
      replicas: 2
`,
			want: []string{"{file}:4:",
				"container_name cannot be used with deploy.replicas above 1",
				"each instance needs its own container name", "remove container_name"},
			wantLine: 4,
		},
		{
			name: "container_name with instances max",
			compose: `services:
  api:
    image: api:1
    container_name: api
    x-clusterctl:
      instances: max
`,
			want: []string{"cannot be used with instances: max"},
		},
		{
			name: "fixed host port without front door",
			compose: `services:
  api:
    image: api:1
    ports: ["8080:80"]
    x-clusterctl:
      instances: 2
      proxy: false
`,
			want: []string{"{file}:4:",
				"host port 8080 of port 8080:80/tcp would be published by every instance",
				"instances is 2", "remove x-clusterctl.proxy: false", `("80")`},
			wantLine: 4,
		},
		{
			name: "fixed host port with negative instances",
			compose: `x-clusterctl:
  proxy: false
services:
  api:
    image: api:1
    ports: ["127.0.0.1:9000:90"]
    x-clusterctl:
      instances: -1
`,
			want: []string{"host port 9000", "instances is -1"},
		},
		{
			name: "UDP port through front door",
			compose: `services:
  dns:
    image: dns:1
    ports: ["5353:53/udp"]
`,
			want: []string{"{file}:4:", "port 5353:53/udp uses UDP", "front door proxies TCP only",
				"x-clusterctl.proxy: false"},
			wantLine: 4,
		},
	})
}

func TestLoad_InvalidExtension(t *testing.T) {
	t.Parallel()
	service := func(extension string) string {
		return "services:\n  api:\n    image: api:1\n    x-clusterctl:\n" + extension
	}
	runInvalidCases(t, []invalidCase{
		{
			name:    "instances not a number",
			compose: service("      instances: abc\n"),
			want: []string{"{file}:5:",
				`"abc" is not a valid instance count for services.api.x-clusterctl.instances`,
				"max", "negative"},
			wantLine: 5,
		},
		{
			name:     "instances fraction",
			compose:  service("      instances: 1.5\n"),
			want:     []string{"1.5 is not a valid instance count"},
			wantLine: 5,
		},
		{
			name:    "ready port out of range",
			compose: service("      ready:\n        http: /healthz\n        port: 70000\n"),
			want: []string{"{file}:7:",
				"services.api.x-clusterctl.ready.port: port 70000 is out of range",
				"between 1 and 65535"},
			wantLine: 7,
		},
		{
			name:    "ready port missing",
			compose: service("      ready:\n        tcp: true\n"),
			want: []string{"{file}:5:", "services.api.x-clusterctl.ready.port is missing",
				"port: 8080"},
			wantLine: 5,
		},
		{
			name:    "ready without probe",
			compose: service("      ready:\n        port: 80\n"),
			want: []string{"services.api.x-clusterctl.ready needs a probe",
				"/healthz", "tcp: true"},
		},
		{
			name:    "ready http and tcp",
			compose: service("      ready: {http: /, tcp: true, port: 80}\n"),
			want:    []string{"sets both http and tcp"},
		},
		{
			name:    "ready http not a path",
			compose: service("      ready: {http: healthz, port: 80}\n"),
			want: []string{
				`services.api.x-clusterctl.ready.http: "healthz" must be a path starting with /`},
		},
		{
			name:    "unknown key",
			compose: service("      ready:\n        http: /healthz\n        prot: 8080\n"),
			want: []string{"{file}:7:", "unknown key services.api.x-clusterctl.ready.prot",
				"valid keys under services.api.x-clusterctl.ready are http, port, tcp and timeout"},
			wantLine: 7,
		},
		{
			name: "unknown top-level key",
			compose: `x-clusterctl:
  otel:
    endpoint: http://collector:4318
    exporter: otlp
services:
  api:
    image: api:1
`,
			want: []string{"{file}:4:", "unknown key x-clusterctl.otel.exporter",
				"enabled, endpoint, protocol and resource_attributes"},
			wantLine: 4,
		},
		{
			name:    "misspelt key",
			compose: service("      instance: 2\n"),
			want: []string{"unknown key services.api.x-clusterctl.instance;",
				"drain_timeout, instance_var, instances, min_uptime, otel, proxy and ready"},
			wantLine: 5,
		},
		{
			name: "unknown key in override file",
			files: map[string]string{
				"compose.yaml":          service("      instances: 2\n"),
				"compose.override.yaml": "services:\n  api:\n    x-clusterctl:\n      drain: 5s\n",
			},
			want: []string{"{dir}/compose.override.yaml:4:",
				"unknown key services.api.x-clusterctl.drain;"},
			wantLine: 4,
		},
		{
			name:    "not a mapping",
			compose: "services:\n  api:\n    image: api:1\n    x-clusterctl: 4\n",
			want:    []string{"services.api.x-clusterctl must be a mapping", "instances"},
		},
		{
			name:    "bad duration",
			compose: service("      min_uptime: 5 seconds\n"),
			want: []string{
				`"5 seconds" is not a valid duration for services.api.x-clusterctl.min_uptime`,
				`"1m30s"`},
		},
		{
			name:    "negative duration",
			compose: service("      drain_timeout: -5s\n"),
			want:    []string{"services.api.x-clusterctl.drain_timeout must not be negative"},
		},
		{
			name:    "bad otel protocol",
			compose: "x-clusterctl:\n  otel:\n    protocol: http\n" + webService,
			want: []string{`x-clusterctl.otel.protocol: "http" is not valid`,
				"grpc, http/protobuf or http/json"},
		},
		{
			name:    "bad otel endpoint",
			compose: "x-clusterctl:\n  otel:\n    endpoint: collector:4318\n" + webService,
			want: []string{`"collector:4318" is not an http or https URL`,
				"http://otel-collector:4318"},
		},
		{
			name: "bad resource attribute",
			compose: "x-clusterctl:\n  otel:\n    resource_attributes:\n      team: [a, b]\n" +
				webService,
			want: []string{"{file}:4:",
				"x-clusterctl.otel.resource_attributes.team must be a string, number or boolean, " +
					"not a list"},
			wantLine: 4,
		},
		{
			name:    "bad instance_var",
			compose: service("      instance_var: 1SLOT\n"),
			want:    []string{`"1SLOT" is not a valid environment variable name`},
		},
		{
			name:    "proxy true",
			compose: service("      proxy: true\n"),
			want: []string{"services.api.x-clusterctl.proxy: true is not a valid setting",
				"proxy: false"},
		},
		{
			name:    "bad proxy mode",
			compose: service("      proxy: {mode: udp}\n"),
			want: []string{
				`services.api.x-clusterctl.proxy.mode: "udp" is not valid; use http or tcp`},
		},
	})
}

// TestLoad_YAMLErrorLine checks the line and column of YAML syntax errors
// against the position an editor shows. go-yaml v4.0.0-rc.4 numbers the
// lines of parser errors from 0 and those of scanner errors from 1.
func TestLoad_YAMLErrorLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		content     string
		wantLine    int
		wantColumn  int
		wantMessage string
	}{
		{
			name:       "parser error",
			content:    "services:\n  web:\n    image: web:1\n   ports: [\n",
			wantLine:   4,
			wantColumn: 4,
			wantMessage: "did not find expected key, " +
				"while parsing a block mapping that starts at line 2, column 3",
		},
		{
			name:        "parser error on line 2",
			content:     "a:\n  b: 1\n c: 2\n",
			wantLine:    3,
			wantColumn:  2,
			wantMessage: "while parsing a block mapping that starts at line 1, column 1",
		},
		{
			name:        "scanner error",
			content:     "# é\nname: shop\nservices:\n  web:\n    image: web:1\n  api: : :\n",
			wantLine:    6,
			wantColumn:  8,
			wantMessage: "mapping values are not allowed in this context",
		},
		{
			name:        "tab indentation",
			content:     "services:\n\tweb:\n",
			wantLine:    2,
			wantColumn:  1,
			wantMessage: "found character that cannot start any token",
		},
		{
			name:        "second document",
			content:     "services: {}\n---\nservices: [\n",
			wantLine:    4,
			wantMessage: "did not find expected node content",
		},
		{
			name:        "CRLF line endings",
			content:     "services:\r\n  web:\r\n    image: web:1\r\n   ports: [\r\n",
			wantLine:    4,
			wantColumn:  4,
			wantMessage: "did not find expected key",
		},
		{
			name:        "control character",
			content:     "services:\n  web:\n    image: \"web\x01\"\n",
			wantLine:    3,
			wantColumn:  16,
			wantMessage: "control characters are not allowed",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"compose.yaml": tc.content})

			_, err := load(t, Options{WorkingDir: dir})

			file := filepath.Join(dir, "compose.yaml")
			invalid := requireInvalid(t, err, "invalid YAML", tc.wantMessage, file)
			if invalid.Line != tc.wantLine {
				t.Errorf("Line = %d, want %d: %v", invalid.Line, tc.wantLine, err)
			}
			if tc.wantColumn != 0 && invalid.Column != tc.wantColumn {
				t.Errorf("Column = %d, want %d: %v", invalid.Column, tc.wantColumn, err)
			}
		})
	}
}
