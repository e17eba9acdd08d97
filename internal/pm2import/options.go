package pm2import

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// defaultInstanceVar is the variable that PM2 sets to the instance number
// when an app sets no instance_var.
const defaultInstanceVar = "NODE_APP_INSTANCE"

// variableName matches a portable environment variable name, as
// x-clusterctl.instance_var requires.
var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// translateInstances sets x-clusterctl.instances and instance_var from
// instances, exec_mode and instance_var.
func (t *appTranslator) translateInstances() error {
	t.svc.ext.instances = 1
	if raw, ok := t.value("instances"); ok {
		count, err := parseInstances(raw)
		if err != nil {
			return t.invalid("instances", err)
		}
		t.svc.ext.instances = count
	}

	t.svc.clusterMode = false
	if raw, ok := t.value("exec_mode"); ok {
		mode, _ := raw.(string)
		switch strings.TrimSuffix(strings.TrimSpace(mode), "_mode") {
		case "cluster":
			t.svc.clusterMode = true
		case "fork":
		default:
			return t.invalid("exec_mode", fmt.Errorf("%s is not a PM2 execution mode; "+
				"use \"cluster\" or \"fork\"", describe(raw)))
		}
	}

	t.svc.ext.instanceVar = defaultInstanceVar
	if raw, ok := t.value("instance_var"); ok {
		name, _ := raw.(string)
		if !variableName.MatchString(name) {
			return t.invalid("instance_var", fmt.Errorf("%s is not a valid environment variable "+
				"name; use letters, digits and underscores, such as INSTANCE_ID", describe(raw)))
		}
		t.svc.ext.instanceVar = name
	}
	return nil
}

// translateRestarts sets the restart policy from autorestart, max_restarts
// and stop_exit_codes, and x-clusterctl.min_uptime from min_uptime.
func (t *appTranslator) translateRestarts() error {
	if raw, ok := t.value("min_uptime"); ok {
		d, err := parseMilliseconds(raw)
		if err != nil {
			return t.invalid("min_uptime", err)
		}
		t.svc.ext.minUptime = formatDuration(d)
	}

	if raw, ok := t.value("autorestart"); ok {
		restart, err := parseBool(raw)
		if err != nil {
			return t.invalid("autorestart", err)
		}
		if !restart {
			// PM2 ignores max_restarts and stop_exit_codes without restarts.
			t.handled["max_restarts"], t.handled["stop_exit_codes"] = true, true
			t.svc.restart = "no"
			return nil
		}
	}

	onFailure := t.stopExitCodes()
	maxAttempts, err := t.maxRestarts()
	if err != nil {
		return err
	}
	if onFailure || maxAttempts > 0 {
		t.svc.restartPolicy = &restartPolicy{maxAttempts: maxAttempts}
	}
	return nil
}

// stopExitCodes reports whether stop_exit_codes is [0], which Docker's
// on-failure condition expresses. Other codes are reported.
func (t *appTranslator) stopExitCodes() bool {
	raw, ok := t.value("stop_exit_codes")
	if !ok {
		return false
	}
	codes, isList := raw.([]any)
	if !isList {
		codes = []any{raw}
	}
	switch len(codes) {
	case 0:
		return false
	case 1:
		if code, err := parseInt(codes[0]); err == nil && code == 0 {
			return true
		}
	}
	t.report("stop_exit_codes", "Docker can skip a restart only after exit code 0 "+
		"(restart_policy condition on-failure), not after other codes")
	return false
}

// maxRestarts returns max_restarts, or 0 when it is unset or reported.
func (t *appTranslator) maxRestarts() (int, error) {
	raw, ok := t.value("max_restarts")
	if !ok {
		return 0, nil
	}
	n, err := parseInt(raw)
	switch {
	case err != nil || n < 0:
		return 0, t.invalid("max_restarts", fmt.Errorf("%s is not a count of restarts; "+
			"use a whole number such as 10", describe(raw)))
	case n == 0:
		t.report("max_restarts", "Docker reads a maximum of 0 restart attempts as no limit; "+
			"set autorestart: false to never restart")
		return 0, nil
	default:
		return n, nil
	}
}

// translateStop sets how instances stop: SIGINT, PM2's signal, with
// kill_timeout as the grace period before SIGKILL, and memory limits from
// max_memory_restart.
func (t *appTranslator) translateStop() error {
	if raw, ok := t.value("kill_timeout"); ok {
		d, err := parseMilliseconds(raw)
		if err != nil {
			return t.invalid("kill_timeout", err)
		}
		t.svc.stopGracePeriod = formatDuration(d)
	}
	if raw, ok := t.value("max_memory_restart"); ok {
		memory, err := parseMemory(raw)
		if err != nil {
			return t.invalid("max_memory_restart", err)
		}
		t.svc.memory = memory
	}
	// Every process of a container stops with it, as PM2's treekill does.
	t.handled["treekill"] = true
	return nil
}

// translateReadiness sets x-clusterctl.ready from wait_ready and
// listen_timeout, and publishes PORT.
func (t *appTranslator) translateReadiness() error {
	if t.port > 0 {
		t.svc.ports = []string{fmt.Sprintf("127.0.0.1:%d:%d", t.port, t.port)}
	}

	waitReady := false
	if raw, ok := t.value("wait_ready"); ok {
		var err error
		if waitReady, err = parseBool(raw); err != nil {
			return t.invalid("wait_ready", err)
		}
	}
	var timeout time.Duration
	raw, hasTimeout := t.value("listen_timeout")
	if hasTimeout {
		var err error
		if timeout, err = parseMilliseconds(raw); err != nil {
			return t.invalid("listen_timeout", err)
		}
	}
	if !waitReady && !hasTimeout {
		return nil
	}

	t.svc.ext.ready = &readyProbe{port: t.port}
	if t.port == 0 {
		t.svc.ext.ready.port = defaultPort
	}
	if hasTimeout && timeout > 0 {
		t.svc.ext.ready.timeout = formatDuration(timeout)
	}
	return nil
}

// translateLogging maps disable_logs. merge_logs and combine_logs need no
// setting, because clusterctl logs merges the output of every instance.
func (t *appTranslator) translateLogging() error {
	t.handled["merge_logs"], t.handled["combine_logs"] = true, true
	raw, ok := t.value("disable_logs")
	if !ok {
		return nil
	}
	disabled, err := parseBool(raw)
	if err != nil {
		return t.invalid("disable_logs", err)
	}
	if disabled {
		t.svc.loggingDriver = "none"
	}
	return nil
}

// translateUser sets user from a numeric uid and gid. Names are reported,
// because they resolve in the image's /etc/passwd, not the host's.
func (t *appTranslator) translateUser() error {
	uid, hasUID := t.value("uid")
	gid, hasGID := t.value("gid")
	uidText, uidOK := numericID(uid)
	gidText, gidOK := numericID(gid)
	switch {
	case hasUID && !uidOK:
		t.report("uid", "a user name resolves in the image, not on the host; set uid to the "+
			"numeric user ID (id -u NAME)")
		return nil
	case hasGID && !gidOK:
		t.report("gid", "a group name resolves in the image, not on the host; set gid to the "+
			"numeric group ID (id -g NAME)")
		return nil
	case hasGID && !hasUID:
		t.report("gid", "a container user needs a user ID; set uid too")
		return nil
	}

	t.svc.user = uidText
	if hasGID {
		t.svc.user += ":" + gidText
	}
	return nil
}

// numericID returns a user or group ID as text when value is a whole
// number, from a JSON number or a string.
func numericID(value any) (string, bool) {
	switch value.(type) {
	case json.Number, string:
		n, err := parseInt(value)
		return fmt.Sprint(n), err == nil && n >= 0
	default:
		return "", false
	}
}

// Reasons shared by several options in unsupportedReasons.
const (
	reasonWatch   = "clusterctl does not watch files"
	reasonLogFile = "the engine stores each instance's output; read it with clusterctl logs SERVICE"
	reasonMonitor = "PM2's monitoring has no equivalent; clusterctl injects OpenTelemetry " +
		"settings instead"
	// The delay is Docker's, as its restart policy documentation states.
	reasonRestartDelay = "the engine restarts a crashed container after its own delay, " +
		"which starts at 100 ms and doubles"
)

// unsupportedReasons explains, for PM2 options that clusterctl has no
// equivalent of, what to do instead.
var unsupportedReasons = map[string]string{
	"watch": "clusterctl does not restart on file changes; run clusterctl rollout restart " +
		"SERVICE after a change",
	"ignore_watch":  reasonWatch,
	"watch_delay":   reasonWatch,
	"watch_options": reasonWatch,
	"cron_restart": "clusterctl has no scheduled restart; run clusterctl rollout restart SERVICE " +
		"from cron or a systemd timer",
	"increment_var": "clusterctl sets no per-instance counter; add the instance_var value " +
		"(the slot, 0 to N-1) to the base value in the app",
	"source_map_support":         "pass --enable-source-maps in node_args instead",
	"disable_source_map_support": "Node.js applies no source maps without --enable-source-maps",
	"out_file":                   reasonLogFile,
	"error_file":                 reasonLogFile,
	"log_file":                   reasonLogFile,
	"log":                        reasonLogFile,
	"pid_file": "the process runs in its container, so no PID file is written on " +
		"the host",
	"log_date_format": "clusterctl logs --timestamps prefixes each line with the engine's " +
		"RFC 3339 time; PM2's date format is not applied",
	"time": "clusterctl logs --timestamps prefixes each line with the engine's " +
		"RFC 3339 time",
	"log_type": "the engine stores output lines as written; PM2's JSON log format " +
		"is not applied",
	"restart_delay":             reasonRestartDelay,
	"exp_backoff_restart_delay": reasonRestartDelay,
	"shutdown_with_message": "a container stops with a signal, so the service gets SIGINT " +
		"instead of a shutdown message",
	"namespace": "clusterctl groups services by project; pass the namespace as -p NAME",
	"vizion":    "PM2's version control metadata has no clusterctl equivalent",
	"post_update": "PM2's update commands have no clusterctl equivalent; run them before " +
		"clusterctl up",
	"force": "clusterctl names each instance after its slot, so an app never " +
		"starts twice",
	"append_env_to_name": "a service keeps its name whatever PM2_ENV selects",
	"kill_retry_time":    "the engine sends SIGKILL once, after stop_grace_period",
	"pmx":                reasonMonitor,
	"automation":         reasonMonitor,
	"trace":              reasonMonitor,
	"disable_trace":      reasonMonitor,
	"deep_monitoring":    reasonMonitor,
}

// unsupportedReason returns why key is not translated.
func unsupportedReason(key string) string {
	if reason, ok := unsupportedReasons[key]; ok {
		return reason
	}
	return "clusterctl has no equivalent of this option"
}
