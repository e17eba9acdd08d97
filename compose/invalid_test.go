package compose

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad_Invalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		files    map[string]string
		opts     Options
		want     []string // substrings of the message, with {file} and {dir} replaced
		wantLine int
	}{
		{
			name:  "no compose file",
			files: map[string]string{"README.md": "no compose file here\n"},
			want: []string{"no compose file found in {dir}", "compose.yaml", "compose.yml",
				"docker-compose.yml", "docker-compose.yaml", "-f"},
		},
		{
			name:  "missing -f file",
			files: map[string]string{"compose.yaml": "services: {}\n"},
			opts:  Options{Files: []string{"prod.yaml"}},
			want:  []string{"{dir}/prod.yaml: compose file not found", "check the -f path"},
		},
		{
			name:  "-f directory",
			files: map[string]string{"conf/.keep": ""},
			opts:  Options{Files: []string{"conf"}},
			want:  []string{"{dir}/conf: the compose file is a directory", "-f"},
		},
		{
			name:  "stdin",
			files: map[string]string{"compose.yaml": "services: {}\n"},
			opts:  Options{Files: []string{"-"}},
			want:  []string{"stdin", "not supported", "write it to a file"},
		},
		{
			name:  "missing COMPOSE_FILE file",
			files: map[string]string{"compose.yaml": "services: {}\n"},
			opts:  Options{Environ: []string{"COMPOSE_FILE=nope.yaml"}},
			want:  []string{"{dir}/nope.yaml: compose file not found", "COMPOSE_FILE"},
		},
		{
			name:     "invalid YAML",
			files:    map[string]string{"compose.yaml": "services:\n  web:\n    image: web:1\n   ports: [\n"},
			want:     []string{"{file}:4:4: invalid YAML", "did not find expected key", "line 4"},
			wantLine: 4,
		},
		{
			name:     "duplicate key",
			files:    map[string]string{"compose.yaml": "services:\n  web:\n    image: a\n    image: b\n"},
			want:     []string{"{file}:4:5:", "services.web.image is defined twice", "lines 3 and 4", "remove one"},
			wantLine: 4,
		},
		{
			name:     "unknown top-level key",
			files:    map[string]string{"compose.yaml": "servics:\n  web:\n    image: web:1\n"},
			want:     []string{"{file}:1:1:", `unknown top-level key "servics"`, "services", "x-"},
			wantLine: 1,
		},
		{
			name: "unknown top-level key in override file",
			files: map[string]string{
				"compose.yaml":          "services:\n  web:\n    image: web:1\n",
				"compose.override.yaml": "# local settings\nvolume:\n  data: {}\n",
			},
			want:     []string{"{dir}/compose.override.yaml:2:1:", `unknown top-level key "volume"`},
			wantLine: 2,
		},
		{
			name: "unknown x-clusterctl key in override file",
			files: map[string]string{
				"compose.yaml":          "services:\n  web:\n    image: web:1\n    x-clusterctl:\n      instances: 2\n",
				"compose.override.yaml": "services:\n  web:\n    x-clusterctl:\n      drain: 5s\n",
			},
			want:     []string{"{dir}/compose.override.yaml:4:", "unknown key services.web.x-clusterctl.drain;"},
			wantLine: 4,
		},
		{
			name:     "top level not a mapping",
			files:    map[string]string{"compose.yaml": "- web\n"},
			want:     []string{"{file}:1:1:", "must be a mapping"},
			wantLine: 1,
		},
		{
			name:     "unknown service key",
			files:    map[string]string{"compose.yaml": "services:\n  web:\n    image: web:1\n    imagee: x\n"},
			want:     []string{"{file}:4:", "unknown key services.web.imagee", "spelling"},
			wantLine: 4,
		},
		{
			name:     "unknown deploy key",
			files:    map[string]string{"compose.yaml": "services:\n  web:\n    image: web:1\n    deploy:\n      replica: 2\n"},
			want:     []string{"{file}:5:", "unknown key services.web.deploy.replica"},
			wantLine: 5,
		},
		{
			name:     "wrong compose type",
			files:    map[string]string{"compose.yaml": "services:\n  web:\n    image: web:1\n    ports: 8080\n"},
			want:     []string{"{file}:4:", "services.web.ports must be a list"},
			wantLine: 4,
		},
		{
			name:     "required variable",
			files:    map[string]string{"compose.yaml": "services:\n  web:\n    image: web:1\n    environment:\n      PASSWORD: ${DB_PASSWORD:?set the database password}\n"},
			want:     []string{"{file}:5:", "required variable DB_PASSWORD has no value", "set the database password", "--env-file"},
			wantLine: 5,
		},
		{
			name:     "required variable in override file",
			files:    map[string]string{"compose.yaml": "services:\n  web:\n    image: web:1\n", "compose.override.yaml": "services:\n  web:\n    image: web:${TAG?}\n"},
			want:     []string{"{dir}/compose.override.yaml:3:", "required variable TAG", "services.web.image"},
			wantLine: 3,
		},
		{
			name:  "missing env file",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: web:1\n"},
			opts:  Options{EnvFiles: []string{"prod.env"}},
			want:  []string{"{dir}/prod.env: env file not found", "--env-file"},
		},
		{
			name:  "invalid project name",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: web:1\n"},
			opts:  Options{ProjectName: "My Shop"},
			want:  []string{`invalid project name "My Shop"`, "lowercase"},
		},
		{
			name:     "instances not a number",
			files:    map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      instances: abc\n"},
			want:     []string{"{file}:5:", `"abc" is not a valid instance count for services.api.x-clusterctl.instances`, "max", "negative"},
			wantLine: 5,
		},
		{
			name:     "instances fraction",
			files:    map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      instances: 1.5\n"},
			want:     []string{"1.5 is not a valid instance count"},
			wantLine: 5,
		},
		{
			name:     "ready port out of range",
			files:    map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      ready:\n        http: /healthz\n        port: 70000\n"},
			want:     []string{"{file}:7:", "services.api.x-clusterctl.ready.port: port 70000 is out of range", "between 1 and 65535"},
			wantLine: 7,
		},
		{
			name:     "ready port missing",
			files:    map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      ready:\n        tcp: true\n"},
			want:     []string{"{file}:5:", "services.api.x-clusterctl.ready.port is missing", "port: 8080"},
			wantLine: 5,
		},
		{
			name:  "ready without probe",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      ready:\n        port: 80\n"},
			want:  []string{"services.api.x-clusterctl.ready needs a probe", "/healthz", "tcp: true"},
		},
		{
			name:  "ready http and tcp",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      ready: {http: /, tcp: true, port: 80}\n"},
			want:  []string{"sets both http and tcp"},
		},
		{
			name:  "ready http not a path",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      ready: {http: healthz, port: 80}\n"},
			want:  []string{`services.api.x-clusterctl.ready.http: "healthz" must be a path starting with /`},
		},
		{
			name:     "unknown x-clusterctl key",
			files:    map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      ready:\n        http: /healthz\n        prot: 8080\n"},
			want:     []string{"{file}:7:", "unknown key services.api.x-clusterctl.ready.prot", "valid keys under services.api.x-clusterctl.ready are http, port, tcp and timeout"},
			wantLine: 7,
		},
		{
			name:     "unknown top-level x-clusterctl key",
			files:    map[string]string{"compose.yaml": "x-clusterctl:\n  otel:\n    endpoint: http://collector:4318\n    exporter: otlp\nservices:\n  api:\n    image: api:1\n"},
			want:     []string{"{file}:4:", "unknown key x-clusterctl.otel.exporter", "enabled, endpoint, protocol and resource_attributes"},
			wantLine: 4,
		},
		{
			name:     "misspelt x-clusterctl key",
			files:    map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      instance: 2\n"},
			want:     []string{"unknown key services.api.x-clusterctl.instance;", "drain_timeout, instance_var, instances, min_uptime, otel, proxy and ready"},
			wantLine: 5,
		},
		{
			name:  "x-clusterctl not a mapping",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl: 4\n"},
			want:  []string{"services.api.x-clusterctl must be a mapping", "instances"},
		},
		{
			name:  "bad duration",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      min_uptime: 5 seconds\n"},
			want:  []string{`"5 seconds" is not a valid duration for services.api.x-clusterctl.min_uptime`, `"1m30s"`},
		},
		{
			name:  "negative duration",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      drain_timeout: -5s\n"},
			want:  []string{"services.api.x-clusterctl.drain_timeout must not be negative"},
		},
		{
			name:  "bad otel protocol",
			files: map[string]string{"compose.yaml": "x-clusterctl:\n  otel:\n    protocol: http\nservices:\n  api:\n    image: api:1\n"},
			want:  []string{`x-clusterctl.otel.protocol: "http" is not valid`, "grpc, http/protobuf and http/json"},
		},
		{
			name:  "bad otel endpoint",
			files: map[string]string{"compose.yaml": "x-clusterctl:\n  otel:\n    endpoint: collector:4318\nservices:\n  api:\n    image: api:1\n"},
			want:  []string{`"collector:4318" is not an http or https URL`, "http://otel-collector:4318"},
		},
		{
			name:  "bad instance_var",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      instance_var: 1SLOT\n"},
			want:  []string{`"1SLOT" is not a valid environment variable name`},
		},
		{
			name:  "proxy true",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      proxy: true\n"},
			want:  []string{"services.api.x-clusterctl.proxy: true is not a valid setting", "proxy: false"},
		},
		{
			name:  "bad proxy mode",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    x-clusterctl:\n      proxy: {mode: udp}\n"},
			want:  []string{`services.api.x-clusterctl.proxy.mode: "udp" is not valid; use http and tcp`},
		},
		{
			name:     "container_name without front door",
			files:    map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    container_name: api\n    x-clusterctl:\n      instances: 3\n      proxy: false\n"},
			want:     []string{"{file}:4:", `container_name "api" cannot be used with instances: 3`, "each instance needs its own container name", "remove container_name", "-api-0"},
			wantLine: 4,
		},
		{
			name:  "container_name with front door",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    container_name: api\n    ports: [\"8080:80\"]\n    deploy:\n      replicas: 2\n"},
			want:  []string{"{file}:4:", "container_name cannot be used with deploy.replicas above 1", "each instance needs its own container name", "remove container_name"},
		},
		{
			name:  "container_name with instances max",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    container_name: api\n    x-clusterctl:\n      instances: max\n"},
			want:  []string{"cannot be used with instances: max"},
		},
		{
			name:     "fixed host port without front door",
			files:    map[string]string{"compose.yaml": "services:\n  api:\n    image: api:1\n    ports: [\"8080:80\"]\n    x-clusterctl:\n      instances: 2\n      proxy: false\n"},
			want:     []string{"{file}:4:", "host port 8080 of port 8080:80/tcp would be published by every instance", "instances is 2", "remove x-clusterctl.proxy: false", `("80")`},
			wantLine: 4,
		},
		{
			name:  "fixed host port with negative instances",
			files: map[string]string{"compose.yaml": "x-clusterctl:\n  proxy: false\nservices:\n  api:\n    image: api:1\n    ports: [\"127.0.0.1:9000:90\"]\n    x-clusterctl:\n      instances: -1\n"},
			want:  []string{"host port 9000", "instances is -1"},
		},
		{
			name:     "UDP port through front door",
			files:    map[string]string{"compose.yaml": "services:\n  dns:\n    image: dns:1\n    ports: [\"5353:53/udp\"]\n"},
			want:     []string{"{file}:4:", "port 5353:53/udp uses UDP", "front door proxies TCP only", "x-clusterctl.proxy: false"},
			wantLine: 4,
		},
		{
			name:     "missing build context",
			files:    map[string]string{"compose.yaml": "services:\n  api:\n    build: ./api\n"},
			want:     []string{"{file}:3:", "build context directory {dir}/api does not exist", "create it or fix the build path"},
			wantLine: 3,
		},
		{
			name:  "build context is a file",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    build:\n      context: Dockerfile\n", "Dockerfile": "FROM scratch\n"},
			want:  []string{"build context {dir}/Dockerfile is not a directory"},
		},
		{
			name:  "compose-go consistency error",
			files: map[string]string{"compose.yaml": "services:\n  api:\n    environment: [A=1]\n"},
			want:  []string{"{file}: service \"api\" has neither an image nor a build context specified"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, tc.files)
			opts := tc.opts
			opts.WorkingDir = dir

			_, err := load(t, opts)

			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				w = strings.ReplaceAll(w, "{file}", filepath.Join(dir, "compose.yaml"))
				want[i] = strings.ReplaceAll(w, "{dir}", dir)
			}
			invalid := requireInvalid(t, err, want...)
			if tc.wantLine != 0 && invalid.Line != tc.wantLine {
				t.Errorf("Line = %d, want %d", invalid.Line, tc.wantLine)
			}
		})
	}
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
			name:        "parser error",
			content:     "services:\n  web:\n    image: web:1\n   ports: [\n",
			wantLine:    4,
			wantColumn:  4,
			wantMessage: "did not find expected key, while parsing a block mapping that starts at line 2, column 3",
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"compose.yaml": tc.content})

			_, err := load(t, Options{WorkingDir: dir})

			invalid := requireInvalid(t, err, "invalid YAML", tc.wantMessage, filepath.Join(dir, "compose.yaml"))
			if invalid.Line != tc.wantLine {
				t.Errorf("Line = %d, want %d: %v", invalid.Line, tc.wantLine, err)
			}
			if tc.wantColumn != 0 && invalid.Column != tc.wantColumn {
				t.Errorf("Column = %d, want %d: %v", invalid.Column, tc.wantColumn, err)
			}
		})
	}
}
