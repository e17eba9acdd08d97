package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// Modes of a front door.
const (
	ModeHTTP = "http" // balances per request and speaks HTTP/1.1 to clients and backends
	ModeTCP  = "tcp"  // balances per connection and copies bytes both ways
)

// Defaults used when the matching Config or Membership field is zero.
const (
	DefaultAdminSocket     = "/run/clusterctl/admin.sock"
	DefaultDrainTimeout    = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultDialTimeout     = 3 * time.Second
	DefaultIdleTimeout     = 30 * time.Second // for idle upstream connections
	DefaultMaxIdlePerPort  = 256              // idle upstream connections per backend and port
)

// Config sets up a front door for [Serve].
type Config struct {
	// Mode is ModeHTTP or ModeTCP.
	Mode string
	// Ports are the ports to listen on. A backend is dialled on the same port number.
	Ports []int
	// ListenAddr is the IP address to listen on; empty listens on all interfaces.
	ListenAddr string
	// AdminSocket is the path of the admin unix socket; empty means DefaultAdminSocket.
	// Its directory is created (mode 0700) when missing, and the socket gets mode 0600.
	AdminSocket string
	// Service is the service name, used in logs and in the body of the 503 response.
	Service string
	// ShutdownTimeout bounds how long Serve waits for in-flight requests and connections
	// after its context is cancelled; zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// DialTimeout bounds one dial to a backend; zero means DefaultDialTimeout.
	DialTimeout time.Duration
	// IdleTimeout closes upstream connections idle for longer; zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxIdlePerPort caps idle upstream connections per backend and port; zero means
	// DefaultMaxIdlePerPort. Size it to the expected number of concurrent requests.
	MaxIdlePerPort int
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger

	// listeners replaces listening on Ports, one listener per port, for tests.
	listeners []net.Listener
}

// withDefaults validates cfg and fills in zero fields.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Mode != ModeHTTP && cfg.Mode != ModeTCP {
		return cfg, fmt.Errorf("invalid mode %q: use %q or %q", cfg.Mode, ModeHTTP, ModeTCP)
	}
	if err := validatePorts(cfg.Ports); err != nil {
		return cfg, err
	}
	if cfg.listeners != nil && len(cfg.listeners) != len(cfg.Ports) {
		return cfg, fmt.Errorf("got %d listeners for %d ports", len(cfg.listeners), len(cfg.Ports))
	}
	cfg.AdminSocket = orDefault(cfg.AdminSocket, DefaultAdminSocket)
	cfg.ShutdownTimeout = orDefault(cfg.ShutdownTimeout, DefaultShutdownTimeout)
	cfg.DialTimeout = orDefault(cfg.DialTimeout, DefaultDialTimeout)
	cfg.IdleTimeout = orDefault(cfg.IdleTimeout, DefaultIdleTimeout)
	cfg.MaxIdlePerPort = orDefault(cfg.MaxIdlePerPort, DefaultMaxIdlePerPort)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

func validatePorts(ports []int) error {
	if len(ports) == 0 {
		return errors.New("no port to listen on: set at least one port")
	}
	seen := make(map[int]bool, len(ports))
	for _, p := range ports {
		if p < 1 || p > 65535 {
			return fmt.Errorf("invalid port %d: use 1 to 65535", p)
		}
		if seen[p] {
			return fmt.Errorf("port %d is listed twice", p)
		}
		seen[p] = true
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// frontDoor is the state of one running front door.
type frontDoor struct {
	cfg     Config
	log     *slog.Logger
	members *members
	started time.Time

	requests  atomic.Uint64 // HTTP requests or TCP connections accepted
	failures  atomic.Uint64 // got 502 or aborted because of a backend
	noBackend atomic.Uint64 // got 503 or closed because no backend was ready

	noBackendLog     logLimiter
	noBackendMessage string // body of the 503 response
}

// Serve runs a front door until ctx is cancelled. It listens on cfg.Ports and on the admin
// socket, and responds 503 (HTTP) or closes connections (TCP) until the first [SetMembers].
// After ctx is cancelled it stops listening, lets in-flight requests and connections finish
// for up to cfg.ShutdownTimeout, closes the rest and returns nil. It returns an error when
// cfg is invalid or a port or the admin socket cannot be listened on.
func Serve(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	fd := &frontDoor{cfg: cfg, log: cfg.Logger, started: time.Now(), members: newMembers(cfg)}
	fd.noBackendMessage = "503 Service Unavailable: the service has no ready instance\n"
	if cfg.Service != "" {
		fd.noBackendMessage = fmt.Sprintf("503 Service Unavailable: service %q has no ready instance\n", cfg.Service)
	}

	listeners, err := fd.listen()
	if err != nil {
		return err
	}
	admin, err := listenAdmin(cfg.AdminSocket)
	if err != nil {
		closeAll(listeners)
		return err
	}
	return fd.run(ctx, listeners, admin)
}

// listen opens one listener per port, or takes the listeners a test passed in.
func (fd *frontDoor) listen() ([]net.Listener, error) {
	if fd.cfg.listeners != nil {
		return fd.cfg.listeners, nil
	}
	listeners := make([]net.Listener, 0, len(fd.cfg.Ports))
	for _, port := range fd.cfg.Ports {
		addr := net.JoinHostPort(fd.cfg.ListenAddr, strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll(listeners)
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		listeners = append(listeners, ln)
	}
	return listeners, nil
}

// run serves until ctx is cancelled or a listener fails, then shuts down.
func (fd *frontDoor) run(ctx context.Context, listeners []net.Listener, admin net.Listener) error {
	fd.log.Info("front door started", "service", fd.cfg.Service, "mode", fd.cfg.Mode,
		"ports", fd.cfg.Ports, "admin_socket", fd.cfg.AdminSocket)

	var proxy server
	if fd.cfg.Mode == ModeHTTP {
		proxy = newHTTPServer(fd, listeners)
	} else {
		proxy = newTCPServer(fd, listeners)
	}
	adminSrv := fd.newAdminServer()

	failed := make(chan error, len(listeners)+1)
	proxy.start(failed)
	go func() { failed <- serveAdmin(adminSrv, admin) }()
	go fd.members.reapIdle(ctx, fd.cfg.IdleTimeout)

	var err error
	select {
	case <-ctx.Done():
	case err = <-failed:
	}
	fd.shutdown(proxy, adminSrv)
	return err
}

// shutdown stops listening, waits for in-flight work up to the shutdown timeout, then
// closes every upstream connection.
func (fd *frontDoor) shutdown(proxy server, admin closer) {
	fd.log.Info("front door stopping", "service", fd.cfg.Service,
		"in_flight", fd.members.inFlight(), "timeout", fd.cfg.ShutdownTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), fd.cfg.ShutdownTimeout)
	defer cancel()

	finished := proxy.shutdown(ctx)
	admin.Close()
	left := fd.members.inFlight()
	fd.members.closeAll()
	fd.log.Info("front door stopped", "service", fd.cfg.Service,
		"finished_in_time", finished, "in_flight_closed", left)
}

// server is the HTTP or TCP side of a front door.
type server interface {
	// start serves every listener in the background and sends a listener failure to failed.
	start(failed chan<- error)
	// shutdown stops listening and waits for in-flight work until ctx is done. It reports
	// whether everything finished in time.
	shutdown(ctx context.Context) bool
}

type closer interface{ Close() error }

func closeAll(listeners []net.Listener) {
	for _, ln := range listeners {
		ln.Close()
	}
}
