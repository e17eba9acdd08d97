package monit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/system"

	"github.com/clusterctl/clusterctl/orchestrator"
)

// hostMemory is the MemTotal of the engine that recorded the stats samples.
const hostMemory = 25276071936

func readStats(t testing.TB, name string) container.StatsResponse {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var stats container.StatsResponse
	if err := json.Unmarshal(data, &stats); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return stats
}

func TestCPUPercent_Samples(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file string
		want float64
	}{
		// 96395010-68749400 ns of container CPU over 6106.69-6104.55 s of
		// host CPU time, times 2 online CPUs.
		{"stats-cgroup1-limit-busy.json", 27645610.0 / 2140000000.0 * 2 * 100},
		{"stats-cgroup1-limit-idle.json", 0},
		{"stats-stopped.json", 0},
		{"constructed-cgroup2.json", 50},
		{"constructed-no-online-cpus.json", 27645610.0 / 2140000000.0 * 2 * 100},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			got := cpuPercent(readStats(t, tc.file))
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("cpuPercent = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCPUPercent_CounterReset(t *testing.T) {
	t.Parallel()
	stats := readStats(t, "stats-cgroup1-limit-busy.json")
	stats.CPUStats, stats.PreCPUStats = stats.PreCPUStats, stats.CPUStats
	if got := cpuPercent(stats); got != 0 {
		t.Errorf("cpuPercent with counters going backwards = %v, want 0", got)
	}
}

func TestMemoryUsage_Samples(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file      string
		wantUsage uint64
		wantLimit uint64
	}{
		{"stats-cgroup1-limit-busy.json", 16461824 - 13307904, 128 << 20},
		{"stats-cgroup1-limit-idle.json", 15757312 - 13467648, 64 << 20},
		{"stats-cgroup1-nolimit.json", 15618048 - 13430784, hostMemory},
		{"stats-stopped.json", 0, 0},
		{"constructed-cgroup2.json", 52428800 - 10485760, 256 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			stats := readStats(t, tc.file)
			if got := memoryUsage(stats.MemoryStats); got != tc.wantUsage {
				t.Errorf("memoryUsage = %d, want %d", got, tc.wantUsage)
			}
			if got := stats.MemoryStats.Limit; got != tc.wantLimit {
				t.Errorf("limit = %d, want %d", got, tc.wantLimit)
			}
		})
	}
}

func TestMemoryUsage_CacheAboveUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		mem  container.MemoryStats
		want uint64
	}{
		{"cgroup v1", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"total_inactive_file": 150}}, 100},
		{"cgroup v2", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"inactive_file": 150}}, 100},
		{"no stats", container.MemoryStats{Usage: 100}, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := memoryUsage(tc.mem); got != tc.want {
				t.Errorf("memoryUsage = %d, want %d", got, tc.want)
			}
		})
	}
}

// fakeLister returns fixed statuses.
type fakeLister struct {
	statuses []orchestrator.InstanceStatus
	err      error
	project  string
	services []string
}

func (f *fakeLister) PS(_ context.Context, project string, services []string) ([]orchestrator.InstanceStatus, error) {
	f.project, f.services = project, services
	return f.statuses, f.err
}

// fakeStats serves recorded stats by container ID. A call for an ID
// without a file fails. When release is set, each call waits for a value
// on it, so that a test can count the calls in flight. The first
// failingInfos calls of Info fail.
type fakeStats struct {
	files        map[string]string
	release      chan struct{}
	failingInfos int

	mu       sync.Mutex
	calls    []string
	inFlight int
	maxIn    int
}

func (f *fakeStats) ContainerStats(ctx context.Context, id string, stream bool) (container.StatsResponseReader, error) {
	f.enter(id)
	defer f.leave()
	if stream {
		return container.StatsResponseReader{}, errors.New("stream=true requested")
	}
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return container.StatsResponseReader{}, ctx.Err()
		}
	}
	name, ok := f.files[id]
	if !ok {
		return container.StatsResponseReader{}, errors.New("no such container: " + id)
	}
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		return container.StatsResponseReader{}, err
	}
	return container.StatsResponseReader{Body: io.NopCloser(bytes.NewReader(data))}, nil
}

func (f *fakeStats) Info(context.Context) (system.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failingInfos > 0 {
		f.failingInfos--
		return system.Info{}, errors.New("engine info timed out")
	}
	return system.Info{MemTotal: hostMemory}, nil
}

func (f *fakeStats) enter(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, id)
	f.inFlight++
	f.maxIn = max(f.maxIn, f.inFlight)
}

func (f *fakeStats) leave() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight--
}

func (f *fakeStats) current() (inFlight, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inFlight, len(f.calls)
}

func TestDockerSource_Snapshot(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 17, 10, 0, 0, time.UTC)
	started := now.Add(-90 * time.Second)
	lister := &fakeLister{statuses: []orchestrator.InstanceStatus{
		{Service: "api", Slot: 0, Name: "p-api-0-a", ID: "busy", State: "ready", Health: "none", StartedAt: &started},
		{Service: "api", Slot: 1, Name: "p-api-1-b", ID: "nolimit", State: "ready", Health: "none", Restarts: 2, StartedAt: &started},
		{Service: "api", Slot: 2, Name: "p-api-2-c", ID: "gone", State: "starting", Health: "starting", StartedAt: &started},
		{Service: "web", Slot: 0, Name: "p-web-0-d", ID: "dead", State: "exited", ExitCode: 3, StartedAt: &started},
	}}
	engine := &fakeStats{files: map[string]string{
		"busy": "stats-cgroup1-limit-busy.json", "nolimit": "stats-cgroup1-nolimit.json", "dead": "stats-stopped.json",
	}}
	source := &DockerSource{Project: "p", Services: []string{"api", "web"}, Lister: lister, Engine: engine, Now: func() time.Time { return now }}

	rows, err := source.Snapshot(t.Context())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}

	if lister.project != "p" || len(lister.services) != 2 {
		t.Errorf("PS called with project %q services %v, want p [api web]", lister.project, lister.services)
	}
	if len(rows) != 4 {
		t.Fatalf("got %d rows, want 4: %+v", len(rows), rows)
	}
	busy, nolimit, failed, dead := rows[0], rows[1], rows[2], rows[3]
	want := Row{
		Service: "api", Slot: 0, Name: "p-api-0-a", ID: "busy", State: "ready", Health: "none",
		Uptime: 90 * time.Second, Measured: true, CPUPercent: 27645610.0 / 2140000000.0 * 2 * 100,
		MemoryBytes: 16461824 - 13307904, MemoryLimit: 128 << 20,
	}
	if busy != want {
		t.Errorf("busy row =\n%+v\nwant\n%+v", busy, want)
	}
	if !nolimit.Measured {
		t.Errorf("unlimited row = %+v, want measured", nolimit)
	}
	if nolimit.MemoryLimit != 0 {
		t.Errorf("unlimited row has limit %d, want 0 because the engine reports the host memory", nolimit.MemoryLimit)
	}
	if nolimit.Restarts != 2 {
		t.Errorf("unlimited row has %d restarts, want 2", nolimit.Restarts)
	}
	if failed.Measured {
		t.Errorf("row whose stats failed = %+v, want unmeasured", failed)
	}
	if failed.State != "starting" || failed.Uptime != 90*time.Second {
		t.Errorf("row whose stats failed = %+v, want its state and uptime kept", failed)
	}
	if dead.Measured {
		t.Errorf("exited row = %+v, want unmeasured", dead)
	}
	if dead.Uptime != 0 {
		t.Errorf("exited row has uptime %s, want 0", dead.Uptime)
	}
	if dead.ExitCode != 3 {
		t.Errorf("exited row has exit code %d, want 3", dead.ExitCode)
	}
	for _, id := range engine.calls {
		if id == "dead" {
			t.Errorf("stats requested for the exited instance")
		}
	}
}

func TestDockerSource_InfoErrorRetried(t *testing.T) {
	t.Parallel()
	lister := &fakeLister{statuses: []orchestrator.InstanceStatus{{Service: "api", ID: "nolimit", State: "ready"}}}
	engine := &fakeStats{files: map[string]string{"nolimit": "stats-cgroup1-nolimit.json"}, failingInfos: 1}
	source := &DockerSource{Project: "p", Lister: lister, Engine: engine}

	first, err := source.Snapshot(t.Context())
	if err != nil {
		t.Fatalf("first Snapshot: %v", err)
	}
	second, err := source.Snapshot(t.Context())
	if err != nil {
		t.Fatalf("second Snapshot: %v", err)
	}

	if first[0].MemoryLimit != hostMemory {
		t.Errorf("limit without the host memory = %d, want the engine's %d", first[0].MemoryLimit, uint64(hostMemory))
	}
	if second[0].MemoryLimit != 0 {
		t.Errorf("limit after Info succeeded = %d, want 0", second[0].MemoryLimit)
	}
}

func TestDockerSource_ListError(t *testing.T) {
	t.Parallel()
	source := &DockerSource{Project: "p", Lister: &fakeLister{err: errors.New("list containers: engine down")}, Engine: &fakeStats{}}

	rows, err := source.Snapshot(t.Context())

	if err == nil || err.Error() != "list containers: engine down" {
		t.Errorf("Snapshot error = %v, want the lister's error", err)
	}
	if rows != nil {
		t.Errorf("Snapshot rows = %v, want none", rows)
	}
}

func TestDockerSource_ParallelismBound(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const instances, parallelism = 6, 2
		var statuses []orchestrator.InstanceStatus
		files := map[string]string{}
		for slot := range instances {
			id := string(rune('a' + slot))
			statuses = append(statuses, orchestrator.InstanceStatus{Service: "api", Slot: slot, ID: id, State: "ready"})
			files[id] = "stats-cgroup1-limit-idle.json"
		}
		engine := &fakeStats{files: files, release: make(chan struct{})}
		source := &DockerSource{Project: "p", Lister: &fakeLister{statuses: statuses}, Engine: engine, Parallelism: parallelism}
		done := make(chan []Row)
		go func() {
			rows, _ := source.Snapshot(t.Context())
			done <- rows
		}()

		for released := 0; released < instances; released++ {
			synctest.Wait()
			inFlight, calls := engine.current()
			want := min(parallelism, instances-released)
			if inFlight != want {
				t.Fatalf("after %d of %d calls finished: %d calls in flight, want %d", released, calls, inFlight, want)
			}
			engine.release <- struct{}{}
		}
		rows := <-done

		if engine.maxIn != parallelism {
			t.Errorf("at most %d calls were in flight, want %d", engine.maxIn, parallelism)
		}
		for _, row := range rows {
			if !row.Measured {
				t.Errorf("row %s.%d not measured", row.Service, row.Slot)
			}
		}
	})
}
