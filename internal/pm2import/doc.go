// Package pm2import translates a PM2 ecosystem file into a compose file
// that clusterctl runs: one service per app, one container per PM2
// instance, with the PM2 settings that compose lacks written under
// x-clusterctl.
//
// Load reads .json, .yaml, .yml, .js and .cjs files. A JavaScript file is
// evaluated by goja, an interpreter written in Go, with no file, network or
// module access: module, module.exports, exports, __dirname, __filename, an
// empty process.env, process.cwd() (the ecosystem file's directory) and a
// console that discards its output. require, fetch and XMLHttpRequest throw
// an error that names what was called. process.env is empty rather than the
// caller's environment, so the output does not depend on the shell that ran
// the import and no secret of that shell reaches the compose file. The
// evaluation stops after EvalTimeout.
//
// Translate maps each app as follows. Every option it does not translate
// becomes a Report, and an invalid value is an *InvalidError.
//
//   - name: the service name, lowercased, with characters outside
//     [a-z0-9_.-] replaced by dashes. Without a name, the script's base name
//     without its extension, as PM2 does.
//   - script, interpreter, interpreter_args (or its alias node_args) and
//     args: image and command. The app directory (cwd, else the ecosystem
//     file's directory) is bind-mounted at /app, which is the working
//     directory, so the image needs no build. A Node.js app gets the image
//     node:MAJOR, where MAJOR comes from a version in the interpreter path
//     (such as .nvm/versions/node/v22.11.0/bin/node) or is
//     DefaultNodeMajor. clusterctl does not pull images, so the user pulls
//     that image with their own engine before clusterctl up.
//   - instances ("max", 0, -N or N) and exec_mode: x-clusterctl.instances.
//     Fork and cluster mode both become one container per instance, and the
//     front door does what cluster mode's shared port did.
//   - env and env_NAME: without any env_NAME, env becomes environment.
//     With them, the environment goes to env files written beside the
//     compose file: SERVICE.env holds env, and SERVICE.NAME.env holds env
//     merged with env_NAME, as pm2 start --env NAME applies it. The service
//     loads ./SERVICE${PM2_ENV:+.}${PM2_ENV}.env, so PM2_ENV=NAME in the
//     environment or the .env file selects a variant at up, and an unset
//     PM2_ENV selects env alone. Every app with variants gets a file for every
//     variant name used in the ecosystem, so one PM2_ENV value works for all
//     of them.
//   - PORT in env or env_NAME: published as 127.0.0.1:PORT:PORT, which puts
//     a front door in front of the instances, on loopback only.
//   - autorestart: false becomes restart: "no". max_restarts becomes
//     deploy.restart_policy with condition on-failure and max_attempts,
//     because Docker counts attempts only for on-failure. stop_exit_codes
//     [0] becomes condition on-failure.
//   - min_uptime (milliseconds, or a duration such as "10s"):
//     x-clusterctl.min_uptime.
//   - max_memory_restart (bytes, or a size such as "300M" or "2G"):
//     deploy.resources.limits.memory. PM2 restarts an app over the limit;
//     the engine OOM-kills it and clusterctl restarts it.
//   - kill_timeout (milliseconds): stop_grace_period. Every service gets
//     stop_signal SIGINT, PM2's stop signal, and init: true, so that the app
//     is not PID 1 and SIGINT stops an app without a handler, as under PM2.
//   - wait_ready or listen_timeout: x-clusterctl.ready with tcp: true on the
//     PORT port (3000, the common Node.js default, when no env sets PORT)
//     and timeout listen_timeout. A container cannot send PM2's 'ready'
//     message, so accepting connections is the readiness signal, as in PM2's
//     cluster mode.
//   - instance_var: x-clusterctl.instance_var, NODE_APP_INSTANCE by default
//     as in PM2.
//   - merge_logs and combine_logs need nothing, because clusterctl logs
//     merges every instance's output. disable_logs: true becomes logging
//     driver none.
//   - uid and gid, when numeric: user.
package pm2import
