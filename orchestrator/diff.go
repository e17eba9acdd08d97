package orchestrator

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// DiffSpecs compares two template specs, as stored in LabelSpec, and
// returns one entry per changed setting. Environment variables are listed
// by name only, because their values may be secrets.
func DiffSpecs(old, new string) []string {
	var a, b map[string]any
	if json.Unmarshal([]byte(old), &a) != nil {
		return []string{"the running instances carry no readable configuration label"}
	}
	if err := json.Unmarshal([]byte(new), &b); err != nil {
		return []string{fmt.Sprintf("unreadable new configuration: %v", err)}
	}
	var changes []string
	if env := diffEnv(a, b); env != "" {
		changes = append(changes, env)
	}
	for _, section := range []string{"env", "config", "host"} {
		aa, _ := a[section].(map[string]any)
		bb, _ := b[section].(map[string]any)
		delete(aa, "Vars")
		delete(bb, "Vars")
		for _, key := range changedKeys(aa, bb) {
			changes = append(changes, section+"."+key)
		}
		delete(a, section)
		delete(b, section)
	}
	changes = append(changes, changedKeys(a, b)...)
	if len(changes) == 0 {
		return []string{"no setting differs; the revision scheme changed"}
	}
	return changes
}

func changedKeys(a, b map[string]any) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var changed []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !reflect.DeepEqual(a[k], b[k]) {
			changed = append(changed, k)
		}
	}
	return changed
}

func diffEnv(a, b map[string]any) string {
	before, after := envNames(a), envNames(b)
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[name]; !ok {
			parts = append(parts, "+"+name)
		} else if before[name] != after[name] {
			parts = append(parts, "~"+name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(before)) {
		if _, ok := after[name]; !ok {
			parts = append(parts, "-"+name)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "environment (" + strings.Join(parts, " ") + ")"
}

func envNames(spec map[string]any) map[string]string {
	env, _ := spec["env"].(map[string]any)
	vars, _ := env["Vars"].([]any)
	out := map[string]string{}
	for _, v := range vars {
		s, _ := v.(string)
		name, value, _ := strings.Cut(s, "=")
		out[name] = value
	}
	return out
}
