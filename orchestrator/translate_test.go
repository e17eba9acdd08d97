package orchestrator

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/blkiodev"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/clusterctl/clusterctl/compose"
)

// translated is the outcome of NewTemplate for the first service of a
// compose file, loaded from a temporary project directory.
type translated struct {
	t        *testing.T
	dir      string
	tmpl     *Template
	warnings []string
}

// translate writes files (compose.yaml and any file it refers to) to a new
// project directory named proj, loads it and translates its service web.
func translate(t *testing.T, files map[string]string) (*translated, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "proj")
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := compose.Load(t.Context(), compose.Options{WorkingDir: dir, Environ: []string{"FROM_ENV=env-value"}})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	svc, ok := p.Service("web")
	if !ok {
		t.Fatal("the compose file has no service web")
	}
	tmpl, warnings, err := NewTemplate(p, svc, "sha256:img", "1.0")
	return &translated{t: t, dir: dir, tmpl: tmpl, warnings: warnings}, err
}

func mustTranslate(t *testing.T, service string, extra ...string) *translated {
	t.Helper()
	files := map[string]string{"compose.yaml": "name: shop\nservices:\n  web:\n    image: app:v1\n" + service +
		strings.Join(extra, "")}
	tr, err := translate(t, files)
	if err != nil {
		t.Fatalf("NewTemplate: %v", err)
	}
	return tr
}

func equal[T any](t *testing.T, field string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", field, got, want)
	}
}

func TestNewTemplate_Process(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		service string
		files   map[string]string
		check   func(t *testing.T, tr *translated)
	}{
		{
			name:    "string command and entrypoint",
			service: "    entrypoint: /worker --mode serve\n    command: run --port 80\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "Entrypoint", []string(tr.tmpl.Config.Entrypoint), []string{"/worker", "--mode", "serve"})
				equal(t, "Cmd", []string(tr.tmpl.Config.Cmd), []string{"run", "--port", "80"})
			},
		},
		{
			name:    "list command",
			service: "    command: [\"run\", \"a b\"]\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "Cmd", []string(tr.tmpl.Config.Cmd), []string{"run", "a b"})
				equal(t, "Entrypoint", len(tr.tmpl.Config.Entrypoint), 0)
			},
		},
		{
			name:    "empty entrypoint clears the image's",
			service: "    entrypoint: []\n",
			check: func(t *testing.T, tr *translated) {
				if tr.tmpl.Config.Entrypoint == nil || len(tr.tmpl.Config.Entrypoint) != 0 {
					t.Errorf("Entrypoint = %#v, want an empty, non-nil list", tr.tmpl.Config.Entrypoint)
				}
			},
		},
		{
			name: "user, working_dir, tty, stdin_open, domainname",
			service: "    user: \"10001:10001\"\n    working_dir: /srv\n    tty: true\n    stdin_open: true\n" +
				"    domainname: example.internal\n",
			check: func(t *testing.T, tr *translated) {
				cfg := tr.tmpl.Config
				equal(t, "User", cfg.User, "10001:10001")
				equal(t, "WorkingDir", cfg.WorkingDir, "/srv")
				equal(t, "Tty", cfg.Tty, true)
				equal(t, "OpenStdin", cfg.OpenStdin, true)
				equal(t, "Domainname", cfg.Domainname, "example.internal")
			},
		},
		{
			name:    "labels",
			service: "    labels:\n      team: core\n      tier: web\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "Labels", tr.tmpl.Config.Labels, map[string]string{"team": "core", "tier": "web"})
			},
		},
		{
			name: "environment and env_file",
			service: "    environment:\n      A: \"1\"\n      FROM_ENV:\n    env_file:\n      - path: ./app.env\n" +
				"      - path: ./missing.env\n        required: false\n",
			files: map[string]string{"app.env": "B=2\nA=from-file\n"},
			check: func(t *testing.T, tr *translated) {
				vars := tr.tmpl.Env.Vars
				for _, want := range []string{"A=1", "B=2", "FROM_ENV=env-value"} {
					if !slices.Contains(vars, want) {
						t.Errorf("Env.Vars = %v, want %s", vars, want)
					}
				}
			},
		},
		{
			name:    "platform",
			service: "    platform: linux/arm64/v8\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "Platform", tr.tmpl.Platform, "linux/arm64/v8")
				spec := tr.tmpl.Instance("shop", 0, 1, "id-0")
				equal(t, "InstanceSpec.Platform", spec.Platform, "linux/arm64/v8")
			},
		},
		{
			name:    "hostname and container_name on one instance",
			service: "    hostname: web-host\n    container_name: shop-web\n",
			check: func(t *testing.T, tr *translated) {
				spec := tr.tmpl.Instance("shop", 0, 1, "id-0")
				equal(t, "Hostname", spec.Config.Hostname, "web-host")
				equal(t, "Name", spec.Name, "shop-web")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{"compose.yaml": "name: shop\nservices:\n  web:\n    image: app:v1\n" + tc.service}
			for name, content := range tc.files {
				files[name] = content
			}
			tr, err := translate(t, files)
			if err != nil {
				t.Fatalf("NewTemplate: %v", err)
			}
			tc.check(t, tr)
		})
	}
}

func TestNewTemplate_Lifecycle(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		service string
		check   func(t *testing.T, tr *translated)
	}{
		{
			name:    "default restart policy",
			service: "",
			check: func(t *testing.T, tr *translated) {
				equal(t, "RestartPolicy", tr.tmpl.Host.RestartPolicy, container.RestartPolicy{Name: DefaultRestartPolicy})
			},
		},
		{
			name:    "restart no",
			service: "    restart: \"no\"\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "RestartPolicy", tr.tmpl.Host.RestartPolicy, container.RestartPolicy{Name: container.RestartPolicyDisabled})
			},
		},
		{
			name:    "restart on-failure with retries",
			service: "    restart: on-failure:4\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "RestartPolicy", tr.tmpl.Host.RestartPolicy,
					container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 4})
			},
		},
		{
			name:    "deploy restart_policy any wins over restart",
			service: "    restart: \"no\"\n    deploy:\n      restart_policy:\n        condition: any\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "RestartPolicy", tr.tmpl.Host.RestartPolicy, container.RestartPolicy{Name: container.RestartPolicyAlways})
			},
		},
		{
			name:    "deploy restart_policy none",
			service: "    deploy:\n      restart_policy:\n        condition: none\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "RestartPolicy", tr.tmpl.Host.RestartPolicy, container.RestartPolicy{Name: container.RestartPolicyDisabled})
			},
		},
		{
			name:    "deploy restart_policy on-failure with max_attempts",
			service: "    deploy:\n      restart_policy:\n        condition: on-failure\n        max_attempts: 5\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "RestartPolicy", tr.tmpl.Host.RestartPolicy,
					container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 5})
			},
		},
		{
			name:    "stop signal and grace period",
			service: "    stop_signal: SIGINT\n    stop_grace_period: 1500ms\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "StopSignal", tr.tmpl.Config.StopSignal, "SIGINT")
				equal(t, "StopTimeout", tr.tmpl.Config.StopTimeout, ptr(2))
			},
		},
		{
			name: "healthcheck timings",
			service: "    healthcheck:\n      test: [\"CMD\", \"/worker\", \"-healthcheck\"]\n      interval: 2s\n" +
				"      timeout: 1s\n      start_period: 5s\n      retries: 7\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "Healthcheck", tr.tmpl.Config.Healthcheck, &container.HealthConfig{
					Test: []string{"CMD", "/worker", "-healthcheck"}, Interval: 2 * time.Second,
					Timeout: time.Second, StartPeriod: 5 * time.Second, Retries: 7,
				})
			},
		},
		{
			name:    "healthcheck string test runs in a shell",
			service: "    healthcheck:\n      test: curl -f http://localhost\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "Healthcheck.Test", tr.tmpl.Config.Healthcheck.Test, []string{"CMD-SHELL", "curl -f http://localhost"})
			},
		},
		{
			name:    "healthcheck disable",
			service: "    healthcheck:\n      disable: true\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "Healthcheck", tr.tmpl.Config.Healthcheck, &container.HealthConfig{Test: []string{"NONE"}})
			},
		},
		{
			name:    "logging",
			service: "    logging:\n      driver: json-file\n      options:\n        max-size: 1m\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "LogConfig", tr.tmpl.Host.LogConfig,
					container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m"}})
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, mustTranslate(t, tc.service))
		})
	}
}

func TestNewTemplate_Resources(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		service string
		check   func(t *testing.T, res container.Resources)
	}{
		{
			name: "service-level cpu and memory keys",
			service: "    cpus: 1.5\n    cpu_shares: 512\n    cpu_period: 100000\n    cpu_quota: 50000\n" +
				"    cpuset: \"0\"\n    cpu_rt_period: 1000000\n    cpu_rt_runtime: 950000\n" +
				"    mem_limit: 256m\n    mem_reservation: 128m\n    memswap_limit: 512m\n    mem_swappiness: 10\n" +
				"    oom_kill_disable: true\n    pids_limit: 64\n    cgroup_parent: shop.slice\n",
			check: func(t *testing.T, res container.Resources) {
				equal(t, "NanoCPUs", res.NanoCPUs, int64(1.5e9))
				equal(t, "CPUShares", res.CPUShares, int64(512))
				equal(t, "CPUPeriod", res.CPUPeriod, int64(100000))
				equal(t, "CPUQuota", res.CPUQuota, int64(50000))
				equal(t, "CpusetCpus", res.CpusetCpus, "0")
				equal(t, "CPURealtimePeriod", res.CPURealtimePeriod, int64(1000000))
				equal(t, "CPURealtimeRuntime", res.CPURealtimeRuntime, int64(950000))
				equal(t, "Memory", res.Memory, int64(256<<20))
				equal(t, "MemoryReservation", res.MemoryReservation, int64(128<<20))
				equal(t, "MemorySwap", res.MemorySwap, int64(512<<20))
				equal(t, "MemorySwappiness", res.MemorySwappiness, ptr(int64(10)))
				equal(t, "OomKillDisable", res.OomKillDisable, ptr(true))
				equal(t, "PidsLimit", res.PidsLimit, ptr(int64(64)))
				equal(t, "CgroupParent", res.CgroupParent, "shop.slice")
			},
		},
		{
			name: "deploy limits and reservations",
			service: "    deploy:\n      resources:\n        limits:\n          cpus: \"0.5\"\n          memory: 64M\n" +
				"          pids: 32\n        reservations:\n          memory: 32M\n          devices:\n" +
				"            - driver: nvidia\n              count: 1\n              capabilities: [gpu]\n",
			check: func(t *testing.T, res container.Resources) {
				equal(t, "NanoCPUs", res.NanoCPUs, int64(0.5e9))
				equal(t, "Memory", res.Memory, int64(64<<20))
				equal(t, "PidsLimit", res.PidsLimit, ptr(int64(32)))
				equal(t, "MemoryReservation", res.MemoryReservation, int64(32<<20))
				equal(t, "DeviceRequests", res.DeviceRequests, []container.DeviceRequest{
					{Driver: "nvidia", Count: 1, Capabilities: [][]string{{"gpu"}}}})
			},
		},
		{
			name:    "gpus",
			service: "    gpus: all\n",
			check: func(t *testing.T, res container.Resources) {
				equal(t, "DeviceRequests", res.DeviceRequests, []container.DeviceRequest{
					{Count: -1, Capabilities: [][]string{{"gpu"}}}})
			},
		},
		{
			name:    "devices and CDI devices",
			service: "    devices:\n      - /dev/fuse:/dev/fuse:rwm\n      - vendor.com/gpu=all\n    device_cgroup_rules: [\"c 1:3 mr\"]\n",
			check: func(t *testing.T, res container.Resources) {
				equal(t, "Devices", res.Devices, []container.DeviceMapping{
					{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"}})
				equal(t, "DeviceRequests", res.DeviceRequests, []container.DeviceRequest{
					{Driver: "cdi", DeviceIDs: []string{"vendor.com/gpu=all"}}})
				equal(t, "DeviceCgroupRules", res.DeviceCgroupRules, []string{"c 1:3 mr"})
			},
		},
		{
			name:    "ulimits sorted",
			service: "    ulimits:\n      nproc: 512\n      nofile:\n        soft: 1024\n        hard: 2048\n",
			check: func(t *testing.T, res container.Resources) {
				equal(t, "Ulimits", res.Ulimits, []*container.Ulimit{
					{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "nproc", Soft: 512, Hard: 512}})
			},
		},
		{
			name: "blkio_config",
			service: "    blkio_config:\n      weight: 300\n      weight_device:\n        - path: /dev/sda\n          weight: 400\n" +
				"      device_read_bps:\n        - path: /dev/sda\n          rate: 1mb\n" +
				"      device_write_iops:\n        - path: /dev/sda\n          rate: 100\n",
			check: func(t *testing.T, res container.Resources) {
				equal(t, "BlkioWeight", res.BlkioWeight, uint16(300))
				equal(t, "BlkioWeightDevice", res.BlkioWeightDevice, []*blkiodev.WeightDevice{{Path: "/dev/sda", Weight: 400}})
				equal(t, "BlkioDeviceReadBps", res.BlkioDeviceReadBps, []*blkiodev.ThrottleDevice{{Path: "/dev/sda", Rate: 1 << 20}})
				equal(t, "BlkioDeviceWriteIOps", res.BlkioDeviceWriteIOps, []*blkiodev.ThrottleDevice{{Path: "/dev/sda", Rate: 100}})
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, mustTranslate(t, tc.service).tmpl.Host.Resources)
		})
	}
}

func TestNewTemplate_Security(t *testing.T) {
	t.Parallel()
	tr := mustTranslate(t, "    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    security_opt:\n      - no-new-privileges:true\n"+
		"      - systempaths=unconfined\n    read_only: true\n    privileged: true\n    init: true\n"+
		"    sysctls:\n      net.core.somaxconn: 1024\n    group_add: [audio]\n    oom_score_adj: -200\n"+
		"    shm_size: 64m\n    ipc: shareable\n    pid: host\n    uts: host\n    cgroup: private\n"+
		"    userns_mode: host\n    isolation: default\n    runtime: runc\n    storage_opt:\n      size: 1G\n")
	host := tr.tmpl.Host

	equal(t, "CapAdd", []string(host.CapAdd), []string{"NET_ADMIN"})
	equal(t, "CapDrop", []string(host.CapDrop), []string{"ALL"})
	equal(t, "SecurityOpt", host.SecurityOpt, []string{"no-new-privileges:true"})
	equal(t, "MaskedPaths", host.MaskedPaths, []string{})
	equal(t, "ReadonlyPaths", host.ReadonlyPaths, []string{})
	equal(t, "ReadonlyRootfs", host.ReadonlyRootfs, true)
	equal(t, "Privileged", host.Privileged, true)
	equal(t, "Init", host.Init, ptr(true))
	equal(t, "Sysctls", host.Sysctls, map[string]string{"net.core.somaxconn": "1024"})
	equal(t, "GroupAdd", host.GroupAdd, []string{"audio"})
	equal(t, "OomScoreAdj", host.OomScoreAdj, -200)
	equal(t, "ShmSize", host.ShmSize, int64(64<<20))
	equal(t, "IpcMode", host.IpcMode, container.IpcMode("shareable"))
	equal(t, "PidMode", host.PidMode, container.PidMode("host"))
	equal(t, "UTSMode", host.UTSMode, container.UTSMode("host"))
	equal(t, "CgroupnsMode", host.CgroupnsMode, container.CgroupnsMode("private"))
	equal(t, "UsernsMode", host.UsernsMode, container.UsernsMode("host"))
	equal(t, "Isolation", host.Isolation, container.Isolation("default"))
	equal(t, "Runtime", host.Runtime, "runc")
	equal(t, "StorageOpt", host.StorageOpt, map[string]string{"size": "1G"})
}

func TestNewTemplate_SeccompProfileInline(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"compose.yaml": "services:\n  web:\n    image: app:v1\n    security_opt: [\"seccomp:./profile.json\"]\n",
		"profile.json": "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n",
	}
	tr, err := translate(t, files)
	if err != nil {
		t.Fatalf("NewTemplate: %v", err)
	}

	equal(t, "SecurityOpt", tr.tmpl.Host.SecurityOpt, []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`})
}

func TestNewTemplate_Network(t *testing.T) {
	t.Parallel()
	const networks = "networks:\n  front: {}\n  back: {}\n"
	cases := []struct {
		name    string
		service string
		extra   string
		check   func(t *testing.T, tr *translated)
	}{
		{
			name: "dns, extra_hosts and host-gateway",
			service: "    dns: [10.0.0.2]\n    dns_search: [example.internal]\n    dns_opt: [\"ndots:2\"]\n" +
				"    extra_hosts:\n      - \"db.local=10.0.0.5\"\n      - \"host.docker.internal:host-gateway\"\n",
			check: func(t *testing.T, tr *translated) {
				host := tr.tmpl.Host
				equal(t, "DNS", host.DNS, []string{"10.0.0.2"})
				equal(t, "DNSSearch", host.DNSSearch, []string{"example.internal"})
				equal(t, "DNSOptions", host.DNSOptions, []string{"ndots:2"})
				equal(t, "ExtraHosts", host.ExtraHosts, []string{"db.local:10.0.0.5", "host.docker.internal:host-gateway"})
			},
		},
		{
			name: "several networks with aliases, static addresses and priority",
			service: "    networks:\n      front:\n        aliases: [web-alias]\n      back:\n        priority: 10\n" +
				"        ipv4_address: 172.30.0.10\n        link_local_ips: [169.254.1.1]\n" +
				"        driver_opts:\n          com.example.opt: \"1\"\n",
			extra: networks,
			check: func(t *testing.T, tr *translated) {
				front, back := tr.tmpl.Networks["shop_front"], tr.tmpl.Networks["shop_back"]
				if front == nil || back == nil {
					t.Fatalf("Networks = %v, want shop_front and shop_back", tr.tmpl.Networks)
				}
				equal(t, "front.Aliases", front.Aliases, []string{"web", "web-alias"})
				equal(t, "back.IPAMConfig", back.IPAMConfig, &network.EndpointIPAMConfig{
					IPv4Address: "172.30.0.10", LinkLocalIPs: []string{"169.254.1.1"}})
				equal(t, "back.DriverOpts", back.DriverOpts, map[string]string{"com.example.opt": "1"})
				spec := tr.tmpl.Instance("shop", 0, 1, "id-0")
				equal(t, "primary network", spec.Network, "shop_back")
				equal(t, "extra networks", slices.Sorted(maps.Keys(spec.ExtraNetwork)), []string{"shop_front"})
			},
		},
		{
			name:    "mac_address on the primary network",
			service: "    mac_address: 02:42:ac:11:00:02\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "MacAddress", tr.tmpl.Config.MacAddress, "02:42:ac:11:00:02") //nolint:staticcheck // API 1.41 field
			},
		},
		{
			name:    "network_mode none",
			service: "    network_mode: none\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "NetworkMode", tr.tmpl.Host.NetworkMode, container.NetworkMode("none"))
				equal(t, "Networks", len(tr.tmpl.Networks), 0)
				spec := tr.tmpl.Instance("shop", 0, 1, "id-0")
				equal(t, "spec.Network", spec.Network, "")
			},
		},
		{
			name:    "network_mode service",
			service: "    network_mode: service:db\n",
			extra:   "  db:\n    image: app:v1\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "NetworkMode", tr.tmpl.Host.NetworkMode, container.NetworkMode("service:db"))
			},
		},
		{
			name:    "links and external_links",
			service: "    links: [\"db:database\", cache]\n    external_links: [\"legacy-db:olddb\", other]\n",
			extra:   "  db:\n    image: app:v1\n  cache:\n    image: app:v1\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "ServiceLinks", tr.tmpl.ServiceLinks, []string{"db:database", "cache:cache"})
				equal(t, "Links", tr.tmpl.Networks["shop_default"].Links, []string{"legacy-db:olddb", "other:other"})
			},
		},
		{
			name:    "ports on instances without a front door",
			service: "    ports:\n      - \"127.0.0.1::80\"\n      - \"5353:53/udp\"\n    x-clusterctl:\n      proxy: false\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "PortBindings", tr.tmpl.Host.PortBindings, nat.PortMap{
					"80/tcp": {{HostIP: "127.0.0.1"}}, "53/udp": {{HostPort: "5353"}}})
				equal(t, "Aliases", tr.tmpl.Networks["shop_default"].Aliases, []string{"web"})
			},
		},
		{
			name:    "ports through a front door",
			service: "    ports: [\"8080:80\"]\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "PortBindings", len(tr.tmpl.Host.PortBindings), 0)
				equal(t, "Aliases", len(tr.tmpl.Networks["shop_default"].Aliases), 0)
			},
		},
		{
			name:    "network aliases go to the front door",
			service: "    ports: [\"8080:80\"]\n    networks:\n      default:\n        aliases: [shop-api]\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "instance Aliases", len(tr.tmpl.Networks["shop_default"].Aliases), 0)
			},
		},
		{
			name:    "expose with a range",
			service: "    expose: [\"3000-3001\", \"9000/udp\"]\n",
			check: func(t *testing.T, tr *translated) {
				equal(t, "ExposedPorts", tr.tmpl.Config.ExposedPorts, nat.PortSet{
					"3000/tcp": {}, "3001/tcp": {}, "9000/udp": {}})
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, mustTranslate(t, tc.service, tc.extra))
		})
	}
}

func TestNewTemplate_Storage(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"compose.yaml": `name: shop
services:
  web:
    image: app:v1
    volumes:
      - data:/data:nocopy
      - ./conf:/etc/app:ro,z
      - ./shared:/shared:Z,rshared
      - /var/log/app:/logs
      - type: bind
        source: ./strict
        target: /strict
        read_only: true
        bind:
          create_host_path: false
          propagation: rslave
      - type: tmpfs
        target: /scratch
        tmpfs:
          size: 1048576
          mode: 0o1777
      - type: volume
        source: data
        target: /labelled
        volume:
          labels: {tier: cold}
    tmpfs: ["/run:size=1m,mode=755", /cache]
    secrets:
      - token
      - source: token
        target: custom/token
    configs:
      - settings
      - source: settings
        target: /etc/app.conf
    volumes_from: ["db:ro", "container:legacy"]
  db:
    image: app:v1
volumes:
  data:
    name: shop-data
secrets:
  token:
    file: ./token.txt
configs:
  settings:
    file: ./settings.ini
`,
		"token.txt":    "s3cret\n",
		"settings.ini": "a=1\n",
	}
	tr, err := translate(t, files)
	if err != nil {
		t.Fatalf("NewTemplate: %v", err)
	}
	host := tr.tmpl.Host
	dir := tr.dir

	equal(t, "Binds", host.Binds, []string{
		dir + "/conf:/etc/app:ro,z",
		dir + "/shared:/shared:rw,Z,rshared",
		"/var/log/app:/logs:rw",
	})
	equal(t, "Mounts", host.Mounts, []mount.Mount{
		{Type: mount.TypeVolume, Source: "shop-data", Target: "/data", VolumeOptions: &mount.VolumeOptions{NoCopy: true}},
		{Type: mount.TypeBind, Source: dir + "/strict", Target: "/strict", ReadOnly: true,
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRSlave}},
		{Type: mount.TypeTmpfs, Target: "/scratch", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o1777}},
		{Type: mount.TypeVolume, Source: "shop-data", Target: "/labelled",
			VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{"tier": "cold"}}},
		{Type: mount.TypeBind, Source: dir + "/settings.ini", Target: "/etc/app.conf", ReadOnly: true},
		{Type: mount.TypeBind, Source: dir + "/token.txt", Target: "/run/secrets/custom/token", ReadOnly: true},
		{Type: mount.TypeBind, Source: dir + "/token.txt", Target: "/run/secrets/token", ReadOnly: true},
		{Type: mount.TypeBind, Source: dir + "/settings.ini", Target: "/settings", ReadOnly: true},
	})
	equal(t, "Tmpfs", host.Tmpfs, map[string]string{"/run": "size=1m,mode=755", "/cache": ""})
	equal(t, "VolumesFrom", host.VolumesFrom, []string{"db:ro", "container:legacy"})
}

func TestNewTemplate_Warnings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		service string
		want    string
	}{
		{"start_interval", "    healthcheck:\n      test: [\"CMD\", \"/x\"]\n      start_interval: 1s\n",
			`service "web": healthcheck.start_interval is not applied, because Docker API 1.41 has no start interval`},
		{"max_attempts with any", "    deploy:\n      restart_policy:\n        condition: any\n        max_attempts: 3\n",
			`service "web": deploy.restart_policy.max_attempts is not applied: Docker takes a retry count only with condition: on-failure and rejects it with always`},
		{"restart delay", "    deploy:\n      restart_policy:\n        delay: 5s\n",
			`service "web": deploy.restart_policy.delay is not applied`},
		{"restart window", "    deploy:\n      restart_policy:\n        window: 30s\n",
			`service "web": deploy.restart_policy.window is not applied`},
		{"cpu reservation", "    deploy:\n      resources:\n        reservations:\n          cpus: \"1\"\n",
			`service "web": deploy.resources.reservations.cpus is not applied`},
		{"placement", "    deploy:\n      placement:\n        constraints: [node.role==manager]\n",
			`service "web": deploy.placement is not applied`},
		{"deploy labels", "    deploy:\n      labels: {a: b}\n",
			`service "web": deploy.labels are not applied`},
		{"deploy mode global", "    deploy:\n      mode: global\n",
			`service "web": deploy.mode "global" is not applied`},
		{"endpoint_mode", "    deploy:\n      endpoint_mode: dnsrr\n",
			`service "web": deploy.endpoint_mode is not applied`},
		{"develop", "    develop:\n      watch:\n        - action: rebuild\n          path: .\n",
			`service "web": develop is not applied: clusterctl has no watch mode`},
		{"post_start", "    post_start:\n      - command: [\"/x\"]\n",
			`service "web": post_start is not applied: clusterctl runs no lifecycle hooks`},
		{"pre_stop", "    pre_stop:\n      - command: [\"/x\"]\n",
			`service "web": pre_stop is not applied`},
		{"use_api_socket", "    use_api_socket: true\n",
			`service "web": use_api_socket is not applied`},
		{"credential_spec", "    credential_spec:\n      file: spec.json\n",
			`service "web": credential_spec is not applied`},
		{"annotations", "    annotations:\n      a: b\n",
			`service "web": annotations needs Docker API 1.43 or later`},
		{"interface_name", "    networks:\n      default:\n        interface_name: eth5\n",
			`service "web": networks.default.interface_name is not applied`},
		{"gw_priority", "    networks:\n      default:\n        gw_priority: 5\n",
			`service "web": networks.default.gw_priority needs Docker API 1.48 or later`},
		{"secret mode", "    secrets:\n      - source: token\n        mode: 0400\nsecrets:\n  token:\n    file: ./compose.yaml\n",
			`service "web": secrets token: uid, gid and mode are not applied`},
		{"selinux with the Mount API", "    volumes:\n      - type: bind\n        source: /tmp\n        target: /t\n" +
			"        bind:\n          create_host_path: false\n          selinux: z\n",
			`service "web": volumes /t: selinux "z" is not applied`},
		{"volume subpath", "    volumes:\n      - type: volume\n        source: data\n        target: /d\n" +
			"        volume:\n          subpath: sub\nvolumes:\n  data: {}\n",
			`service "web": volumes /d: subpath needs Docker API 1.45 or later`},
		{"generic resources", "    deploy:\n      resources:\n        reservations:\n          generic_resources:\n" +
			"            - discrete_resource_spec: {kind: gpu, value: 2}\n",
			`service "web": deploy.resources.reservations.generic_resources is not applied`},
		{"links with network_mode", "    network_mode: none\n    external_links: [x]\n",
			`service "web": links and external_links are not applied with network_mode "none"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := mustTranslate(t, tc.service)
			if !slices.ContainsFunc(tr.warnings, func(w string) bool { return strings.HasPrefix(w, tc.want) }) {
				t.Errorf("warnings = %q, want one that starts with %q", tr.warnings, tc.want)
			}
		})
	}
}

func TestNewTemplate_NoWarningsForAppliedFields(t *testing.T) {
	t.Parallel()
	tr := mustTranslate(t, "    command: [\"serve\"]\n    cap_add: [NET_ADMIN]\n    restart: always\n"+
		"    deploy:\n      replicas: 2\n      resources:\n        limits:\n          memory: 64M\n"+
		"      restart_policy:\n        condition: on-failure\n        max_attempts: 2\n")

	if len(tr.warnings) != 0 {
		t.Errorf("warnings = %q, want none", tr.warnings)
	}
}

func TestNewTemplate_Errors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name: "missing secret file",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: app:v1\n    secrets: [token]\n" +
				"secrets:\n  token:\n    file: ./token.txt\n"},
			want: []string{"services.web.secrets: the file", "token.txt of token does not exist", "create it"},
		},
		{
			name: "missing seccomp profile",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: app:v1\n" +
				"    security_opt: [\"seccomp=./nope.json\"]\n"},
			want: []string{"services.web.security_opt: cannot read the seccomp profile ./nope.json"},
		},
		{
			name: "seccomp profile not JSON",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: app:v1\n" +
				"    security_opt: [\"seccomp=./p.json\"]\n", "p.json": "{"},
			want: []string{"the seccomp profile ./p.json is not valid JSON"},
		},
		{
			name: "image volume",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: app:v1\n    volumes:\n" +
				"      - type: image\n        source: app:v1\n        target: /img\n"},
			want: []string{`volume /img has type "image"`, "use bind, volume or tmpfs"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := translate(t, tc.files)
			if !errors.Is(err, compose.ErrInvalid) {
				t.Fatalf("err = %v, want one that matches compose.ErrInvalid", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestFrontDoorSpec_NetworkAliases(t *testing.T) {
	t.Parallel()
	files := map[string]string{"compose.yaml": "name: shop\nservices:\n  web:\n    image: app:v1\n" +
		"    ports: [\"8080:80\"]\n    networks:\n      default:\n        aliases: [shop-api]\n"}
	dir := filepath.Join(t.TempDir(), "proj")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(files["compose.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(t.Context(), compose.Options{WorkingDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	spec := newFrontDoorSpec(p, &p.Services[0], "clusterctl-tool:any")

	equal(t, "front door Aliases", spec.Endpoint.Aliases, []string{"web", "shop-api"})
}

func TestFrontDoorSpec_TwoHostPortsOneTarget(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "proj")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := "name: shop\nservices:\n  web:\n    image: app:v1\n" +
		"    ports: [\"127.0.0.1:8080:80\", \"127.0.0.1:8081:80\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(t.Context(), compose.Options{WorkingDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	spec := newFrontDoorSpec(p, &p.Services[0], "clusterctl-tool:any")

	equal(t, "front door Cmd", []string(spec.Config.Cmd), []string{"frontdoor", "serve", "--mode", "http",
		"--socket", AdminSocket, "--service", "web", "--port", "80"})
	equal(t, "front door PortBindings", spec.Host.PortBindings, nat.PortMap{"80/tcp": {
		{HostIP: "127.0.0.1", HostPort: "8080"}, {HostIP: "127.0.0.1", HostPort: "8081"}}})
}

func TestServiceFields_AllClassified(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, field := range serviceFieldList() {
		seen[field.Name] = true
		if _, ok := serviceFields[field.Name]; !ok {
			t.Errorf("types.ServiceConfig.%s (%s) is neither translated nor warned about; "+
				"translate it in NewTemplate or add it to serviceFields with a reason", field.Name, yamlKey(field))
		}
	}
	for name, use := range serviceFields {
		if !seen[name] {
			t.Errorf("serviceFields lists %s, which types.ServiceConfig no longer has", name)
		}
		if !use.applied && use.warning == "" && use.reason == "" {
			t.Errorf("serviceFields[%s] gives no reason for not applying it", name)
		}
	}
}

// TestServiceFields_WarnedFieldsWarn sets each warned field to a non-zero
// value and checks that NewTemplate names it.
func TestServiceFields_WarnedFieldsWarn(t *testing.T) {
	t.Parallel()
	for _, field := range serviceFieldList() {
		use := serviceFields[field.Name]
		if use.warning == "" {
			continue
		}
		t.Run(field.Name, func(t *testing.T) {
			t.Parallel()
			p := testProject(1, false)
			svc := &p.Services[0]
			cfg := reflect.ValueOf(&svc.Config).Elem()
			setNonZero(t, cfg.FieldByIndex(field.Index))

			_, warnings, err := NewTemplate(p, svc, "sha256:img", "")
			if err != nil {
				t.Fatalf("NewTemplate: %v", err)
			}
			want := `service "web": ` + yamlKey(field) + " " + use.warning
			if !slices.Contains(warnings, want) {
				t.Errorf("warnings = %q, want %q", warnings, want)
			}
		})
	}
}

// setNonZero gives v a non-zero value of its type.
func setNonZero(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Uint32:
		v.Set(reflect.ValueOf(1).Convert(v.Type()))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.ValueOf("x").Convert(v.Type().Key()), reflect.Zero(v.Type().Elem()))
		v.Set(m)
	default:
		t.Fatalf("setNonZero: no value for kind %s", v.Kind())
	}
}
