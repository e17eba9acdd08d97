// Command floor is the baseline of the up benchmark. It makes the engine
// calls that `clusterctl up` makes for one service without a healthcheck,
// and nothing else. Its run time is the floor that clusterctl is measured
// against.
//
// It creates one network, then for each of -n instances a container (one
// network, restart policy unless-stopped, the labels clusterctl sets) that it
// starts and inspects until it has been running for -min-uptime. That gate
// is clusterctl's default readiness for a service without a healthcheck or
// ready probe, and the floor inspects at the moments clusterctl does: when
// the uptime is reached, at most a second apart. With -min-uptime 0 it
// returns once every container started, as clusterctl up --detach does,
// and inspects none. At most -parallel
// instances are in ContainerCreate or ContainerStart at once. The wait runs
// outside that bound unless -wait-in-slot is set, which holds the slot until
// the instance is ready.
//
// Every container and the network carry the label io.clusterctl.bench=PREFIX.
// "floor -prefix PREFIX -cleanup" removes everything with that label and
// exits.
//
// "floor -n N -wait-label KEY=VALUE" creates nothing. It waits, with the same
// gate, until the N containers that carry the label have run for
// -min-uptime, so that a tool that returns when its containers started, such
// as docker-compose up -d, can be timed to the point where clusterctl returns.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
)

// labelBench marks everything one floor run creates. Its value is the prefix.
const labelBench = "io.clusterctl.bench"

// pollInterval is clusterctl's interval between two ContainerInspect calls
// while an instance has not started yet, and uptimePollLimit the longest
// wait before the next call while the instance runs.
const (
	pollInterval    = 200 * time.Millisecond
	uptimePollLimit = time.Second
)

// service is the compose service name the floor imitates.
const service = "app"

// options is the set of command-line flags.
type options struct {
	count       int
	image       string
	prefix      string
	parallel    int
	minUptime   time.Duration
	timeout     time.Duration
	waitInSlot  bool
	cleanupOnly bool
	waitLabel   string
	// network is the name of the network that the instances join.
	network string
}

func main() {
	opts := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func parseFlags() options {
	var opts options
	flag.IntVar(&opts.count, "n", 20, "number of instances to bring up")
	flag.StringVar(&opts.image, "image", "clusterctl-bench/worker:v1",
		"local image of the instances; it is never pulled")
	flag.StringVar(&opts.prefix, "prefix", "bench-floor",
		"prefix of container and network names, and value of the label "+labelBench)
	flag.IntVar(&opts.parallel, "parallel", 8,
		"instances in ContainerCreate or ContainerStart at once, as clusterctl up --parallel")
	flag.DurationVar(&opts.minUptime, "min-uptime", time.Second,
		"time an instance must run to count as ready, clusterctl's default gate")
	flag.DurationVar(&opts.timeout, "timeout", 5*time.Minute, "deadline of the whole run")
	flag.BoolVar(&opts.waitInSlot, "wait-in-slot", false,
		"hold a -parallel slot until the instance is ready, not only through create and start")
	flag.BoolVar(&opts.cleanupOnly, "cleanup", false,
		"remove every container and network labelled "+labelBench+"=PREFIX and exit")
	flag.StringVar(&opts.waitLabel, "wait-label", "",
		"create nothing: wait until the -n containers labelled KEY=VALUE have run for -min-uptime")
	flag.Parse()
	opts.network = opts.prefix + "_default"
	return opts
}

func run(ctx context.Context, opts options) error {
	if opts.count < 1 || opts.parallel < 1 {
		return fmt.Errorf("invalid -n %d or -parallel %d: set both to 1 or more",
			opts.count, opts.parallel)
	}
	if opts.minUptime < 0 {
		return fmt.Errorf("invalid -min-uptime %s: use 0 or more", opts.minUptime)
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	if opts.cleanupOnly {
		return cleanup(ctx, cli, opts.prefix)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	if opts.waitLabel != "" {
		return waitLabelled(ctx, cli, opts)
	}
	start := time.Now()
	if err := up(ctx, cli, opts); err != nil {
		return err
	}
	fmt.Printf("floor: %d instances running for %s each in %.3fs "+
		"(the wait is clusterctl's default readiness gate without a healthcheck)\n",
		opts.count, opts.minUptime, time.Since(start).Seconds())
	return nil
}

// up creates the network, then brings up every instance. The first error
// cancels the others and is the one returned.
func up(ctx context.Context, cli *client.Client, opts options) error {
	labels := map[string]string{labelBench: opts.prefix}
	_, err := cli.NetworkCreate(ctx, opts.network, network.CreateOptions{Labels: labels})
	if err != nil {
		return fmt.Errorf("create network %s: %w", opts.network, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, opts.parallel)
	var wg sync.WaitGroup
	for slot := range opts.count {
		wg.Go(func() {
			if err := instance(ctx, cli, opts, slot, sem); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// instance creates and starts one container while holding a slot of sem,
// then waits until it is ready.
func instance(ctx context.Context, cli *client.Client, opts options, slot int, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	release := sync.OnceFunc(func() { <-sem })
	defer release()
	id, err := createAndStart(ctx, cli, opts, slot)
	if err != nil {
		return err
	}
	if opts.minUptime == 0 {
		return nil
	}
	if !opts.waitInSlot {
		release()
	}
	return waitRunning(ctx, cli, id, opts.minUptime)
}

func createAndStart(ctx context.Context, cli *client.Client, opts options, slot int) (string, error) {
	name := fmt.Sprintf("%s-%s-%d", opts.prefix, service, slot)
	cfg := &container.Config{
		Image: opts.image,
		Env:   []string{"OTEL_SDK_DISABLED=true"},
		Labels: map[string]string{
			labelBench:                 opts.prefix,
			"io.clusterctl.project":    opts.prefix,
			"io.clusterctl.service":    service,
			"io.clusterctl.instance":   strconv.Itoa(slot),
			"io.clusterctl.role":       "instance",
			"io.clusterctl.instances":  strconv.Itoa(opts.count),
			"io.clusterctl.image":      opts.image,
			"io.clusterctl.bench.kind": "floor",
		},
	}
	host := &container.HostConfig{
		NetworkMode:   container.NetworkMode(opts.network),
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
	}
	netCfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		opts.network: {Aliases: []string{service}},
	}}
	created, err := cli.ContainerCreate(ctx, cfg, host, netCfg, nil, name)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return "", fmt.Errorf("start %s: %w", name, err)
	}
	return created.ID, nil
}

// waitRunning polls a container until it has been running for minUptime,
// and fails when it stops or restarts first.
func waitRunning(ctx context.Context, cli *client.Client, id string, minUptime time.Duration) error {
	for {
		info, err := cli.ContainerInspect(ctx, id)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", id[:12], err)
		}
		state := info.State
		if !state.Running || state.Restarting || info.RestartCount > 0 {
			return fmt.Errorf("container %s is %s (exit code %d, restarts %d) before %s of uptime",
				info.Name, state.Status, state.ExitCode, info.RestartCount, minUptime)
		}
		wait := pollInterval
		started, err := time.Parse(time.RFC3339Nano, state.StartedAt)
		if err == nil && !started.IsZero() {
			remaining := minUptime - time.Since(started)
			if remaining <= 0 {
				return nil
			}
			wait = min(remaining+time.Millisecond, uptimePollLimit)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(wait):
		}
	}
}

// waitLabelled waits until each container labelled opts.waitLabel has run
// for opts.minUptime. It fails when their number is not opts.count, or when
// one stops or restarts first.
func waitLabelled(ctx context.Context, cli *client.Client, opts options) error {
	byLabel := filters.NewArgs(filters.Arg("label", opts.waitLabel))
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: byLabel})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	if len(list) != opts.count {
		return fmt.Errorf("found %d containers labelled %s, expected %d; set -n to their number",
			len(list), opts.waitLabel, opts.count)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, c := range list {
		wg.Go(func() {
			if err := waitRunning(ctx, cli, c.ID, opts.minUptime); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// cleanup force-removes every container and network labelled with prefix,
// containers first because a network in use cannot be removed.
func cleanup(ctx context.Context, cli *client.Client, prefix string) error {
	byLabel := filters.NewArgs(filters.Arg("label", labelBench+"="+prefix))
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: byLabel})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(list)+1)
	for i, c := range list {
		wg.Go(func() {
			if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
				errs[i] = fmt.Errorf("remove container %s: %w", c.ID[:12], err)
			}
		})
	}
	wg.Wait()
	errs[len(list)] = removeNetworks(ctx, cli, byLabel)
	return errors.Join(errs...)
}

func removeNetworks(ctx context.Context, cli *client.Client, byLabel filters.Args) error {
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: byLabel})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	var errs []error
	for _, n := range nets {
		if err := cli.NetworkRemove(ctx, n.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}
