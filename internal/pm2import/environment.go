package pm2import

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/clusterctl/clusterctl/internal/prose"
)

// SelectorVariable is the variable that selects an env_NAME block at up, as
// pm2 start --env NAME does: PM2_ENV=production loads SERVICE.production.env.
const SelectorVariable = "PM2_ENV"

// defaultPort is the port of the ready probe when no env sets PORT: the
// port that Node.js frameworks such as Express's generator default to.
const defaultPort = 3000

// variantPrefix starts the keys of PM2's named env blocks, such as
// env_production.
const variantPrefix = "env_"

// variantName matches an env block name that is safe in a file name and in
// the value of SelectorVariable.
var variantName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// envKey matches a variable name that Docker Compose's env file parser
// accepts.
var envKey = regexp.MustCompile(`^[\p{L}\p{N}_.\-\[\]]+$`)

// envVar is one environment variable.
type envVar struct {
	key, value string
}

// variantNames returns the sorted names of every env_NAME block of every
// app.
func variantNames(apps []App) ([]string, error) {
	names := map[string]bool{}
	for _, app := range apps {
		for key := range app.Options {
			name, ok := strings.CutPrefix(key, variantPrefix)
			if !ok {
				continue
			}
			if !variantName.MatchString(name) {
				return nil, appError(app.Name, "%s: the env block name %q cannot be used in a "+
					"file name; use letters, digits, dots, dashes and underscores", key, name)
			}
			names[name] = true
		}
	}
	return slices.Sorted(maps.Keys(names)), nil
}

// translateEnvironment writes env inline, or, when the app has env_NAME
// blocks, into one env file per block name that the service selects with
// SelectorVariable.
func (t *appTranslator) translateEnvironment() error {
	// A container inherits no shell variable, so filter_env, which drops
	// some or all of them under PM2, needs no setting.
	t.handled["filter_env"] = true
	base, err := t.envBlock("env")
	if err != nil {
		return err
	}
	own := map[string][]envVar{}
	for _, key := range slices.Sorted(maps.Keys(t.app.Options)) {
		if name, ok := strings.CutPrefix(key, variantPrefix); ok {
			if own[name], err = t.envBlock(key); err != nil {
				return err
			}
		}
	}

	if len(own) == 0 {
		t.svc.environment = base
		t.port, t.svc.portComment = portOf(map[string][]envVar{"env": base})
		return nil
	}
	t.writeEnvFiles(base, own)
	return nil
}

// writeEnvFiles adds SERVICE.env and one SERVICE.NAME.env per variant name
// of the ecosystem, each holding what pm2 start --env NAME gives the app.
func (t *appTranslator) writeEnvFiles(base []envVar, own map[string][]envVar) {
	name := t.svc.name
	t.addEnvFile(name+".env", "env", base)
	blocks := map[string][]envVar{"env": base}
	for _, variant := range t.variants {
		merged := mergeEnv(base, own[variant])
		blocks[variantPrefix+variant] = merged
		source := "env merged with " + variantPrefix + variant
		if _, ok := own[variant]; !ok {
			source = "env alone, because the app has no " + variantPrefix + variant
		}
		t.addEnvFile(name+"."+variant+".env", source, merged)
	}

	t.svc.envFile = fmt.Sprintf("./%s${%s:+.}${%s}.env", name, SelectorVariable, SelectorVariable)
	t.svc.envFileComment = fmt.Sprintf("%s=NAME, with NAME %s, loads %s.NAME.env, as "+
		"pm2 start --env NAME does. Without %s, it loads %s.env, which holds env alone.",
		SelectorVariable, prose.JoinWords(t.variants, "or"), name, SelectorVariable, name)
	t.port, t.svc.portComment = portOf(blocks)
}

func (t *appTranslator) addEnvFile(file, source string, vars []envVar) {
	header := fmt.Sprintf("# Environment of PM2 app %s: %s.\n", t.app.Name, source)
	t.envFiles = append(t.envFiles, EnvFile{Name: file, Content: []byte(header + formatEnvFile(vars))})
}

// envBlock returns the variables of the env block at key, sorted by name.
func (t *appTranslator) envBlock(key string) ([]envVar, error) {
	raw, ok := t.value(key)
	if !ok {
		return nil, nil
	}
	block, isObject := raw.(map[string]any)
	if !isObject {
		return nil, t.invalid(key, fmt.Errorf("%s is not an object of variable names and values",
			describe(raw)))
	}

	vars := make([]envVar, 0, len(block))
	for _, name := range slices.Sorted(maps.Keys(block)) {
		if !envKey.MatchString(name) {
			return nil, t.invalid(key, fmt.Errorf("variable name %q is not valid in an env file; "+
				"use letters, digits and underscores", name))
		}
		value, err := envValue(block[name])
		if err != nil {
			return nil, t.invalid(key+"."+name, err)
		}
		vars = append(vars, envVar{name, value})
	}
	return vars, nil
}

// mergeEnv returns base with over applied on top, sorted by name.
func mergeEnv(base, over []envVar) []envVar {
	merged := map[string]string{}
	for _, v := range slices.Concat(base, over) {
		merged[v.key] = v.value
	}
	vars := make([]envVar, 0, len(merged))
	for _, key := range slices.Sorted(maps.Keys(merged)) {
		vars = append(vars, envVar{key, merged[key]})
	}
	return vars
}

// portOf returns the port that the PORT variable of the blocks names: env's
// when it sets one, else the first variant's in name order. The returned
// comment names that block when the blocks disagree.
func portOf(blocks map[string][]envVar) (int, string) {
	ports := map[string]int{}
	for name, vars := range blocks {
		for _, v := range vars {
			n, err := strconv.Atoi(strings.TrimSpace(v.value))
			if v.key == "PORT" && err == nil && n > 0 && n < 65536 {
				ports[name] = n
			}
		}
	}
	if len(ports) == 0 {
		return 0, ""
	}

	names := slices.Sorted(maps.Keys(ports))
	chosen := names[0]
	if _, ok := ports["env"]; ok {
		chosen = "env"
	}
	for _, name := range names {
		if ports[name] != ports[chosen] {
			return ports[chosen], fmt.Sprintf("PORT differs between the env blocks; "+
				"this is %s's, so check ports and ready.port for the others.", chosen)
		}
	}
	return ports[chosen], ""
}

// formatEnvFile writes vars in Docker Compose's env file format. Every
// value is double-quoted with backslash escapes, so that no character of
// it is read as a comment, a quote or a variable reference.
func formatEnvFile(vars []envVar) string {
	var b strings.Builder
	for _, v := range vars {
		fmt.Fprintf(&b, "%s=\"%s\"\n", v.key, envFileEscaper.Replace(v.value))
	}
	return b.String()
}

var envFileEscaper = strings.NewReplacer(
	`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
