// Package frontdoor is the proxy that runs in a service's front door container. It owns the
// service's published ports and balances traffic over the service's ready instances, which
// clusterctl pushes to it as a [Membership].
//
//	client ──► :port ──► front door ──► instance-0:port
//	                          │    └──► instance-1:port
//	                          ▲
//	 clusterctl frontdoor members '<json>'   (docker exec, admin unix socket)
//
// The container has no Docker socket and publishes no admin port. [Serve] listens on the
// service ports and on a unix socket inside the container; [SetMembers] and [Status] are the
// client side of that socket, run by `docker exec <front door> /clusterctl frontdoor ...`.
// The admin protocol is HTTP/1.1 with JSON bodies: PUT /v1/members and GET /v1/status.
//
// # Balancing
//
// HTTP mode balances per request, TCP mode per connection. Both pick the backend with the
// fewest requests or connections in flight, and break ties round-robin, so sequential
// requests rotate over all backends and a slow instance gets less new work. The membership
// is an immutable slice behind an atomic pointer: picking a backend takes no lock.
//
// # HTTP mode
//
// Clients talk HTTP/1.1 (or 1.0) with keep-alive to the front door. Each request goes to a
// backend over a kept-alive upstream connection from that backend's pool. Hop-by-hop headers
// (Connection and the headers it lists, Keep-Alive, Proxy-*, Te, Trailer, Transfer-Encoding,
// Upgrade) are not forwarded in either direction. The request keeps its Host header, and the
// front door appends the client IP to X-Forwarded-For and sets X-Forwarded-Proto (http) and
// X-Forwarded-Host. Without a ready backend the front door answers 503 with a one-line body.
//
// Failures before the response: when dialling a backend fails, nothing was sent, so the
// request is retried once on another backend, whatever its method. When a reused upstream
// connection turns out to be closed before any response byte arrived, a request without a
// body and with an idempotent method (or an Idempotency-Key header) is retried once on a
// new connection. Other failures before the response headers answer 502. A failure after
// the headers were sent aborts the client connection.
//
// Upgraded connections (Connection: Upgrade, for example WebSocket) get their own upstream
// connection and are proxied byte for byte. They count as in flight on their backend for
// their whole life, so a drain waits for them: when their backend is removed they are kept
// until the drain timeout and then closed, both the client and the backend side.
//
// # Draining
//
// [SetMembers] swaps the membership at once: new requests and connections go only to the
// new backends from the moment the swap is done. For each removed backend the front door
// closes its idle upstream connections, lets its in-flight requests and connections finish,
// and after [Membership.DrainTimeout] closes whatever is still open. Clients keep their
// keep-alive connections to the front door across a swap; their next request goes to a
// remaining backend. TCP mode drains connections the same way.
package frontdoor
