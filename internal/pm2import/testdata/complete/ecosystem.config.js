// The same app as ecosystem.json, computed the way ecosystem files often are.
const nodeVersion = 'v22.11.0';
const seconds = (n) => n * 1000;

module.exports = {
  apps: [
    {
      name: 'api',
      script: 'server.js',
      exec_mode: 'cluster',
      instances: 2,
      interpreter: `/home/deploy/.nvm/versions/node/${nodeVersion}/bin/node`,
      node_args: '-r dotenv/config',
      env_production: {
        NODE_ENV: 'production',
        OTEL_SDK_DISABLED: String(false),
      },
      max_memory_restart: '2G',
      min_uptime: '10s',
      max_restarts: 3,
      kill_timeout: seconds(5),
      wait_ready: true,
      listen_timeout: seconds(3),
      ...(nodeVersion.startsWith('v22') ? {} : { watch: true }),
    },
  ],
};
