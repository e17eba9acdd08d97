//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// loadOptions shape the traffic of startLoad. Zero fields take the defaults
// below.
type loadOptions struct {
	// Clients is the number of keep-alive clients that send GET / in a loop.
	Clients int
	// Sleepers is the number of clients that send GET /sleep?d=SleepFor in a
	// loop, so that every drain has requests in flight.
	Sleepers int
	// SleepFor is the delay that each /sleep request requests.
	SleepFor time.Duration
	// Pace is the pause between two requests of one client. It keeps the
	// load from starving the engine and clusterctl of CPU.
	Pace time.Duration
	// MaxDuration stops the load even when Stop is never called.
	MaxDuration time.Duration
}

const (
	defaultLoadClients  = 16
	defaultLoadSleepers = 3
	defaultLoadSleepFor = 2 * time.Second
	defaultLoadPace     = 20 * time.Millisecond
	defaultLoadMax      = 5 * time.Minute
	// maxRecordedFailures bounds the failure messages a summary keeps.
	maxRecordedFailures = 20
)

func (o loadOptions) withDefaults() loadOptions {
	o.Clients = cmpOrInt(o.Clients, defaultLoadClients)
	o.Sleepers = cmpOrInt(o.Sleepers, defaultLoadSleepers)
	if o.SleepFor == 0 {
		o.SleepFor = defaultLoadSleepFor
	}
	if o.Pace == 0 {
		o.Pace = defaultLoadPace
	}
	if o.MaxDuration == 0 {
		o.MaxDuration = defaultLoadMax
	}
	return o
}

func cmpOrInt(v, fallback int) int {
	if v == 0 {
		return fallback
	}
	return v
}

// loadSummary is what a load run recorded.
type loadSummary struct {
	Duration time.Duration
	// Requests counts every request that ended, /sleep ones included;
	// SleepRequests counts the /sleep ones alone.
	Requests      int
	SleepRequests int
	// TransportErrors counts requests that got no response: refused or
	// reset connections, timeouts. Requests cut short when the maximum
	// duration passes are not counted.
	TransportErrors int
	// Non2xx counts responses with a status outside 200..299.
	Non2xx int
	// BadBodies counts 2xx responses whose body is not the worker's JSON.
	BadBodies int
	// Versions counts the responses per service.version in the body.
	Versions map[string]int
	// Instances maps the service.instance.id of every response to its version.
	Instances map[string]string
	// Seconds contains, per second since the start, the responses per
	// version and the instance IDs that sent them.
	Seconds []loadSecond
	// Failures are the first failures, each with its time since the start.
	Failures []string
}

// loadSecond is the traffic of one second of a load run.
type loadSecond struct {
	Versions  map[string]int
	Instances map[string]bool
}

// loadGen sends HTTP load through a front door until Stop is called or
// its maximum duration passes.
type loadGen struct {
	opts   loadOptions
	url    string
	start  time.Time
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// stopping is closed by Stop: clients send no new request, and the
	// requests in flight run to their end.
	stopping chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex
	summary loadSummary
}

// startLoad starts opts.Clients clients on GET / and opts.Sleepers clients
// on GET /sleep against the front door on 127.0.0.1:port. Each client has
// its own transport that keeps one connection alive. The load stops on
// Stop, after opts.MaxDuration, or at test cleanup.
func startLoad(t testing.TB, port int, opts loadOptions) *loadGen {
	t.Helper()
	opts = opts.withDefaults()
	url := loopbackURL(t, "127.0.0.1", port, "/")
	ctx, cancel := context.WithTimeout(context.Background(), opts.MaxDuration)
	l := &loadGen{opts: opts, url: url, start: time.Now(), ctx: ctx, cancel: cancel, stopping: make(chan struct{})}
	l.summary.Versions = map[string]int{}
	l.summary.Instances = map[string]string{}
	sleepURL := fmt.Sprintf("%ssleep?d=%s", url, opts.SleepFor)
	for range opts.Clients {
		l.wg.Go(func() { l.loop(url, 10*time.Second, false) })
	}
	for range opts.Sleepers {
		l.wg.Go(func() { l.loop(sleepURL, opts.SleepFor+10*time.Second, true) })
	}
	t.Cleanup(func() { l.Stop() })
	return l
}

// Stop ends the load and returns the summary. Requests in flight run to
// their end and count, so a load stopped after a rollout shorter than one
// /sleep still checks that request. Stop may be called more than once.
func (l *loadGen) Stop() loadSummary {
	l.stopOnce.Do(func() { close(l.stopping) })
	l.wg.Wait()
	l.cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.summary.Duration == 0 {
		l.summary.Duration = time.Since(l.start)
	}
	return l.summary
}

// loop is one client: one request at a time, Pace apart, until the load
// stops.
func (l *loadGen) loop(url string, timeout time.Duration, sleep bool) {
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1,
		DisableKeepAlives:   false,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: timeout}
	pace := time.NewTimer(0)
	defer pace.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-l.stopping:
			return
		case <-pace.C:
		}
		l.once(client, url, sleep)
		pace.Reset(l.opts.Pace)
	}
}

// once sends one request and records its outcome.
func (l *loadGen) once(client *http.Client, url string, sleep bool) {
	req, err := http.NewRequestWithContext(l.ctx, http.MethodGet, url, nil)
	if err != nil {
		l.fail(sleep, "transport", err)
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		l.fail(sleep, "transport", err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		l.fail(sleep, "transport", fmt.Errorf("read body after %s: %w", resp.Status, err))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		l.fail(sleep, "status", fmt.Errorf("%s: %.100s", resp.Status, body))
	default:
		l.record(sleep, body)
	}
}

// fail records a failed request unless the maximum duration cut it
// short.
func (l *loadGen) fail(sleep bool, kind string, err error) {
	if l.ctx.Err() != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count(sleep)
	switch kind {
	case "status":
		l.summary.Non2xx++
	case "body":
		l.summary.BadBodies++
	default:
		l.summary.TransportErrors++
	}
	if len(l.summary.Failures) < maxRecordedFailures {
		at := time.Since(l.start).Round(time.Millisecond)
		l.summary.Failures = append(l.summary.Failures, fmt.Sprintf("%s %s: %v", at, kind, err))
	}
}

// record counts a 2xx response by the version and instance in its body.
func (l *loadGen) record(sleep bool, body []byte) {
	var reply workerReply
	if err := json.Unmarshal(body, &reply); err != nil || reply.Version == "" || reply.InstanceID == "" {
		l.fail(sleep, "body", fmt.Errorf("not the worker's reply: %.100q", body))
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count(sleep)
	l.summary.Versions[reply.Version]++
	l.summary.Instances[reply.InstanceID] = reply.Version
	sec := l.second()
	sec.Versions[reply.Version]++
	sec.Instances[reply.InstanceID] = true
}

func (l *loadGen) count(sleep bool) {
	l.summary.Requests++
	if sleep {
		l.summary.SleepRequests++
	}
}

// second returns the bucket of the current second, adding empty ones up
// to it. The caller holds l.mu.
func (l *loadGen) second() *loadSecond {
	index := int(time.Since(l.start) / time.Second)
	for len(l.summary.Seconds) <= index {
		l.summary.Seconds = append(l.summary.Seconds, loadSecond{Versions: map[string]int{}, Instances: map[string]bool{}})
	}
	return &l.summary.Seconds[index]
}

// requireClean fails the test unless the load ran, no request failed, and
// every response came from one of the allowed versions.
func (s loadSummary) requireClean(t testing.TB, allowed ...string) {
	t.Helper()
	t.Logf("load: %d requests (%d /sleep) in %s, versions %v, %d instances\n%s",
		s.Requests, s.SleepRequests, s.Duration.Round(time.Millisecond), s.Versions, len(s.Instances), s.Timeline())
	if s.Requests-s.SleepRequests == 0 {
		t.Errorf("load sent no GET / request")
	}
	if s.SleepRequests == 0 {
		t.Errorf("load completed no /sleep request")
	}
	if s.TransportErrors != 0 {
		t.Errorf("%d requests failed without a response; first failures:\n%s", s.TransportErrors, strings.Join(s.Failures, "\n"))
	}
	if s.Non2xx != 0 {
		t.Errorf("%d responses had a status outside 2xx; first failures:\n%s", s.Non2xx, strings.Join(s.Failures, "\n"))
	}
	if s.BadBodies != 0 {
		t.Errorf("%d responses had a body that is not the worker's reply; first failures:\n%s", s.BadBodies, strings.Join(s.Failures, "\n"))
	}
	for version, n := range s.Versions {
		if !slices.Contains(allowed, version) {
			t.Errorf("%d responses came from version %q, want only %v", n, version, allowed)
		}
	}
}

// Timeline returns one line per second: the responses per version and the
// number of distinct instances that sent them.
func (s loadSummary) Timeline() string {
	var b strings.Builder
	for i, sec := range s.Seconds {
		fmt.Fprintf(&b, "  %3ds", i)
		for _, v := range slices.Sorted(maps.Keys(sec.Versions)) {
			fmt.Fprintf(&b, " %s:%d", v, sec.Versions[v])
		}
		fmt.Fprintf(&b, " instances:%d\n", len(sec.Instances))
	}
	return b.String()
}

// TestLoad_PlainUp checks the load generator itself against a plain up:
// every request succeeds, both request kinds run, and every instance
// answers.
func TestLoad_PlainUp(t *testing.T) {
	t.Parallel()
	p := newRolloutProject(t)
	port := freeLoopbackPort(t)
	p.writeRollout(rolloutSpec{}, composeVars{Image: workerImage, Port: port, Instances: 2})
	p.mustRun("up")

	load := startLoad(t, port, loadOptions{})
	eventually(t, 30*time.Second, func() error {
		s := load.snapshot()
		if s.SleepRequests < 2*defaultLoadSleepers || len(s.Instances) < 2 {
			return fmt.Errorf("load so far: %d /sleep requests, %d instances", s.SleepRequests, len(s.Instances))
		}
		return nil
	})
	s := load.Stop()

	s.requireClean(t, "v1")
	if len(s.Instances) != 2 {
		t.Errorf("responses came from %d instances, want 2: %v", len(s.Instances), s.Instances)
	}
	if len(s.Seconds) == 0 {
		t.Errorf("summary has no per-second timeline")
	}
}

// snapshot returns the counts so far while the load goes on. Its maps are
// copies.
func (l *loadGen) snapshot() loadSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.summary
	s.Duration = time.Since(l.start)
	s.Versions = maps.Clone(s.Versions)
	s.Instances = maps.Clone(s.Instances)
	s.Seconds = nil
	s.Failures = slices.Clone(s.Failures)
	return s
}
