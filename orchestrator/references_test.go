package orchestrator

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	composetypes "github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/clusterctl/clusterctl/compose"
)

// runContainer creates and starts a container with labels in the fake.
func runContainer(t *testing.T, engine *fakeEngine, name string, labels map[string]string) string {
	t.Helper()
	created, err := engine.ContainerCreate(t.Context(), &container.Config{Labels: labels}, &container.HostConfig{},
		&network.NetworkingConfig{}, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.ContainerStart(t.Context(), created.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	return created.ID
}

func instanceLabels(service, slot, role string) map[string]string {
	return map[string]string{LabelProject: "shop", LabelService: service, LabelInstance: slot, LabelRole: role}
}

func TestResolveReferences(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	runContainer(t, engine, "shop-db-1-aaaaaa", instanceLabels("db", "1", RoleInstance))
	db0 := runContainer(t, engine, "shop-db-0-bbbbbb", instanceLabels("db", "0", RoleInstance))
	runContainer(t, engine, "shop-cache-frontdoor", instanceLabels("cache", "", RoleFrontDoor))
	runContainer(t, engine, "shop-cache-0-cccccc", instanceLabels("cache", "0", RoleInstance))

	spec := InstanceSpec{
		Name: "shop-web-0-dddddd",
		Host: &container.HostConfig{NetworkMode: "service:db", IpcMode: "service:db", PidMode: "host",
			VolumesFrom: []string{"db:ro", "container:legacy", "db"}},
		Endpoint:     &network.EndpointSettings{Links: []string{"old:old"}},
		ExtraNetwork: map[string]*network.EndpointSettings{"shop_back": {}},
		ServiceLinks: []string{"cache:kv", "db:database"},
	}
	if err := o.resolveReferences(t.Context(), "shop", &spec, false); err != nil {
		t.Fatalf("resolveReferences: %v", err)
	}

	equal(t, "NetworkMode", spec.Host.NetworkMode, container.NetworkMode("container:"+db0))
	equal(t, "IpcMode", spec.Host.IpcMode, container.IpcMode("container:"+db0))
	equal(t, "PidMode", spec.Host.PidMode, container.PidMode("host"))
	equal(t, "VolumesFrom", spec.Host.VolumesFrom, []string{db0 + ":ro", "legacy", db0})
	equal(t, "Endpoint.Links", spec.Endpoint.Links,
		[]string{"old:old", "shop-cache-frontdoor:kv", "shop-db-0-bbbbbb:database"})
	equal(t, "extra Links", spec.ExtraNetwork["shop_back"].Links,
		[]string{"shop-cache-frontdoor:kv", "shop-db-0-bbbbbb:database"})
}

func TestResolveReferences_ServiceNotRunning(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	spec := InstanceSpec{Name: "shop-web-0-dddddd", Host: &container.HostConfig{NetworkMode: "service:db"}}

	err := o.resolveReferences(t.Context(), "shop", &spec, false)

	if err == nil {
		t.Fatal("err = nil, want an error for a service without a running instance")
	}
	for _, want := range []string{"network_mode service:db", "service db has no running instance", "clusterctl up db"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q: %v", want, err)
		}
	}
}

func TestCreateContainer_NetworkModeAndPlatform(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	host := &container.HostConfig{NetworkMode: "none"}

	id, err := o.createContainer(t.Context(), "shop-web-0-aaaaaa", &container.Config{}, host, "", nil, nil, "linux/arm64/v8")
	if err != nil {
		t.Fatalf("createContainer: %v", err)
	}

	c := engine.containers[id]
	equal(t, "NetworkMode", c.host.NetworkMode, container.NetworkMode("none"))
	equal(t, "networks", len(c.networks), 0)
	equal(t, "platform", c.platform, &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})
}

func TestMoveMACAddress(t *testing.T) {
	t.Parallel()
	cases := []struct {
		version             string
		wantConfig, wantEnd string
	}{
		{version: "1.41", wantConfig: "02:42:ac:11:00:02"},
		{version: "1.44", wantEnd: "02:42:ac:11:00:02"},
	}
	for _, tc := range cases {
		cfg := &container.Config{MacAddress: "02:42:ac:11:00:02"} //nolint:staticcheck // API 1.41 field
		endpoint := &network.EndpointSettings{}

		moveMACAddress(tc.version, cfg, endpoint)

		equal(t, "API "+tc.version+" Config.MacAddress", cfg.MacAddress, tc.wantConfig) //nolint:staticcheck // API 1.41 field
		equal(t, "API "+tc.version+" endpoint MacAddress", endpoint.MacAddress, tc.wantEnd)
	}
}

func TestParsePlatform(t *testing.T) {
	t.Parallel()
	equal(t, "empty", parsePlatform(""), (*ocispec.Platform)(nil))
	equal(t, "os only", parsePlatform("linux"), &ocispec.Platform{OS: "linux"})
	equal(t, "os and arch", parsePlatform("linux/amd64"), &ocispec.Platform{OS: "linux", Architecture: "amd64"})
}

func TestUp_HostPortRangeSmallerThanResolvedCount(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(0, false)
	p.ComposeFiles = []string{"/shop/compose.yaml"}
	p.Services[0].Instances = compose.InstanceCount{Max: true}
	p.Services[0].Config.Ports = []composetypes.ServicePortConfig{{Target: 80, Published: "8000-8001", Protocol: "tcp"}}

	err := o.Up(t.Context(), p, UpOptions{})

	if !errors.Is(err, compose.ErrInvalid) {
		t.Fatalf("err = %v, want one that matches compose.ErrInvalid", err)
	}
	for _, want := range []string{"/shop/compose.yaml: ", "has 2 ports", "runs 4 instances"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q: %v", want, err)
		}
	}
	equal(t, "containers", len(engine.names()), 0)
}

func TestNewTemplate_InjectedSecretsAndConfigs(t *testing.T) {
	t.Parallel()
	const service = `    secrets:
      - token
      - source: token
        target: api-token
        uid: "10001"
        gid: "10001"
        mode: 0o400
    configs:
      - settings
`
	const definitions = `secrets:
  token:
    environment: FROM_ENV
configs:
  settings:
    content: "a=1"
`
	tr := mustTranslate(t, service, definitions)

	equal(t, "Files", tr.tmpl.Files, []InjectedFile{
		{Kind: "secrets", Name: "token", Target: "/run/secrets/token", Mode: 0o444},
		{Kind: "secrets", Name: "token", Target: "/run/secrets/api-token", Mode: 0o400, UID: 10001, GID: 10001},
		{Kind: "configs", Name: "settings", Target: "/settings", Mode: 0o444},
	})
	equal(t, "Mounts", len(tr.tmpl.Host.Mounts), 0)
	if strings.Contains(tr.tmpl.Spec(), "env-value") {
		t.Errorf("the template JSON contains the secret's value: %s", tr.tmpl.Spec())
	}
	if len(tr.warnings) != 0 {
		t.Errorf("warnings = %q, want none: uid, gid and mode apply to copied files", tr.warnings)
	}
}

func TestNewTemplate_InjectedSecretOnReadOnlyRootfs(t *testing.T) {
	t.Parallel()
	files := map[string]string{"compose.yaml": "services:\n  web:\n    image: app:v1\n    read_only: true\n" +
		"    secrets: [token]\nsecrets:\n  token:\n    environment: FROM_ENV\n"}

	_, err := translate(t, files)

	if !errors.Is(err, compose.ErrInvalid) {
		t.Fatalf("err = %v, want one that matches compose.ErrInvalid", err)
	}
	for _, want := range []string{"services.web.secrets", "read_only: true forbids", "file:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q: %v", want, err)
		}
	}
}

func TestCreateInstanceContainer_CopiesInjectedFiles(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(1, false)
	p.Model.Environment = composetypes.Mapping{"TOKEN": "s3cret"}
	p.Model.Secrets = composetypes.Secrets{"token": {Environment: "TOKEN"}}
	p.Model.Configs = composetypes.Configs{"settings": {Content: "a=1"}}
	spec := InstanceSpec{Name: "shop-web-0-aaaaaa", Config: &container.Config{}, Host: &container.HostConfig{},
		Network: "shop_default", Endpoint: &network.EndpointSettings{},
		Files: []InjectedFile{
			{Kind: "secrets", Name: "token", Target: "/run/secrets/token", Mode: 0o400, UID: 10001},
			{Kind: "configs", Name: "settings", Target: "/settings", Mode: 0o444},
		}}

	id, err := o.createInstanceContainer(t.Context(), p, spec, false)
	if err != nil {
		t.Fatalf("createInstanceContainer: %v", err)
	}

	c := engine.containers[id]
	if len(c.copied) != 1 || c.copied[0].dst != "/" {
		t.Fatalf("copies = %+v, want one archive to /", c.copied)
	}
	entries := readTar(t, c.copied[0].archive)
	equal(t, "entries", entries, []tarEntry{
		{name: "run/secrets/token", mode: 0o400, uid: 10001, content: "s3cret"},
		{name: "settings", mode: 0o444, content: "a=1"},
	})
}

func TestCreateInstanceContainer_MissingValueRemovesContainer(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(1, false)
	p.Model.Secrets = composetypes.Secrets{"token": {Environment: "TOKEN"}}
	spec := InstanceSpec{Name: "shop-web-0-aaaaaa", Config: &container.Config{}, Host: &container.HostConfig{},
		Network: "shop_default", Endpoint: &network.EndpointSettings{},
		Files: []InjectedFile{{Kind: "secrets", Name: "token", Target: "/run/secrets/token", Mode: 0o400}}}

	_, err := o.createInstanceContainer(t.Context(), p, spec, false)

	if err == nil || !strings.Contains(err.Error(), "environment variable TOKEN, which is not set") {
		t.Errorf("err = %v, want one that names the unset variable", err)
	}
	equal(t, "containers", len(engine.names()), 0)
}

type tarEntry struct {
	name     string
	mode     int64
	uid, gid int
	content  string
}

func readTar(t *testing.T, data []byte) []tarEntry {
	t.Helper()
	var entries []tarEntry
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		header, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, tarEntry{name: header.Name, mode: header.Mode, uid: header.Uid, gid: header.Gid,
			content: string(content)})
	}
}
