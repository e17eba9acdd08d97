package orchestrator

import (
	"slices"
	"strings"
	"testing"

	composetypes "github.com/compose-spec/compose-go/v2/types"
)

func TestMaskEnv_SecretKeysAndURLPasswords(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"API_TOKEN=abc", "API_TOKEN=" + maskedValue},
		{"STRIPE_SECRET=abc", "STRIPE_SECRET=" + maskedValue},
		{"DB_PASSWORD=abc", "DB_PASSWORD=" + maskedValue},
		{"MYSQL_ROOT_PASSWORD_FILE=/run/secrets/x", "MYSQL_ROOT_PASSWORD_FILE=" + maskedValue},
		{"AWS_SECRET_ACCESS_KEY=abc", "AWS_SECRET_ACCESS_KEY=" + maskedValue},
		{"SIGNING_KEY=abc", "SIGNING_KEY=" + maskedValue},
		{"api_key=abc", "api_key=" + maskedValue},
		{"DB_PASS=abc", "DB_PASS=" + maskedValue},
		{"GPG_PASSPHRASE=abc", "GPG_PASSPHRASE=" + maskedValue},
		{"DATABASE_DSN=app:s3cret@tcp(db:3306)/app", "DATABASE_DSN=" + maskedValue},
		{"SENTRY_DSN=https://publickey@o1.ingest.sentry.io/1", "SENTRY_DSN=" + maskedValue},
		{"GITHUB_PAT=ghp_abc", "GITHUB_PAT=" + maskedValue},
		{"PAT=ghp_abc", "PAT=" + maskedValue},
		{"SESSION_JWT=eyJ", "SESSION_JWT=" + maskedValue},
		{"PATH=/usr/bin", "PATH=/usr/bin"},
		{"PATTERN=a*", "PATTERN=a*"},
		{"PLAIN=hello", "PLAIN=hello"},
		{"PORT=8080", "PORT=8080"},
		{"DATABASE_URL=postgres://app:s3cret@db:5432/app", "DATABASE_URL=postgres://app:" + maskedValue + "@db:5432/app"},
		{"CACHE_URL=redis://cache:6379/0", "CACHE_URL=redis://cache:6379/0"},
		{"USER_ONLY=https://user@example.test/", "USER_ONLY=https://user@example.test/"},
		{"NO_VALUE", "NO_VALUE="},
	}
	for _, tc := range cases {
		got := MaskEnv([]string{tc.in})
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("MaskEnv(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaskArgs(t *testing.T) {
	t.Parallel()
	got := MaskArgs([]string{"/app", "--password=hunter2", "--api-key=abc", "--port=8080",
		"--db=mysql://root:pw@db/x", "token=abc", "--token", "tok123", "-p", "8080", "--api-key"})
	want := []string{"/app", "--password=" + maskedValue, "--api-key=" + maskedValue, "--port=8080",
		"--db=mysql://root:" + maskedValue + "@db/x", "token=abc", "--token", maskedValue, "-p", "8080", "--api-key"}
	if !slices.Equal(got, want) {
		t.Errorf("MaskArgs = %q, want %q", got, want)
	}
}

func TestDescribe_ServiceAndInstance(t *testing.T) {
	t.Parallel()
	engine := newFakeEngine()
	o, _ := newTestOrchestrator(engine)
	p := testProject(2, true)
	token, plain := "tok-123-secret-value", "visible"
	p.Services[0].Config.Environment = composetypes.MappingWithEquals{"API_TOKEN": &token, "PLAIN_VAR": &plain}
	p.Services[0].Config.Command = composetypes.ShellCommand{"/app", "--password=hunter2"}
	if err := o.Up(t.Context(), p, UpOptions{}); err != nil {
		t.Fatalf("Up: %v", err)
	}

	desc, err := o.Describe(t.Context(), "shop", "web")
	if err != nil {
		t.Fatalf("Describe web: %v", err)
	}
	if len(desc.Instances) != 2 || desc.Instances[0].Slot != 0 || desc.Instances[1].Slot != 1 {
		t.Fatalf("instances = %+v, want slots 0 and 1", desc.Instances)
	}
	if desc.FrontDoor != "shop-web-frontdoor" {
		t.Errorf("front door = %q, want shop-web-frontdoor", desc.FrontDoor)
	}
	if desc.Revision == "" || desc.Revisions[desc.Revision] != 2 {
		t.Errorf("revision %q with counts %v, want one revision run by 2 instances", desc.Revision, desc.Revisions)
	}
	if desc.Configuration == nil {
		t.Fatal("no configuration")
	}
	if got := strings.Join(desc.Configuration.Command, " "); got != "/app --password="+maskedValue {
		t.Errorf("command = %q, want the password masked", got)
	}
	if desc.Configuration.Healthcheck != "CMD /app -check" {
		t.Errorf("healthcheck = %q, want CMD /app -check", desc.Configuration.Healthcheck)
	}
	env := desc.Instances[0].Environment
	if !slices.Contains(env, "API_TOKEN="+maskedValue) || !slices.Contains(env, "PLAIN_VAR=visible") {
		t.Errorf("environment = %v, want API_TOKEN masked and PLAIN_VAR shown", env)
	}
	for _, kv := range env {
		if strings.Contains(kv, token) {
			t.Errorf("environment shows the token: %q", kv)
		}
	}

	one, err := o.Describe(t.Context(), "shop", "web.1")
	if err != nil {
		t.Fatalf("Describe web.1: %v", err)
	}
	if len(one.Instances) != 1 || one.Instances[0].Slot != 1 || one.FrontDoor != "" {
		t.Errorf("describe web.1 = %d instances, front door %q; want slot 1 alone", len(one.Instances), one.FrontDoor)
	}
}

func TestDescribe_UnknownTarget(t *testing.T) {
	t.Parallel()
	o, _ := newTestOrchestrator(newFakeEngine())
	_, err := o.Describe(t.Context(), "shop", "web.9")
	if err == nil || !strings.Contains(err.Error(), `"web.9"`) || !strings.Contains(err.Error(), "clusterctl ps") {
		t.Errorf("error = %v, want one naming web.9 and clusterctl ps", err)
	}
}

func TestMostCommon(t *testing.T) {
	t.Parallel()
	if got := mostCommon(map[string]int{"b": 2, "a": 2, "c": 1}); got != "a" {
		t.Errorf("mostCommon on a tie = %q, want the smallest key a", got)
	}
	if got := mostCommon(map[string]int{"b": 3, "a": 2}); got != "b" {
		t.Errorf("mostCommon = %q, want b", got)
	}
}
