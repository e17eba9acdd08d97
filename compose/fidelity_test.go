package compose

import (
	"strings"
	"testing"
)

func TestLoad_InvalidForSeveralInstances(t *testing.T) {
	t.Parallel()
	runInvalidCases(t, []invalidCase{
		{
			name: "hostname",
			compose: `services:
  api:
    image: api:1
    hostname: api-host
    x-clusterctl:
      instances: 2
`,
			want: []string{"{file}:4:", `hostname "api-host" cannot be used with instances: 2`,
				"same host name", "remove hostname", "container ID"},
			wantLine: 4,
		},
		{
			name: "ipv4_address",
			compose: `services:
  api:
    image: api:1
    networks:
      back:
        ipv4_address: 172.30.0.10
    x-clusterctl:
      instances: max
networks:
  back: {}
`,
			want: []string{"{file}:6:", "networks.back.ipv4_address 172.30.0.10 cannot be used with instances: max",
				"only one container can hold an address", `service name "api"`},
			wantLine: 6,
		},
		{
			name: "ipv6_address",
			compose: `services:
  api:
    image: api:1
    networks:
      back:
        ipv6_address: fd00::10
    deploy:
      replicas: 3
networks:
  back: {}
`,
			want: []string{"networks.back.ipv6_address fd00::10 cannot be used with instances: 3"},
		},
		{
			name: "service mac_address",
			compose: `services:
  api:
    image: api:1
    mac_address: 02:42:ac:11:00:02
    x-clusterctl:
      instances: -1
`,
			want: []string{"{file}:4:", "mac_address 02:42:ac:11:00:02 cannot be used with instances: -1",
				"remove mac_address"},
			wantLine: 4,
		},
		{
			name: "network mac_address",
			compose: `services:
  api:
    image: api:1
    networks:
      default:
        mac_address: 02:42:ac:11:00:03
    x-clusterctl:
      instances: 2
`,
			want:     []string{"{file}:6:", "mac_address 02:42:ac:11:00:03 cannot be used with instances: 2"},
			wantLine: 6,
		},
		{
			name: "host port range smaller than the count",
			compose: `services:
  api:
    image: api:1
    ports: ["127.0.0.1:8000-8001:80"]
    x-clusterctl:
      instances: 3
      proxy: false
`,
			want: []string{"{file}:4:", "host port range 8000-8001 of port 127.0.0.1:8000-8001:80/tcp has 2 ports",
				"runs 3 instances", "widen the range to at least 3 ports", `("80")`},
			wantLine: 4,
		},
	})
}

func TestLoad_SingleInstanceKeepsFixedValues(t *testing.T) {
	t.Parallel()
	const content = `services:
  api:
    image: api:1
    hostname: api-host
    mac_address: 02:42:ac:11:00:02
    ports: ["8000-8001:80"]
    networks:
      back:
        ipv4_address: 172.30.0.10
    x-clusterctl:
      instances: 1
      proxy: false
networks:
  back: {}
`
	svc := loadService(t, content, "api")

	if svc.Config.Hostname != "api-host" {
		t.Errorf("hostname = %q, want api-host", svc.Config.Hostname)
	}
	if got := svc.Config.Networks["back"].Ipv4Address; got != "172.30.0.10" {
		t.Errorf("ipv4_address = %q, want 172.30.0.10", got)
	}
}

func TestLoad_HostPortRangeWideEnough(t *testing.T) {
	t.Parallel()
	const content = `services:
  api:
    image: api:1
    ports: ["8000-8002:80"]
    x-clusterctl:
      instances: 3
      proxy: false
`
	svc := loadService(t, content, "api")

	if err := CheckInstanceCount(svc, 3); err != nil {
		t.Errorf("CheckInstanceCount(3) = %v, want nil", err)
	}
	requireInvalid(t, CheckInstanceCount(svc, 4), "has 3 ports", "runs 4 instances")
}

func TestProject_SetInstancesRejectsFixedValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		service string
		want    []string
	}{
		{name: "container_name", service: "    container_name: shop-api\n",
			want: []string{`container_name "shop-api" cannot be used with instances: 3`, "remove container_name"}},
		{name: "hostname", service: "    hostname: api-host\n",
			want: []string{`hostname "api-host" cannot be used with instances: 3`}},
		{name: "fixed host port", service: "    ports: [\"8080:80\"]\n    x-clusterctl:\n      proxy: false\n",
			want: []string{"host port 8080 of port 8080:80/tcp would be published by every instance",
				"instances is 3"}},
		{name: "mac_address", service: "    mac_address: 02:42:ac:11:00:02\n",
			want: []string{"mac_address 02:42:ac:11:00:02 cannot be used with instances: 3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := loadCompose(t, "services:\n  api:\n    image: api:1\n"+tc.service)

			err := p.SetInstances("api", InstanceCount{Fixed: 3})

			invalid := requireInvalid(t, err, tc.want...)
			if !strings.HasSuffix(invalid.File, "compose.yaml") {
				t.Errorf("File = %q, want the compose file", invalid.File)
			}
			svc, _ := p.Service("api")
			if svc.Instances.Fixed != 1 {
				t.Errorf("instances = %s after the rejected scale, want 1", svc.Instances)
			}
		})
	}
}

func TestProject_SetInstancesToOneKeepsFixedValues(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, "services:\n  api:\n    image: api:1\n    container_name: shop-api\n")

	if err := p.SetInstances("api", InstanceCount{Fixed: 1}); err != nil {
		t.Fatalf("SetInstances(1) = %v, want nil", err)
	}
	if err := p.SetInstances("api", InstanceCount{Fixed: 0}); err != nil {
		t.Errorf("SetInstances(0) = %v, want nil", err)
	}
}

func TestLoad_InvalidServiceSettings(t *testing.T) {
	t.Parallel()
	runInvalidCases(t, []invalidCase{
		{
			name:     "retry count with always",
			compose:  "services:\n  api:\n    image: api:1\n    restart: always:3\n",
			want:     []string{"{file}:4:", `restart "always:3" sets a retry count`, "only with on-failure", "on-failure:3"},
			wantLine: 4,
		},
		{
			name:    "unknown restart policy",
			compose: "services:\n  api:\n    image: api:1\n    restart: sometimes\n",
			want:    []string{`restart "sometimes" is not a restart policy`, "unless-stopped"},
		},
		{
			name:    "bad retry count",
			compose: "services:\n  api:\n    image: api:1\n    restart: on-failure:many\n",
			want:    []string{`restart "on-failure:many" has an invalid retry count`},
		},
		{
			name:     "unknown stop signal",
			compose:  "services:\n  api:\n    image: api:1\n    stop_signal: SIGFOO\n",
			want:     []string{"{file}:4:", `stop_signal "SIGFOO" is not a signal`, "SIGTERM"},
			wantLine: 4,
		},
		{
			name:    "stop signal out of range",
			compose: "services:\n  api:\n    image: api:1\n    stop_signal: \"99\"\n",
			want:    []string{`stop_signal "99" is not a signal`, "from 1 to 64"},
		},
		{
			name: "unknown failure action",
			compose: "services:\n  api:\n    image: api:1\n    deploy:\n      update_config:\n" +
				"        failure_action: explode\n",
			want:     []string{"{file}:6:", `failure_action "explode" is not valid in update_config`, "rollback, pause or continue"},
			wantLine: 6,
		},
		{
			name: "negative monitor",
			compose: "services:\n  api:\n    image: api:1\n    deploy:\n      update_config:\n" +
				"        monitor: -5s\n",
			want:     []string{"{file}:6:", "monitor -5s is negative"},
			wantLine: 6,
		},
		{
			name: "negative delay",
			compose: "services:\n  api:\n    image: api:1\n    deploy:\n      rollback_config:\n" +
				"        delay: -1s\n",
			want: []string{"delay -1s is negative"},
		},
		{
			name: "failure ratio above 1",
			compose: "services:\n  api:\n    image: api:1\n    deploy:\n      update_config:\n" +
				"        max_failure_ratio: 1.5\n",
			want: []string{"max_failure_ratio 1.5 is out of range", "from 0 to 1"},
		},
		{
			name: "rollback in rollback_config",
			compose: "services:\n  api:\n    image: api:1\n    deploy:\n      rollback_config:\n" +
				"        failure_action: rollback\n",
			want: []string{`failure_action "rollback" is not valid in rollback_config`, "pause or continue"},
		},
		{
			name:     "network_mode with a front door",
			compose:  "services:\n  api:\n    image: api:1\n    network_mode: host\n    ports: [\"8080:80\"]\n",
			want:     []string{"{file}:4:", `network_mode "host" cannot be used with a front door`, "proxy: false"},
			wantLine: 4,
		},
		{
			name: "network_mode with a ready probe",
			compose: `services:
  api:
    image: api:1
    network_mode: none
    x-clusterctl:
      ready: {tcp: true, port: 80}
`,
			want: []string{`network_mode "none" cannot be used with x-clusterctl.ready`, "use a healthcheck"},
		},
		{
			name: "secret from an unset variable",
			compose: `services:
  api:
    image: api:1
    secrets: [token]
secrets:
  token:
    environment: TOKEN
`,
			want: []string{"{file}:4:", `secret "token" takes its value from the environment variable TOKEN, which is not set`,
				".env file"},
			wantLine: 4,
		},
		{
			name: "external secret",
			compose: `services:
  api:
    image: api:1
    secrets: [token]
secrets:
  token:
    external: true
`,
			want: []string{`secret "token" is external`, "Docker Swarm"},
		},
		{
			name: "bind propagation",
			compose: `services:
  api:
    image: api:1
    volumes:
      - type: bind
        source: ./data
        target: /data
        bind: {propagation: sideways}
`,
			want: []string{`bind propagation "sideways" is not valid`, "rshared"},
		},
	})
}

func TestLoad_ShellOperatorsInCommand(t *testing.T) {
	t.Parallel()
	runInvalidCases(t, []invalidCase{
		{
			name:    "and operator",
			compose: "services:\n  api:\n    image: api:1\n    command: npm ci && npm start\n",
			want: []string{"{file}:4:", `services.api.command "npm ci && npm start" contains the shell operator "&&"`,
				`drops everything from "&&" on, so the container would run only "npm ci"`,
				`["sh", "-c", "npm ci && npm start"]`, "YAML list"},
			wantLine: 4,
		},
		{
			name:    "background ampersand",
			compose: "services:\n  api:\n    image: api:1\n    command: serve &\n",
			want:    []string{`the shell operator "&"`, `would run only "serve"`},
		},
		{
			name:    "ampersand in a URL",
			compose: "services:\n  api:\n    image: api:1\n    command: fetch --url=http://x/?a=1&b=2\n",
			want:    []string{`the shell operator "&"`, `would run only "fetch --url=http://x/?a=1"`, "YAML list"},
		},
		{
			name:    "or operator",
			compose: "services:\n  api:\n    image: api:1\n    command: start || exit 1\n",
			want:    []string{`the shell operator "||"`},
		},
		{
			name:    "pipe",
			compose: "services:\n  api:\n    image: api:1\n    command: cat log | grep x\n",
			want:    []string{`the shell operator "|"`},
		},
		{
			name:    "semicolon",
			compose: "services:\n  api:\n    image: api:1\n    command: migrate; serve\n",
			want:    []string{`the shell operator ";"`},
		},
		{
			name:    "append redirect",
			compose: "services:\n  api:\n    image: api:1\n    command: serve >> /log\n",
			want:    []string{`the shell operator ">>"`},
		},
		{
			name:    "stderr redirect",
			compose: "services:\n  api:\n    image: api:1\n    command: serve 2>/dev/null\n",
			want:    []string{`the shell operator "2>"`},
		},
		{
			name:    "input redirect",
			compose: "services:\n  api:\n    image: api:1\n    command: load < dump.sql\n",
			want:    []string{`the shell operator "<"`},
		},
		{
			name:    "command substitution",
			compose: "services:\n  api:\n    image: api:1\n    command: serve --id $$(hostname)\n",
			want:    []string{`the shell operator "$("`, `the program would receive "$(" as an argument`},
		},
		{
			name:    "backticks in double quotes",
			compose: "services:\n  api:\n    image: api:1\n    command: 'serve --id \"`hostname`\"'\n",
			want:    []string{"the shell operator \"`\""},
		},
		{
			name:    "entrypoint",
			compose: "services:\n  api:\n    image: api:1\n    entrypoint: /init > /dev/null\n",
			want:    []string{`services.api.entrypoint "/init > /dev/null" contains the shell operator ">"`},
		},
		{
			name: "string command behind a shell entrypoint",
			compose: `services:
  api:
    image: api:1
    entrypoint: ["sh", "-c"]
    command: migrate && serve
`,
			want: []string{`one-element list, command: ["migrate && serve"]`},
		},
		{
			name: "override file wins",
			files: map[string]string{
				"compose.override.yaml": "services:\n  api:\n    command: a && b\n",
			},
			compose: "services:\n  api:\n    image: api:1\n    command: serve\n",
			want:    []string{"compose.override.yaml:3:", `the shell operator "&&"`},
		},
	})
}

func TestLoad_CommandsWithoutShellOperators(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"shell wrapped":       `sh -c "npm ci && npm start"`,
		"bash -ec":            `/bin/bash -ec 'a | b'`,
		"env shell":           `env sh -c 'a; b'`,
		"quoted operator":     `grep "a|b" file`,
		"single quoted":       `echo 'a && b'`,
		"escaped operator":    `echo a \; b`,
		"interpolated":        `serve --port ${PORT:-80}`,
		"no operator":         `serve --port 80`,
		"flag with equals":    `serve --level=debug`,
		"list form elsewhere": `serve`,
	}
	for name, command := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			content := "services:\n  api:\n    image: api:1\n    command: " + quoteYAML(command) + "\n"
			svc := loadService(t, content, "api")
			if len(svc.Config.Command) == 0 {
				t.Errorf("command = %q, want it split into words", svc.Config.Command)
			}
		})
	}
}

func TestLoad_CommandListWithOperatorsAccepted(t *testing.T) {
	t.Parallel()
	svc := loadService(t, "services:\n  api:\n    image: api:1\n    command: [\"echo\", \"a && b\", \"|\"]\n", "api")

	if got := strings.Join(svc.Config.Command, " "); got != "echo a && b |" {
		t.Errorf("command = %q, want the list as written", got)
	}
}

// quoteYAML writes s as a single-quoted YAML scalar.
func quoteYAML(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func TestLoad_VolumeModes(t *testing.T) {
	t.Parallel()
	runInvalidCases(t, []invalidCase{
		{
			name:     "unknown mode",
			compose:  "services:\n  api:\n    image: api:1\n    volumes:\n      - ./data:/data:rx\n",
			want:     []string{"{file}:5:", `volume "./data:/data:rx" has the unknown mode "rx"`, "ro, rw, z, Z, nocopy"},
			wantLine: 5,
		},
		{
			name:    "unknown mode among known ones",
			compose: "services:\n  api:\n    image: api:1\n    volumes:\n      - data:/data:ro,nocopy,fast\nvolumes:\n  data: {}\n",
			want:    []string{`has the unknown mode "fast"`},
		},
	})

	known := []string{"ro", "rw", "z", "Z", "ro,z", "rw,Z,rshared", "nocopy", "cached", "delegated",
		"consistent", "shared", "slave", "private", "rslave", "rprivate", "${MODE:-ro}"}
	for _, mode := range known {
		t.Run("known "+mode, func(t *testing.T) {
			t.Parallel()
			content := "services:\n  api:\n    image: api:1\n    volumes:\n      - ./data:/data:" + mode + "\n"
			svc := loadService(t, content, "api")
			if len(svc.Config.Volumes) != 1 {
				t.Errorf("volumes = %+v, want one", svc.Config.Volumes)
			}
		})
	}
}

func TestSplitVolume(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"./a:/b:ro":               {"./a", "/b", "ro"},
		"${DIR:-/tmp}:/b:z":       {"${DIR:-/tmp}", "/b", "z"},
		`C:\data:/b:ro`:           {`C:\data`, "/b", "ro"},
		"data:/b":                 {"data", "/b"},
		"/b":                      {"/b"},
		"${A:-x}:${B:-/y}:${C:-}": {"${A:-x}", "${B:-/y}", "${C:-}"},
	}
	for spec, want := range cases {
		if got := splitVolume(spec); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("splitVolume(%q) = %q, want %q", spec, got, want)
		}
	}
}
