package orchestrator

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"

	"github.com/clusterctl/clusterctl/compose"
)

// InjectedFile is a secret or config whose value comes from an environment
// variable or from content: in the file. Docker Compose copies such values
// into the container after create, and so does clusterctl. The template
// stores where the file goes, never its value, because the template is kept
// in a label: the value is read from the project when an instance is
// created.
type InjectedFile struct {
	// Kind is "secrets" or "configs", Name the key in that top-level section.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Target is the absolute path in the container.
	Target string `json:"target"`
	// Mode, UID and GID set the file's permissions and owner.
	Mode int64 `json:"mode"`
	UID  int   `json:"uid"`
	GID  int   `json:"gid"`
}

// defaultInjectedMode is the mode of a secret or config file without a mode
// key: readable by every user, as the Compose specification describes.
const defaultInjectedMode = 0o444

// injectedFiles returns the secrets and configs of the service that are
// copied into each instance. The engine copies into the container's root
// filesystem, which read_only: true forbids.
func (tr *translator) injectedFiles() ([]InjectedFile, error) {
	var files []InjectedFile
	for _, ref := range tr.svc.Config.Secrets {
		if tr.p.Model.Secrets[ref.Source].File == "" {
			files = append(files, injectedFile("secrets", types.FileReferenceConfig(ref), secretsDir))
		}
	}
	for _, ref := range tr.svc.Config.Configs {
		if tr.p.Model.Configs[ref.Source].File == "" {
			files = append(files, injectedFile("configs", types.FileReferenceConfig(ref), configsDir))
		}
	}
	for _, f := range files {
		if tr.svc.Config.ReadOnly {
			return nil, tr.invalid(f.Kind, "%s takes its value from environment: or content:, so "+
				"clusterctl copies it into each container, which read_only: true forbids; define it "+
				"with file: instead, which is mounted", f.Name)
		}
	}
	return files, nil
}

func injectedFile(kind string, ref types.FileReferenceConfig, dir string) InjectedFile {
	f := InjectedFile{Kind: kind, Name: ref.Source, Target: fileTarget(ref, dir), Mode: defaultInjectedMode}
	if ref.Mode != nil {
		f.Mode = int64(*ref.Mode)
	}
	f.UID, _ = strconv.Atoi(ref.UID)
	f.GID, _ = strconv.Atoi(ref.GID)
	return f
}

// injectFiles copies the injected secrets and configs into a created
// container, with the values the project has now. The copy keeps the
// archive's owner and mode: CopyUIDGID would chown every file to the
// container's user instead.
func (o *Orchestrator) injectFiles(ctx context.Context, p *compose.Project, id string, files []InjectedFile) error {
	if len(files) == 0 {
		return nil
	}
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	for _, f := range files {
		value, err := injectedValue(p, f)
		if err != nil {
			return err
		}
		header := &tar.Header{
			Name: strings.TrimPrefix(f.Target, "/"), Size: int64(len(value)), Mode: f.Mode,
			Uid: f.UID, Gid: f.GID, Typeflag: tar.TypeReg,
		}
		if err := tw.WriteHeader(header); err != nil {
			return fmt.Errorf("archive %s %s: %w", f.Kind, f.Name, err)
		}
		if _, err := tw.Write(value); err != nil {
			return fmt.Errorf("archive %s %s: %w", f.Kind, f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive secrets and configs: %w", err)
	}
	err := o.Engine.CopyToContainer(ctx, id, "/", &archive, container.CopyToContainerOptions{})
	if err != nil {
		return fmt.Errorf("copy secrets and configs into %s: %w", shortID(id), err)
	}
	return nil
}

// injectedValue returns the value of a secret or config from the project:
// its environment variable or its content.
func injectedValue(p *compose.Project, f InjectedFile) ([]byte, error) {
	var def types.FileObjectConfig
	var ok bool
	if f.Kind == "secrets" {
		var secret types.SecretConfig
		secret, ok = p.Model.Secrets[f.Name]
		def = types.FileObjectConfig(secret)
	} else {
		var config types.ConfigObjConfig
		config, ok = p.Model.Configs[f.Name]
		def = types.FileObjectConfig(config)
	}
	if !ok {
		return nil, fmt.Errorf("%s %s is no longer defined in the compose file, so its value is unknown; "+
			"define it again", f.Kind, f.Name)
	}
	if def.Environment == "" {
		return []byte(def.Content), nil
	}
	value, ok := p.Model.Environment[def.Environment]
	if !ok {
		return nil, fmt.Errorf("%s %s takes its value from the environment variable %s, which is not set; "+
			"set it", f.Kind, f.Name, def.Environment)
	}
	return []byte(value), nil
}
