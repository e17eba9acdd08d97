package orchestrator

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
)

// storage sets the service's volumes, secrets and configs. Bind mounts go
// to Binds as "source:target:options", as Docker Compose passes them,
// because only that form creates a missing host directory and carries the
// SELinux relabel options z and Z. A bind with create_host_path: false or
// a recursive option needs the Mount API, which has no relabel option.
// Named volumes and tmpfs mounts use the Mount API.
func (tr *translator) storage(host *container.HostConfig) error {
	targets := map[string]bool{}
	for _, v := range tr.svc.Config.Volumes {
		targets[v.Target] = true
		if v.Type == types.VolumeTypeBind && !needsMountAPI(v.Bind) {
			host.Binds = append(host.Binds, tr.bind(v))
			continue
		}
		m, err := tr.mount(v)
		if err != nil {
			return err
		}
		host.Mounts = append(host.Mounts, m)
	}
	files, err := tr.fileMounts()
	if err != nil {
		return err
	}
	for _, m := range files {
		if !targets[m.Target] {
			host.Mounts = append(host.Mounts, m)
		}
	}
	return nil
}

func needsMountAPI(bind *types.ServiceVolumeBind) bool {
	return bind != nil && (!bool(bind.CreateHostPath) || bind.Recursive != "")
}

// bind writes a bind mount in the Binds form.
func (tr *translator) bind(v types.ServiceVolumeConfig) string {
	options := []string{"rw"}
	if v.ReadOnly {
		options[0] = "ro"
	}
	if v.Bind != nil && v.Bind.SELinux != "" {
		options = append(options, v.Bind.SELinux)
	}
	if v.Bind != nil && v.Bind.Propagation != "" {
		options = append(options, v.Bind.Propagation)
	}
	if v.Consistency != "" && v.Consistency != "default" {
		options = append(options, v.Consistency)
	}
	return tr.hostPath(v.Source) + ":" + v.Target + ":" + strings.Join(options, ",")
}

func (tr *translator) hostPath(source string) string {
	if filepath.IsAbs(source) {
		return source
	}
	return filepath.Join(tr.p.WorkingDir, source)
}

// mount translates a volume for the Mount API.
func (tr *translator) mount(v types.ServiceVolumeConfig) (mount.Mount, error) {
	m := mount.Mount{Target: v.Target, ReadOnly: v.ReadOnly, Consistency: mount.Consistency(v.Consistency)}
	switch v.Type {
	case types.VolumeTypeBind:
		m.Type, m.Source = mount.TypeBind, tr.hostPath(v.Source)
		m.BindOptions = tr.bindOptions(v)
	case types.VolumeTypeVolume:
		m.Type, m.Source = mount.TypeVolume, v.Source
		if vol, ok := tr.p.Model.Volumes[v.Source]; ok && vol.Name != "" {
			m.Source = vol.Name
		}
		m.VolumeOptions = tr.volumeOptions(v)
	case types.VolumeTypeTmpfs:
		m.Type = mount.TypeTmpfs
		if v.Tmpfs != nil {
			m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size), Mode: os.FileMode(v.Tmpfs.Mode)}
		}
	default:
		return m, tr.invalid("volumes", "volume %s has type %q, which the engine's API 1.41 does not "+
			"support; use bind, volume or tmpfs", v.Target, v.Type)
	}
	return m, nil
}

func (tr *translator) bindOptions(v types.ServiceVolumeConfig) *mount.BindOptions {
	if v.Bind == nil {
		return nil
	}
	if v.Bind.SELinux != "" {
		tr.warn("volumes", "%s: selinux %q is not applied: with create_host_path: false or recursive "+
			"the mount needs the engine's Mount API, which has no relabel option; relabel the host "+
			"directory with chcon, or drop create_host_path and recursive", v.Target, v.Bind.SELinux)
	}
	opts := &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}
	switch v.Bind.Recursive {
	case "disabled":
		opts.NonRecursive = true
	case "writable":
		opts.ReadOnlyNonRecursive = true
	case "readonly":
		opts.ReadOnlyForceRecursive = true
	}
	return opts
}

func (tr *translator) volumeOptions(v types.ServiceVolumeConfig) *mount.VolumeOptions {
	if v.Volume == nil || (!v.Volume.NoCopy && v.Volume.Subpath == "" && len(v.Volume.Labels) == 0) {
		return nil
	}
	opts := &mount.VolumeOptions{NoCopy: v.Volume.NoCopy, Subpath: v.Volume.Subpath}
	if len(v.Volume.Labels) > 0 {
		opts.Labels = map[string]string(v.Volume.Labels)
	}
	if v.Volume.Subpath != "" {
		tr.warn("volumes", "%s: subpath needs Docker API 1.45 or later; older engines mount the "+
			"whole volume", v.Target)
	}
	return opts
}

// tmpfs returns the tmpfs key as the engine's map of target to options.
func tmpfs(paths []string) map[string]string {
	if len(paths) == 0 {
		return nil
	}
	out := make(map[string]string, len(paths))
	for _, p := range paths {
		target, opts, _ := strings.Cut(p, ":")
		out[target] = opts
	}
	return out
}

// fileMounts bind-mounts the files of the service's secrets and configs
// read-only, as Docker Compose does: a secret at /run/secrets/<name> or its
// target, a config at /<name> or its target. uid, gid and mode cannot be
// set on a bind mount and are left out with a warning, as Docker Compose
// does. Secrets and configs with an environment: or content: source are
// not mounted but copied into each instance: see injectedFiles.
func (tr *translator) fileMounts() ([]mount.Mount, error) {
	var mounts []mount.Mount
	for _, ref := range tr.svc.Config.Secrets {
		def := tr.p.Model.Secrets[ref.Source]
		if def.File == "" {
			continue
		}
		m, err := tr.fileMount("secrets", types.FileReferenceConfig(ref), def.File, secretsDir)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, m)
	}
	for _, ref := range tr.svc.Config.Configs {
		def := tr.p.Model.Configs[ref.Source]
		if def.File == "" {
			continue
		}
		m, err := tr.fileMount("configs", types.FileReferenceConfig(ref), def.File, configsDir)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, m)
	}
	slices.SortStableFunc(mounts, func(a, b mount.Mount) int { return strings.Compare(a.Target, b.Target) })
	return mounts, nil
}

// Where secrets and configs go without a target, and where a relative
// target is placed, as in Docker Compose.
const (
	secretsDir = "/run/secrets/"
	configsDir = "/"
)

// fileTarget returns the path of a secret or config in the container.
func fileTarget(ref types.FileReferenceConfig, dir string) string {
	switch {
	case ref.Target == "":
		return dir + ref.Source
	case !path.IsAbs(ref.Target):
		return dir + ref.Target
	default:
		return ref.Target
	}
}

func (tr *translator) fileMount(key string, ref types.FileReferenceConfig, file, dir string) (mount.Mount, error) {
	target := fileTarget(ref, dir)
	if ref.UID != "" || ref.GID != "" || ref.Mode != nil {
		tr.warn(key, "%s: uid, gid and mode are not applied, because the file is bind-mounted "+
			"with the host file's owner and mode; set them on the host file", ref.Source)
	}
	source := tr.hostPath(file)
	_, err := os.Stat(source)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return mount.Mount{}, tr.invalid(key, "the file %s of %s does not exist; create it or fix "+
			"the file: path in the top-level %s section", source, ref.Source, key)
	case err != nil:
		return mount.Mount{}, tr.invalid(key, "cannot read the file %s of %s: %v", source, ref.Source, err)
	}
	return mount.Mount{Type: mount.TypeBind, Source: source, Target: target, ReadOnly: true}, nil
}
