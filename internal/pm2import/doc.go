// Package pm2import translates a PM2 ecosystem file into a compose file
// that clusterctl runs: one service per app and one container per PM2
// instance, with the PM2 settings that compose lacks under x-clusterctl.
//
// Load reads .json, .yaml, .yml, .js and .cjs files. goja, a JavaScript
// interpreter written in Go, evaluates a JavaScript file without file,
// network or module access. The file gets module, module.exports, exports,
// __dirname, __filename, process.cwd() (the file's directory), a console
// that logs at debug level, and an empty process.env. process.env is empty
// rather than the caller's environment, so that the output does not depend
// on the shell that runs the import and no secret of that shell reaches the
// compose file. Translate reports each variable the file read from it.
// require, fetch, XMLHttpRequest, WebSocket, process.binding,
// process.dlopen and process.exit throw an error that names the call, and
// the evaluation stops after EvalTimeout.
//
// Translate maps each app as follows. Every other option that is set
// becomes a Report, and an invalid value an *InvalidError.
//
//   - name: the service name, lowercased, with each run of characters
//     outside [a-z0-9_.-] replaced by a dash. Without a name, the script's
//     base name without its extension, as PM2 derives it.
//   - script, interpreter, interpreter_args (or node_args, its other name),
//     args and cwd: image and command. The app directory (cwd, else the
//     ecosystem file's directory) is bind-mounted at /app, the working
//     directory, so that the image needs no build. A Node.js app gets the
//     image node:MAJOR, with MAJOR from a version in the interpreter path
//     (.nvm/versions/node/v22.11.0/bin/node gives 22) or DefaultNodeMajor.
//     clusterctl does not pull images, so the user pulls it before up.
//   - instances ("max", 0, -N or N) and exec_mode: x-clusterctl.instances.
//     Fork and cluster mode both become one container per instance.
//   - env and env_NAME: without any env_NAME block, env becomes
//     environment. With them, the variables go to env files beside the
//     compose file: SERVICE.env holds env, and SERVICE.NAME.env holds env
//     merged with env_NAME, as pm2 start --env NAME applies it. The service
//     loads ./SERVICE${PM2_ENV:+.}${PM2_ENV}.env, so PM2_ENV=NAME selects a
//     block at up, and an unset PM2_ENV selects env alone. An app with blocks
//     gets a file for every block name of the ecosystem, so that one
//     PM2_ENV value selects the same block name for every app.
//   - PORT in env or env_NAME: published as 127.0.0.1:PORT:PORT, so that
//     the front door takes the place of cluster mode's shared port, on
//     loopback only.
//   - autorestart: false becomes restart: "no". max_restarts becomes
//     deploy.restart_policy with condition on-failure and max_attempts,
//     because Docker counts attempts only with on-failure. stop_exit_codes
//     [0] becomes condition on-failure.
//   - min_uptime (milliseconds, or a duration such as "10s"):
//     x-clusterctl.min_uptime.
//   - max_memory_restart (bytes, or a size such as "300M" or "2G"):
//     deploy.resources.limits.memory.
//   - kill_timeout (milliseconds): stop_grace_period. Every service gets
//     stop_signal SIGINT, the signal PM2 stops apps with, and init: true, so
//     that the app is not PID 1 and SIGINT stops an app without a handler,
//     as under PM2.
//   - wait_ready or listen_timeout: x-clusterctl.ready with tcp: true on
//     PORT (3000, the Express generator's default, when no env sets it)
//     and timeout listen_timeout. A container cannot send PM2's ready
//     message, so accepting connections is the readiness signal, as in PM2's
//     cluster mode.
//   - instance_var: x-clusterctl.instance_var, NODE_APP_INSTANCE by
//     default, as in PM2.
//   - merge_logs, combine_logs, treekill and filter_env need no setting,
//     because clusterctl logs and containers already behave so. disable_logs: true becomes
//     logging driver none.
//   - uid and gid, when numeric: user.
package pm2import
