// Command telemetry summarizes what the demo collector received: it reads
// the collector's OTLP JSON lines on standard input and prints one row per
// service.instance.id with the number of spans and metric data points.
//
//	docker cp COLLECTOR:/data/telemetry.jsonl - | tar -xO | go run ./deployments/demo/telemetry
//
// With -require N -service NAME it exits 1 unless at least N instances of
// that service sent both spans and metrics, so a script can poll.
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
)

type attribute struct {
	Key   string `json:"key"`
	Value struct {
		StringValue string `json:"stringValue"`
	} `json:"value"`
}

type resource struct {
	Attributes []attribute `json:"attributes"`
}

type exportRequest struct {
	ResourceSpans []struct {
		Resource   resource `json:"resource"`
		ScopeSpans []struct {
			Spans []json.RawMessage `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
	ResourceMetrics []struct {
		Resource     resource `json:"resource"`
		ScopeMetrics []struct {
			Metrics []json.RawMessage `json:"metrics"`
		} `json:"scopeMetrics"`
	} `json:"resourceMetrics"`
}

// instance is one row of the summary.
type instance struct {
	service, namespace, id, container, version string
	spans, metrics                             int
}

func main() {
	require := flag.Int("require", 0, "exit 1 unless this many instances of -service sent spans and metrics")
	service := flag.String("service", "", "service name that -require counts")
	flag.Parse()
	rows, err := summarize(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "telemetry: %v\n", err)
		os.Exit(1)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tNAMESPACE\tVERSION\tSERVICE.INSTANCE.ID\tCONTAINER\tSPANS\tMETRICS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", r.service, r.namespace, r.version, r.id, r.container, r.spans, r.metrics)
	}
	tw.Flush()
	complete := 0
	for _, r := range rows {
		if r.service == *service && r.spans > 0 && r.metrics > 0 {
			complete++
		}
	}
	if complete < *require {
		os.Exit(1)
	}
}

func summarize(r io.Reader) ([]*instance, error) {
	byID := map[string]*instance{}
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	for scanner.Scan() {
		var req exportRequest
		if json.Unmarshal(scanner.Bytes(), &req) != nil {
			continue
		}
		for _, rs := range req.ResourceSpans {
			row := lookup(byID, rs.Resource)
			for _, ss := range rs.ScopeSpans {
				row.spans += len(ss.Spans)
			}
		}
		for _, rm := range req.ResourceMetrics {
			row := lookup(byID, rm.Resource)
			for _, sm := range rm.ScopeMetrics {
				row.metrics += len(sm.Metrics)
			}
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read telemetry: %w", err)
	}
	rows := make([]*instance, 0, len(byID))
	for _, row := range byID {
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b *instance) int {
		return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.container, b.container))
	})
	return rows, nil
}

func lookup(byID map[string]*instance, res resource) *instance {
	attrs := map[string]string{}
	for _, a := range res.Attributes {
		attrs[a.Key] = a.Value.StringValue
	}
	id := attrs["service.instance.id"]
	row, ok := byID[id]
	if !ok {
		row = &instance{service: attrs["service.name"], namespace: attrs["service.namespace"], id: id,
			container: attrs["container.name"], version: attrs["service.version"]}
		byID[id] = row
	}
	return row
}
