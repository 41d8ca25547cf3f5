// Package bench is Permiso's load benchmark: the engine behind
// `permiso bench`.
//
// It owns four things:
//
//   - the load generator ([RunLoad]): N workers, each with its own
//     keep-alive connection, in a closed loop (a worker sends its next
//     request when the previous one has answered), recording latencies into
//     a per-worker log-linear [Histogram] that is merged at the end, so the
//     generator stays cheap on a machine it shares with the server;
//   - the scenarios (client_credentials with basic and post
//     authentication, introspection, JWKS, metadata, the password grant,
//     refresh-token rotation and a mix), prepared through the admin API of
//     the server under test;
//   - the reference point ([Reference]): an in-process handler that does
//     only what a token endpoint cannot avoid (form parsing, a
//     constant-time secret check, an ES256 signature, a JSON response), so
//     each report states Permiso's throughput as a fraction of what this
//     machine can do at all;
//   - the run itself ([Run]): starting a server from the permiso binary or
//     targeting a running one, the loopback guard ([CheckLoopback]), the
//     server's CPU time and peak memory from /proc, and the report as an
//     aligned table or JSON ([Report]).
//
// Load only ever goes to loopback addresses unless the caller sets
// [Config.AllowRemote]; the dialer re-checks every address it connects to.
// Flag parsing belongs to cmd/permiso (bench.go); this package never reads
// flags or the environment.
package bench
