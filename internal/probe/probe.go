// Package probe runs clusterctl's ready probe: an HTTP GET or a TCP connect
// against one instance, repeated until it succeeds or a deadline passes. It
// runs inside a container on the instance's network, because clusterctl
// reaches containers from the host only through published ports.
package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Target is the instance address that a probe checks.
type Target struct {
	// Host is the instance's address on the shared network.
	Host string
	Port int
	// HTTPPath, when set, makes the probe an HTTP GET that must return a
	// status below 400; otherwise the probe only opens a TCP connection.
	HTTPPath string
}

// Interval is the pause between two attempts.
const Interval = 250 * time.Millisecond

// attemptTimeout bounds one attempt.
const attemptTimeout = 2 * time.Second

// Until probes target until an attempt succeeds, returning nil, or until
// ctx ends, returning the last attempt's error.
func Until(ctx context.Context, target Target) error {
	client := &http.Client{Timeout: attemptTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	var last error
	for {
		last = Once(ctx, client, target)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("probe %s: %w", address(target), last)
		case <-time.After(Interval):
		}
	}
}

// Once runs one attempt.
func Once(ctx context.Context, client *http.Client, target Target) error {
	addr := address(target)
	if target.HTTPPath == "" {
		d := net.Dialer{Timeout: attemptTimeout}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+target.HTTPPath, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s returned %s", target.HTTPPath, resp.Status)
	}
	return nil
}

func address(t Target) string {
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}
