package orchestrator

import (
	"slices"
	"strings"
	"testing"

	composetypes "github.com/compose-spec/compose-go/v2/types"

	"github.com/clusterctl/clusterctl/compose"
)

func ptr[T any](v T) *T { return &v }

func envMap(env []string) map[string]string {
	out := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

func attrMap(t testing.TB, value string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range DecodeAttributes(value) {
		if _, dup := out[a.Key]; dup {
			t.Errorf("attribute %s appears twice in %q", a.Key, value)
		}
		out[a.Key] = a.Value
	}
	return out
}

func testService(env map[string]*string) *compose.Service {
	return &compose.Service{
		Name:   "api",
		Config: composetypes.ServiceConfig{Name: "api", ContainerSpec: composetypes.ContainerSpec{Environment: env}},
		OTel: compose.OTel{
			Endpoint: "http://otel-collector:4318", Protocol: "http/protobuf", Enabled: true,
			ResourceAttributes: map[string]string{AttrDeploymentEnv: "production"},
		},
		InstanceVar: "NODE_APP_INSTANCE",
	}
}

func TestEnv_Injected(t *testing.T) {
	t.Parallel()
	svc := testService(nil)
	tmpl, warnings := NewEnvTemplate("shop", svc, "v2")
	if len(warnings) != 0 {
		t.Errorf("warnings = %v, want none", warnings)
	}
	env := envMap(tmpl.Instance(InstanceVars{Slot: 2, Count: 4, Name: "shop-api-2-abc", InstanceID: "id-2", Revision: "rev1"}))
	want := map[string]string{
		EnvServiceName: "api", EnvOTLPEndpoint: "http://otel-collector:4318", EnvOTLPProtocol: "http/protobuf",
		EnvProject: "shop", EnvService: "api", EnvInstance: "2", EnvInstances: "4", EnvRevision: "rev1",
		"NODE_APP_INSTANCE": "2",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if _, set := env[EnvSDKDisabled]; set {
		t.Errorf("%s is set although otel is enabled", EnvSDKDisabled)
	}
	attrs := attrMap(t, env[EnvResourceAttributes])
	wantAttrs := map[string]string{
		AttrServiceNamespace: "shop", AttrServiceInstanceID: "id-2", AttrServiceVersion: "v2",
		AttrContainerName: "shop-api-2-abc", AttrDeploymentEnv: "production",
	}
	for k, v := range wantAttrs {
		if attrs[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
		}
	}
}

func TestEnv_UserWinsExceptInstanceID(t *testing.T) {
	t.Parallel()
	svc := testService(map[string]*string{
		EnvServiceName:        ptr("custom-name"),
		EnvOTLPEndpoint:       ptr("http://elsewhere:4318"),
		EnvResourceAttributes: ptr("service.instance.id=mine,service.version=user-v,team=payments"),
		"UNSET":               nil,
	})
	tmpl, warnings := NewEnvTemplate("shop", svc, "v2")
	if len(warnings) != 1 || !strings.Contains(warnings[0], AttrServiceInstanceID) {
		t.Errorf("warnings = %v, want one about %s", warnings, AttrServiceInstanceID)
	}
	env := envMap(tmpl.Instance(InstanceVars{Slot: 0, Count: 1, Name: "n", InstanceID: "generated"}))
	if env[EnvServiceName] != "custom-name" {
		t.Errorf("%s = %q, want the user's value", EnvServiceName, env[EnvServiceName])
	}
	if env[EnvOTLPEndpoint] != "http://elsewhere:4318" {
		t.Errorf("%s = %q, want the user's value", EnvOTLPEndpoint, env[EnvOTLPEndpoint])
	}
	if _, set := env["UNSET"]; set {
		t.Error("a variable without a value was injected")
	}
	attrs := attrMap(t, env[EnvResourceAttributes])
	if attrs[AttrServiceInstanceID] != "generated" {
		t.Errorf("service.instance.id = %q, want the generated one", attrs[AttrServiceInstanceID])
	}
	if attrs[AttrServiceVersion] != "user-v" {
		t.Errorf("service.version = %q, want the user's", attrs[AttrServiceVersion])
	}
	if attrs["team"] != "payments" {
		t.Errorf("team = %q, want payments", attrs["team"])
	}
}

func TestEnv_UserSlotVariableKept(t *testing.T) {
	t.Parallel()
	svc := testService(map[string]*string{"NODE_APP_INSTANCE": ptr("fixed")})
	tmpl, warnings := NewEnvTemplate("shop", svc, "")
	if len(warnings) != 1 {
		t.Errorf("warnings = %v, want one", warnings)
	}
	env := tmpl.Instance(InstanceVars{Slot: 3, Count: 4})
	if got := envMap(env)["NODE_APP_INSTANCE"]; got != "fixed" {
		t.Errorf("NODE_APP_INSTANCE = %q, want the user's value", got)
	}
	count := 0
	for _, kv := range env {
		if strings.HasPrefix(kv, "NODE_APP_INSTANCE=") {
			count++
		}
	}
	if count != 1 {
		t.Errorf("NODE_APP_INSTANCE appears %d times, want 1", count)
	}
}

func TestEnv_Disabled(t *testing.T) {
	t.Parallel()
	svc := testService(nil)
	svc.OTel.Enabled = false
	tmpl, _ := NewEnvTemplate("shop", svc, "")
	if got := envMap(tmpl.Instance(InstanceVars{}))[EnvSDKDisabled]; got != "true" {
		t.Errorf("%s = %q, want true", EnvSDKDisabled, got)
	}
}

func TestEnv_SortedAndStable(t *testing.T) {
	t.Parallel()
	svc := testService(map[string]*string{"B": ptr("2"), "A": ptr("1")})
	first, _ := NewEnvTemplate("shop", svc, "v1")
	second, _ := NewEnvTemplate("shop", svc, "v1")
	if !slices.Equal(first.Vars, second.Vars) {
		t.Errorf("two templates differ: %v and %v", first.Vars, second.Vars)
	}
	if !slices.IsSorted(first.Vars) {
		t.Errorf("vars are not sorted: %v", first.Vars)
	}
}

func TestAttributes_Encoding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		value string
		want  string
	}{
		{"plain", "plain"},
		{"with space", "with%20space"},
		{"a,b", "a%2Cb"},
		{"k=v", "k=v"},
		{"semi;colon", "semi%3Bcolon"},
		{`quote"back\slash`, "quote%22back%5Cslash"},
		{"100%", "100%25"},
		{"héllo", "h%C3%A9llo"},
		{"tab\there", "tab%09here"},
	}
	for _, tc := range cases {
		got := EncodeAttributes([]Attribute{{"k", tc.value}})
		if got != "k="+tc.want {
			t.Errorf("encode %q = %q, want %q", tc.value, got, "k="+tc.want)
		}
		decoded := DecodeAttributes(got)
		if len(decoded) != 1 || decoded[0].Value != tc.value {
			t.Errorf("decode(encode(%q)) = %v", tc.value, decoded)
		}
	}
}

func TestAttributes_DecodeSkipsInvalidPairs(t *testing.T) {
	t.Parallel()
	got := DecodeAttributes(" a = 1 ,novalue,=x,b=2")
	want := []Attribute{{"a", "1"}, {"b", "2"}}
	if !slices.Equal(got, want) {
		t.Errorf("DecodeAttributes = %v, want %v", got, want)
	}
}

func TestMaskEnv(t *testing.T) {
	t.Parallel()
	got := MaskEnv([]string{"API_TOKEN=abc", "DB_PASSWORD=x", "PORT=8080", "OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer y", "EMPTY="})
	want := []string{"API_TOKEN=" + maskedValue, "DB_PASSWORD=" + maskedValue, "PORT=8080",
		"OTEL_EXPORTER_OTLP_HEADERS=" + maskedValue, "EMPTY="}
	if !slices.Equal(got, want) {
		t.Errorf("MaskEnv = %v, want %v", got, want)
	}
}
