package pm2import

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// commentWidth is the column at which comments wrap.
const commentWidth = 76

// service is one translated app, in the order of the compose keys it sets.
type service struct {
	name        string
	app         string
	clusterMode bool

	image        string
	imageComment string
	command      []string
	mountSource  string
	user         string

	environment    []envVar
	envFile        string
	envFileComment string
	ports          []string
	portComment    string

	restart         string
	restartPolicy   *restartPolicy
	stopGracePeriod string
	memory          string
	loggingDriver   string
	ext             extension
}

// restartPolicy is deploy.restart_policy with condition on-failure.
type restartPolicy struct {
	// maxAttempts is 0 for no limit.
	maxAttempts int
}

// extension is the service's x-clusterctl block.
type extension struct {
	instances   instanceCount
	instanceVar string
	minUptime   string
	ready       *readyProbe
}

// readyProbe is a TCP ready probe.
type readyProbe struct {
	port    int
	timeout string
}

// render writes the compose file.
func render(eco *Ecosystem, services []*service) ([]byte, error) {
	list := newMapping()
	for _, svc := range services {
		list.add(svc.name, renderService(svc), serviceComment(svc))
	}
	root := newMapping()
	root.add("services", list.node, "")
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root.node},
		HeadComment: wrapComment(headerComment(eco))}

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode compose file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode compose file: %w", err)
	}
	return buf.Bytes(), nil
}

func headerComment(eco *Ecosystem) string {
	return fmt.Sprintf("Translated from the PM2 ecosystem file %s by clusterctl import pm2. "+
		"clusterctl does not pull images: pull each image below with docker pull before "+
		"clusterctl up. Each app directory is mounted at %s, so install its dependencies "+
		"there for the image's platform. A container inherits no variable from the shell "+
		"that starts it, so add to env what an app read from PM2's environment.",
		filepath.Base(eco.Path), containerAppDir)
}

func serviceComment(svc *service) string {
	mode := "fork mode"
	if svc.clusterMode {
		mode = "cluster mode"
	}
	text := fmt.Sprintf("PM2 app %s, %s: each instance is its own container", svc.app, mode)
	if len(svc.ports) > 0 {
		return text + ", and the front door balances requests over the ready ones."
	}
	return text + "."
}

func renderService(svc *service) *yaml.Node {
	m := newMapping()
	m.add("image", str(svc.image), svc.imageComment)
	m.add("command", flowList(escapeAll(svc.command)), "")
	m.add("working_dir", str(containerAppDir), "")
	m.add("volumes", blockList(renderMount(svc.mountSource)),
		"The app directory, so that the image needs no build.")
	if svc.user != "" {
		m.add("user", str(svc.user), "From uid and gid.")
	}
	m.add("init", boolean(true), "The app is not PID 1, so SIGINT stops an app without "+
		"a handler, as under PM2.")
	renderEnvironment(m, svc)
	renderRestart(m, svc)
	if svc.loggingDriver != "" {
		logging := newMapping()
		logging.add("driver", str(svc.loggingDriver), "")
		m.add("logging", logging.node, "disable_logs: the engine keeps no output, "+
			"so clusterctl logs prints none.")
	}
	if deploy := renderDeploy(svc); deploy != nil {
		m.add("deploy", deploy, "")
	}
	m.add("x-clusterctl", renderExtension(svc), "")
	return m.node
}

func renderMount(source string) *yaml.Node {
	mount := newMapping()
	mount.add("type", str("bind"), "")
	mount.add("source", str(escape(source)), "")
	mount.add("target", str(containerAppDir), "")
	return mount.node
}

func renderEnvironment(m *mapping, svc *service) {
	if svc.envFile != "" {
		m.add("env_file", blockList(str(svc.envFile)), svc.envFileComment)
	} else if len(svc.environment) > 0 {
		env := newMapping()
		for _, v := range svc.environment {
			env.add(v.key, str(escape(v.value)), "")
		}
		m.add("environment", env.node, "")
	}
	if len(svc.ports) > 0 {
		comment := "PORT from env, published on loopback only: remove 127.0.0.1: " +
			"to accept connections from other hosts."
		if svc.portComment != "" {
			comment += " " + svc.portComment
		}
		m.add("ports", blockList(stringNodes(svc.ports)...), comment)
	}
}

func renderRestart(m *mapping, svc *service) {
	if svc.restart != "" {
		m.add("restart", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: svc.restart,
			Style: yaml.DoubleQuotedStyle}, "autorestart: false.")
	}
	m.add("stop_signal", str("SIGINT"), "PM2 stops an app with SIGINT.")
	if svc.stopGracePeriod != "" {
		m.add("stop_grace_period", str(svc.stopGracePeriod), "kill_timeout: the time "+
			"between SIGINT and SIGKILL.")
	}
}

// renderDeploy returns the deploy block, or nil when it would be empty.
func renderDeploy(svc *service) *yaml.Node {
	deploy := newMapping()
	if rp := svc.restartPolicy; rp != nil {
		policy := newMapping()
		policy.add("condition", str("on-failure"), "")
		comment := "stop_exit_codes [0]: no restart after exit code 0."
		if rp.maxAttempts > 0 {
			policy.add("max_attempts", integer(rp.maxAttempts), "")
			comment = "max_restarts. Docker counts restarts only with condition on-failure, " +
				"so an exit with code 0 is not restarted, unlike under PM2, and every " +
				"failed exit counts, not only those before min_uptime."
		}
		deploy.add("restart_policy", policy.node, comment)
	}
	if svc.memory != "" {
		limits := newMapping()
		limits.add("memory", str(svc.memory), "")
		resources := newMapping()
		resources.add("limits", limits.node, "")
		deploy.add("resources", resources.node, "max_memory_restart: PM2 restarts an app "+
			"above it, the engine OOM-kills it and then restarts it.")
	}
	if len(deploy.node.Content) == 0 {
		return nil
	}
	return deploy.node
}

func renderExtension(svc *service) *yaml.Node {
	ext := newMapping()
	count := str(fmt.Sprint(svc.ext.instances))
	if n, ok := svc.ext.instances.(int); ok {
		count = integer(n)
	}
	ext.add("instances", count, "")
	ext.add("instance_var", str(svc.ext.instanceVar), "")
	if svc.ext.minUptime != "" {
		ext.add("min_uptime", str(svc.ext.minUptime), "")
	}
	if r := svc.ext.ready; r != nil {
		ext.add("ready", renderReady(r), readyComment(svc))
	}
	return ext.node
}

func renderReady(r *readyProbe) *yaml.Node {
	ready := newMapping()
	ready.add("tcp", boolean(true), "")
	ready.add("port", integer(r.port), "")
	if r.timeout != "" {
		ready.add("timeout", str(r.timeout), "")
	}
	return ready.node
}

func readyComment(svc *service) string {
	text := "wait_ready and listen_timeout: a container cannot send PM2's ready message, " +
		"so an instance is ready once it accepts connections."
	if len(svc.ports) == 0 {
		text += fmt.Sprintf(" No env sets PORT, so port %d is assumed: set the port "+
			"the app listens on.", defaultPort)
	}
	if svc.ext.ready.timeout != "" {
		text += " PM2 marks an app online when listen_timeout passes, but clusterctl fails " +
			"the instance: raise timeout if the app starts slower."
	}
	return text
}

// mapping builds a YAML mapping node key by key.
type mapping struct {
	node *yaml.Node
}

func newMapping() *mapping {
	return &mapping{node: &yaml.Node{Kind: yaml.MappingNode}}
}

// add appends key: value, with comment above the key when it is not empty.
func (m *mapping) add(key string, value *yaml.Node, comment string) {
	keyNode := str(key)
	keyNode.HeadComment = wrapComment(comment)
	m.node.Content = append(m.node.Content, keyNode, value)
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func integer(n int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(n)}
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func stringNodes(items []string) []*yaml.Node {
	nodes := make([]*yaml.Node, len(items))
	for i, item := range items {
		nodes[i] = str(item)
	}
	return nodes
}

func flowList(items []string) *yaml.Node {
	list := blockList(stringNodes(items)...)
	list.Style = yaml.FlowStyle
	return list
}

func blockList(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

// escape keeps Docker Compose from interpolating s: $ becomes $$.
func escape(s string) string {
	return strings.ReplaceAll(s, "$", "$$")
}

func escapeAll(items []string) []string {
	escaped := make([]string, len(items))
	for i, item := range items {
		escaped[i] = escape(item)
	}
	return escaped
}

// wrapComment wraps text into "# " lines of at most commentWidth columns.
func wrapComment(text string) string {
	if text == "" {
		return ""
	}
	var lines []string
	line := "#"
	for _, word := range strings.Fields(text) {
		if len(line)+1+len(word) > commentWidth && line != "#" {
			lines = append(lines, line)
			line = "#"
		}
		line += " " + word
	}
	return strings.Join(append(lines, line), "\n")
}
