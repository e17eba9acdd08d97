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
// The front door speaks HTTP/1.1 and 1.0 with its own parser rather than net/http, which
// costs more CPU per request than the proxying itself. Clients keep their connections
// alive, and may pipeline; each request goes to a backend over a kept-alive connection
// from that backend's pool. The parser rejects what request smuggling relies on: both
// Content-Length and Transfer-Encoding, differing Content-Length values, a coding other
// than chunked, whitespace before a colon, and folded lines. Bodies are re-framed, never
// passed through unparsed. Request and response heads are limited to 16 KiB (431 or 502
// beyond). A client connection that makes no progress for 60 s is closed, whether idle,
// sending a head, sending a body or not reading the response.
//
// Hop-by-hop fields (Connection and the fields it lists, Keep-Alive, Proxy-Connection,
// Proxy-Authenticate, Proxy-Authorization, TE, Transfer-Encoding, Upgrade) are not
// forwarded in either direction. The request keeps its Host field, and the front door
// appends the client IP to X-Forwarded-For and sets X-Forwarded-Proto (http) and
// X-Forwarded-Host. It sends 100 Continue itself for Expect: 100-continue and does not
// forward the Expect field. It forwards 103 Early Hints and drops other interim responses.
// Without a ready backend it responds 503 with a one-line body.
//
// Failures before the response: when dialling a backend fails, nothing was sent, so the
// request is retried once on another backend, whatever its method. When a reused upstream
// connection turns out to be closed before any response byte arrived, a request without a
// body and with an idempotent method (or an Idempotency-Key field) is retried once on a
// new connection. Other failures before the response head get 502. A failure after the
// head was sent closes the client connection.
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
// and after [Membership.DrainTimeout] closes whatever is still open. A client whose request
// is cut that way gets 502 when its response had not started, and a closed connection
// otherwise.
// Clients keep their keep-alive connections to the front door across a swap; their next
// request goes to a remaining backend. TCP mode drains connections the same way.
//
// # TCP mode
//
// Each client connection is joined to a new backend connection. When one side stops
// sending, the front door closes the write half towards the other side, so protocols that
// half-close work; an error on either side closes both.
package frontdoor
