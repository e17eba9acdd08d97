// Command otelcol is the OpenTelemetry Collector distribution of the clusterctl
// demo and end-to-end tests, built from core collector v0.165.0 and contrib
// v0.165.1.
//
// It contains the OTLP receiver (gRPC on 4317, HTTP on 4318), the batch
// processor, the debug exporter and the file exporter. The default
// configuration, config.yaml, is embedded in the binary and writes every
// signal as OTLP JSON lines to /data/telemetry.jsonl.
//
// Flags work as in the upstream collector. Without --config the embedded
// configuration is used, and --set flags apply on top of it. One or more
// --config flags replace the embedded configuration. The image ships the same
// file as /etc/otelcol/config.yaml for layering, for example
// --config=file:/etc/otelcol/config.yaml --config=file:/extra.yaml.
package main

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

// version is the reported build version: the core collector release plus a
// suffix that marks this distribution.
const version = "0.165.0-clusterctl"

//go:embed config.yaml
var defaultConfig string

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "otelcol:", err)
		os.Exit(1)
	}
}

// run executes the collector command line with args, which exclude the
// program name.
func run(args []string) error {
	cmd := otelcol.NewCommand(settings())
	cmd.SetArgs(withDefaultConfig(args))

	return cmd.Execute()
}

func settings() otelcol.CollectorSettings {
	return otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol",
			Description: "clusterctl demo OpenTelemetry Collector",
			Version:     version,
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
				DefaultScheme: "env",
			},
		},
	}
}

// withDefaultConfig prepends the embedded configuration to args when they run
// the collector itself (no subcommand) and name no --config. The upstream
// command replaces its default URIs with --set values when no --config is
// given, so the default has to be a flag for --set to layer on top of it.
func withDefaultConfig(args []string) []string {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args
	}
	for _, arg := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if strings.HasPrefix(arg, "-") && name == "config" {
			return args
		}
	}

	return append([]string{"--config=yaml:" + defaultConfig}, args...)
}

// components returns the factories of every component this distribution
// contains.
func components() (otelcol.Factories, error) {
	receivers, errReceivers := otelcol.MakeFactoryMap(otlpreceiver.NewFactory())
	processors, errProcessors := otelcol.MakeFactoryMap(batchprocessor.NewFactory())
	exporters, errExporters := otelcol.MakeFactoryMap(
		debugexporter.NewFactory(),
		fileexporter.NewFactory(),
	)
	factories := otelcol.Factories{
		Receivers:  receivers,
		Processors: processors,
		Exporters:  exporters,
		Telemetry:  otelconftelemetry.NewFactory(),
	}
	if err := errors.Join(errReceivers, errProcessors, errExporters); err != nil {
		return otelcol.Factories{}, fmt.Errorf("collector components: %w", err)
	}

	return factories, nil
}
