package pm2import

import (
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clusterctl/clusterctl/compose"
)

// completeFormats are the same ecosystem, which Translate must translate
// without a report, in every supported format.
var completeFormats = []string{"ecosystem.json", "ecosystem.yaml", "ecosystem.config.js"}

func loadComplete(t testing.TB, name string, opts Options) *Result {
	t.Helper()
	eco, err := Load(t.Context(), filepath.Join("testdata", "complete", name))
	if err != nil {
		t.Fatalf("Load %s: %v", name, err)
	}
	result, err := Translate(eco, opts)
	if err != nil {
		t.Fatalf("Translate %s: %v", name, err)
	}
	return result
}

func TestTranslate_CompleteAppFormatsAgree(t *testing.T) {
	t.Parallel()
	want := loadComplete(t, "ecosystem.json", Options{})
	for _, name := range completeFormats {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := loadComplete(t, name, Options{})

			if len(got.Reports) != 0 {
				t.Errorf("reports = %v, want none", got.Reports)
			}
			if !reflect.DeepEqual(parseYAML(t, got.Compose), parseYAML(t, want.Compose)) {
				t.Errorf("compose file differs from ecosystem.json's:\n%s\nwant:\n%s", got.Compose, want.Compose)
			}
			if !reflect.DeepEqual(got.EnvFiles, want.EnvFiles) {
				t.Errorf("env files = %q, want %q", got.EnvFiles, want.EnvFiles)
			}
		})
	}
}

func TestTranslate_CompleteAppLoadsWithCompose(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		environ []string
		nodeEnv string
	}{
		{"without PM2_ENV", []string{}, ""},
		{"with PM2_ENV=production", []string{"PM2_ENV=production"}, "production"},
	}
	for _, format := range completeFormats {
		for _, tc := range cases {
			t.Run(format+" "+tc.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				out := writeResult(t, dir, loadComplete(t, format, Options{ComposeDir: dir}))

				project, err := compose.Load(t.Context(), compose.Options{
					Files: []string{out}, WorkingDir: dir, Environ: tc.environ})
				if err != nil {
					t.Fatalf("compose.Load: %v", err)
				}
				checkCompleteService(t, project, tc.nodeEnv)
			})
		}
	}
}

func checkCompleteService(t *testing.T, project *compose.Project, nodeEnv string) {
	t.Helper()
	if len(project.Services) != 1 || project.Services[0].Name != "api" {
		t.Fatalf("services = %v, want only api", project.Services)
	}
	svc := project.Services[0]
	cfg := svc.Config

	if svc.Instances != (compose.InstanceCount{Fixed: 2}) {
		t.Errorf("instances = %v, want 2", svc.Instances)
	}
	if svc.InstanceVar != "NODE_APP_INSTANCE" {
		t.Errorf("instance_var = %q, want NODE_APP_INSTANCE", svc.InstanceVar)
	}
	if svc.MinUptime != 10*time.Second {
		t.Errorf("min_uptime = %s, want 10s", svc.MinUptime)
	}
	wantReady := compose.ReadyProbe{TCP: true, Port: 3000, Timeout: 3 * time.Second}
	if svc.Ready == nil || *svc.Ready != wantReady {
		t.Errorf("ready = %+v, want %+v", svc.Ready, wantReady)
	}
	if cfg.Image != "node:22" {
		t.Errorf("image = %q, want node:22", cfg.Image)
	}
	wantCommand := types.ShellCommand{"node", "-r", "dotenv/config", "server.js"}
	if !slices.Equal(cfg.Command, wantCommand) {
		t.Errorf("command = %q, want %q", cfg.Command, wantCommand)
	}
	if cfg.StopGracePeriod == nil || time.Duration(*cfg.StopGracePeriod) != 5*time.Second {
		t.Errorf("stop_grace_period = %v, want 5s", cfg.StopGracePeriod)
	}
	if cfg.StopSignal != "SIGINT" {
		t.Errorf("stop_signal = %q, want SIGINT", cfg.StopSignal)
	}
	checkCompleteDeploy(t, cfg)
	checkNodeEnv(t, cfg, nodeEnv)
}

func checkCompleteDeploy(t *testing.T, cfg types.ServiceConfig) {
	t.Helper()
	if cfg.Deploy == nil {
		t.Fatal("deploy is missing")
	}
	if limits := cfg.Deploy.Resources.Limits; limits == nil || limits.MemoryBytes != 2<<30 {
		t.Errorf("deploy.resources.limits = %+v, want memory 2 GiB", limits)
	}
	policy := cfg.Deploy.RestartPolicy
	if policy == nil || policy.Condition != "on-failure" {
		t.Fatalf("restart_policy = %+v, want condition on-failure", policy)
	}
	if policy.MaxAttempts == nil || *policy.MaxAttempts != 3 {
		t.Errorf("restart_policy.max_attempts = %v, want 3", policy.MaxAttempts)
	}
}

// checkNodeEnv checks NODE_ENV, which only env_production sets.
func checkNodeEnv(t *testing.T, cfg types.ServiceConfig, want string) {
	t.Helper()
	got := ""
	if value := cfg.Environment["NODE_ENV"]; value != nil {
		got = *value
	}
	if got != want {
		t.Errorf("NODE_ENV = %q, want %q", got, want)
	}
}

func TestTranslate_UnknownVariantFailsAtLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := writeResult(t, dir, loadComplete(t, "ecosystem.json", Options{ComposeDir: dir}))

	_, err := compose.Load(t.Context(), compose.Options{
		Files: []string{out}, WorkingDir: dir, Environ: []string{"PM2_ENV=staging"}})
	if !errors.Is(err, compose.ErrInvalid) {
		t.Fatalf("compose.Load error = %v, want compose.ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), "api.staging.env") {
		t.Errorf("error %q does not name api.staging.env", err)
	}
}

func TestTranslate_VariantsSharedAcrossApps(t *testing.T) {
	t.Parallel()
	result, err := translateDoc(t, map[string]any{"apps": []any{
		map[string]any{"name": "web", "script": "web.js", "env": map[string]any{"MODE": "base"},
			"env_production": map[string]any{"MODE": "production"}},
		map[string]any{"name": "worker", "script": "worker.js", "env": map[string]any{"MODE": "base"},
			"env_staging": map[string]any{"MODE": "staging"}},
		map[string]any{"name": "cron", "script": "cron.js", "env": map[string]any{"MODE": "plain $HOME"}},
	}})
	if err != nil {
		t.Fatal(err)
	}

	var names []string
	for _, file := range result.EnvFiles {
		names = append(names, file.Name)
	}
	wantNames := []string{"web.env", "web.production.env", "web.staging.env",
		"worker.env", "worker.production.env", "worker.staging.env"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("env files = %q, want %q", names, wantNames)
	}

	dir := t.TempDir()
	project, err := compose.Load(t.Context(), compose.Options{Files: []string{writeResult(t, dir, result)},
		WorkingDir: dir, Environ: []string{"PM2_ENV=staging"}})
	if err != nil {
		t.Fatalf("compose.Load: %v", err)
	}
	want := map[string]string{"web": "base", "worker": "staging", "cron": "plain $HOME"}
	for _, svc := range project.Services {
		got := svc.Config.Environment["MODE"]
		if got == nil {
			t.Errorf("service %s: MODE is not set, want %q", svc.Name, want[svc.Name])
		} else if *got != want[svc.Name] {
			t.Errorf("service %s: MODE = %q, want %q", svc.Name, *got, want[svc.Name])
		}
	}
}

func TestTranslate_Options(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		options map[string]any
		path    []string
		want    any
	}{
		{"instances max", map[string]any{"instances": "max"}, []string{"x-clusterctl", "instances"}, "max"},
		{"instances 0 is max", map[string]any{"instances": 0}, []string{"x-clusterctl", "instances"}, "max"},
		{"instances string 0 is max", map[string]any{"instances": "0"}, []string{"x-clusterctl", "instances"}, "max"},
		{"instances -1", map[string]any{"instances": -1}, []string{"x-clusterctl", "instances"}, -1},
		{"instances string", map[string]any{"instances": "3"}, []string{"x-clusterctl", "instances"}, 3},
		{"instances default", nil, []string{"x-clusterctl", "instances"}, 1},
		{"instance_var", map[string]any{"instance_var": "INSTANCE_ID"}, []string{"x-clusterctl", "instance_var"}, "INSTANCE_ID"},
		{"min_uptime ms", map[string]any{"min_uptime": 1500}, []string{"x-clusterctl", "min_uptime"}, "1.5s"},
		{"min_uptime minutes", map[string]any{"min_uptime": "2m"}, []string{"x-clusterctl", "min_uptime"}, "2m"},
		{"kill_timeout string", map[string]any{"kill_timeout": "1600"}, []string{"stop_grace_period"}, "1.6s"},
		{"memory M", map[string]any{"max_memory_restart": "300M"}, []string{"deploy", "resources", "limits", "memory"}, "300m"},
		{"memory K", map[string]any{"max_memory_restart": "1024K"}, []string{"deploy", "resources", "limits", "memory"}, "1024k"},
		{"memory bytes", map[string]any{"max_memory_restart": 1073741824}, []string{"deploy", "resources", "limits", "memory"}, "1073741824"},
		{"autorestart false", map[string]any{"autorestart": false, "max_restarts": 5}, []string{"restart"}, "no"},
		{"autorestart false skips policy", map[string]any{"autorestart": false, "max_restarts": 5}, []string{"deploy"}, nil},
		{"stop_exit_codes 0", map[string]any{"stop_exit_codes": []any{0}}, []string{"deploy", "restart_policy", "condition"}, "on-failure"},
		{"stop_exit_codes scalar 0", map[string]any{"stop_exit_codes": 0}, []string{"deploy", "restart_policy", "condition"}, "on-failure"},
		{"port published", map[string]any{"env": map[string]any{"PORT": 8080}}, []string{"ports"}, []any{"127.0.0.1:8080:8080"}},
		{"ready on PORT", map[string]any{"wait_ready": true, "env": map[string]any{"PORT": "8080"}}, []string{"x-clusterctl", "ready", "port"}, 8080},
		{"ready without timeout", map[string]any{"wait_ready": true}, []string{"x-clusterctl", "ready", "timeout"}, nil},
		{"listen_timeout alone", map[string]any{"listen_timeout": 8000}, []string{"x-clusterctl", "ready", "timeout"}, "8s"},
		{"no ready by default", nil, []string{"x-clusterctl", "ready"}, nil},
		{"uid and gid", map[string]any{"uid": 1000, "gid": "1001"}, []string{"user"}, "1000:1001"},
		{"disable_logs", map[string]any{"disable_logs": true}, []string{"logging", "driver"}, "none"},
		{"stop signal", nil, []string{"stop_signal"}, "SIGINT"},
		{"init", nil, []string{"init"}, true},
		{"cwd", map[string]any{"cwd": "api"}, []string{"volumes"}, []any{map[string]any{"type": "bind", "source": "./api", "target": "/app"}}},
		{"inline env", map[string]any{"env": map[string]any{"A": "$x", "N": 1, "B": true}}, []string{"environment"}, map[string]any{"A": "$$x", "N": "1", "B": "true"}},
		{"args string", map[string]any{"args": `--name "a b" 'c d'`}, []string{"command"}, []any{"node", "app.js", "--name", "a b", "c d"}},
		{"args list", map[string]any{"args": []any{"--port", 80}}, []string{"command"}, []any{"node", "app.js", "--port", "80"}},
		{"interpreter_args", map[string]any{"interpreter_args": []any{"--enable-source-maps"}}, []string{"command"}, []any{"node", "--enable-source-maps", "app.js"}},
		{"node version in path", map[string]any{"interpreter": "/usr/local/n/versions/node/20.11.1/bin/node"}, []string{"image"}, "node:20"},
		{"node version in name", map[string]any{"interpreter": "/usr/bin/node18"}, []string{"image"}, "node:18"},
		{"python", map[string]any{"script": "worker.py"}, []string{"image"}, "python:3"},
		{"python command", map[string]any{"script": "worker.py", "interpreter_args": "-u"}, []string{"command"}, []any{"python", "-u", "worker.py"}},
		{"npm start", map[string]any{"script": "npm", "args": "start"}, []string{"command"}, []any{"npm", "start"}},
		{"absolute script", map[string]any{"cwd": "/srv/api", "script": "/srv/api/dist/main.js"}, []string{"command"}, []any{"node", "/app/dist/main.js"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			result := translateApp(t, tc.options)

			got := lookup(t, result.Compose, append([]string{"services", "api"}, tc.path...)...)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s = %#v, want %#v\n%s", strings.Join(tc.path, "."), got, tc.want, result.Compose)
			}
			if len(result.Reports) != 0 {
				t.Errorf("reports = %v, want none", result.Reports)
			}
		})
	}
}

func TestTranslate_ReportsUntranslated(t *testing.T) {
	t.Parallel()
	cases := []struct {
		option string
		value  any
	}{
		{"watch", true},
		{"ignore_watch", []any{"node_modules"}},
		{"cron_restart", "0 3 * * *"},
		{"increment_var", "PORT"},
		{"source_map_support", true},
		{"out_file", "/var/log/api.out.log"},
		{"error_file", "/var/log/api.err.log"},
		{"log_date_format", "YYYY-MM-DD HH:mm Z"},
		{"time", true},
		{"log_type", "json"},
		{"restart_delay", 4000},
		{"exp_backoff_restart_delay", 100},
		{"vizion", true},
		{"namespace", "shop"},
		{"shutdown_with_message", true},
		{"pid_file", "/run/api.pid"},
		{"stop_exit_codes", []any{0, 3}},
		{"max_restarts", 0},
		{"uid", "deploy"},
		{"interpreter", "/usr/bin/coffee"},
		{"a_key_pm2_does_not_have", 1},
	}
	for _, tc := range cases {
		t.Run(tc.option, func(t *testing.T) {
			t.Parallel()
			result := translateApp(t, map[string]any{tc.option: tc.value})

			if len(result.Reports) != 1 {
				t.Fatalf("reports = %v, want one for %s", result.Reports, tc.option)
			}
			line := result.Reports[0].String()
			prefix := "app api: option " + tc.option + " is not translated: "
			if !strings.HasPrefix(line, prefix) || len(line) == len(prefix) {
				t.Errorf("report = %q, want %q and a reason", line, prefix)
			}
		})
	}
}

func TestTranslate_ReportsScriptOutsideCwd(t *testing.T) {
	t.Parallel()
	result := translateApp(t, map[string]any{"cwd": "/srv/api", "script": "/opt/tools/job.js"})

	if len(result.Reports) != 1 || result.Reports[0].Option != "script" {
		t.Fatalf("reports = %v, want one for script", result.Reports)
	}
	if !strings.Contains(result.Reports[0].Reason, "/srv/api") {
		t.Errorf("reason %q does not name the app directory", result.Reports[0].Reason)
	}
}

func TestTranslate_ReportsTopLevelDeploy(t *testing.T) {
	t.Parallel()
	result, err := translateDoc(t, map[string]any{
		"apps":   []any{map[string]any{"name": "api", "script": "app.js"}},
		"deploy": map[string]any{"production": map[string]any{"host": "web1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "ecosystem file: option deploy is not translated: "
	if len(result.Reports) != 1 || !strings.HasPrefix(result.Reports[0].String(), want) {
		t.Errorf("reports = %v, want one starting %q", result.Reports, want)
	}
}

func TestTranslate_ReportsUnsetVariables(t *testing.T) {
	t.Parallel()
	src := "module.exports = {apps: [{name: 'api', script: 'app.js', " +
		"env: {DATABASE_URL: process.env.DATABASE_URL}}]};"
	eco, err := Parse(t.Context(), filepath.Join(t.TempDir(), "ecosystem.config.js"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	result, err := Translate(eco, Options{})
	if err != nil {
		t.Fatal(err)
	}

	want := "ecosystem file: option process.env.DATABASE_URL is not translated: "
	if len(result.Reports) != 1 || !strings.HasPrefix(result.Reports[0].String(), want) {
		t.Errorf("reports = %v, want one starting %q", result.Reports, want)
	}
}

func TestTranslate_OffOptionsNotReported(t *testing.T) {
	t.Parallel()
	result := translateApp(t, map[string]any{
		"watch": false, "vizion": false, "merge_logs": true, "combine_logs": true,
		"treekill": true, "filter_env": true, "autorestart": true, "ignore_watch": []any{},
		"out_file": "", "disable_logs": false, "wait_ready": false, "exec_mode": "fork_mode",
		"restart_delay": 0, "stop_exit_codes": []any{},
	})
	if len(result.Reports) != 0 {
		t.Errorf("reports = %v, want none", result.Reports)
	}
}

func TestTranslate_InvalidValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		options map[string]any
		key     string
	}{
		{"instances word", map[string]any{"instances": "lots"}, "instances"},
		{"instances fraction", map[string]any{"instances": 1.5}, "instances"},
		{"instances bool", map[string]any{"instances": true}, "instances"},
		{"instances huge", map[string]any{"instances": 100000}, "instances"},
		{"exec_mode", map[string]any{"exec_mode": "thread"}, "exec_mode"},
		{"env not object", map[string]any{"env": "NODE_ENV=production"}, "env"},
		{"env variable name", map[string]any{"env": map[string]any{"A B": "1"}}, "env"},
		{"env block name", map[string]any{"env_prod/eu": map[string]any{}}, "env_prod/eu"},
		{"memory", map[string]any{"max_memory_restart": "lots"}, "max_memory_restart"},
		{"kill_timeout", map[string]any{"kill_timeout": "soon"}, "kill_timeout"},
		{"min_uptime negative", map[string]any{"min_uptime": -5}, "min_uptime"},
		{"max_restarts", map[string]any{"max_restarts": "many"}, "max_restarts"},
		{"autorestart", map[string]any{"autorestart": "sometimes"}, "autorestart"},
		{"wait_ready", map[string]any{"wait_ready": 2}, "wait_ready"},
		{"instance_var", map[string]any{"instance_var": "1X"}, "instance_var"},
		{"args quote", map[string]any{"args": `--name "a`}, "args"},
		{"node_args conflict", map[string]any{"node_args": "-r a", "interpreter_args": "-r b"}, "node_args"},
		{"cwd", map[string]any{"cwd": 5}, "cwd"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := map[string]any{"name": "api", "script": "app.js"}
			for key, value := range tc.options {
				app[key] = value
			}
			_, err := translateDoc(t, map[string]any{"apps": []any{app}})

			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), "app api: "+tc.key+": ") {
				t.Errorf("error %q does not name app api and key %s", err, tc.key)
			}
		})
	}
}

func TestTranslate_DuplicateEnvFileNames(t *testing.T) {
	t.Parallel()
	_, err := translateDoc(t, []any{
		map[string]any{"name": "api", "script": "a.js", "env_production": map[string]any{"A": "1"}},
		map[string]any{"name": "api.production", "script": "b.js", "env_staging": map[string]any{"A": "2"}},
	})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error = %v, want ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), "api.production.env") {
		t.Errorf("error %q does not name api.production.env", err)
	}
}

func TestTranslate_ServiceNames(t *testing.T) {
	t.Parallel()
	result, err := translateDoc(t, []any{
		map[string]any{"name": "My API!", "script": "a.js"},
		map[string]any{"script": "./workers/Queue.Worker.js"},
	})
	if err != nil {
		t.Fatal(err)
	}
	services, _ := lookup(t, result.Compose, "services").(map[string]any)
	for _, name := range []string{"my-api", "queue.worker"} {
		if _, ok := services[name]; !ok {
			t.Errorf("service %s is missing:\n%s", name, result.Compose)
		}
	}
}

func TestTranslate_DuplicateServiceNames(t *testing.T) {
	t.Parallel()
	_, err := translateDoc(t, []any{
		map[string]any{"name": "API", "script": "a.js"},
		map[string]any{"name": "api", "script": "b.js"},
	})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error = %v, want ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), "app api:") || !strings.Contains(err.Error(), "API") {
		t.Errorf("error %q does not name both apps", err)
	}
}
