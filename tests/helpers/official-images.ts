/**
 * Two images written the way the official postgres and nginx images are, built from Debian's
 * packages (see debian-images.ts): the entrypoint starts as root, creates and chowns its data,
 * socket and cache directories, and drops to a service user (gosu for postgres; nginx's workers
 * setuid to www-data while the master stays root). The scripts and configs are this suite's own.
 */
import type { DebianImage } from "./debian-images.js";

/** One base layer for both: the server packages and gosu. */
const PACKAGES = ["postgresql-15", "nginx", "gosu"];

const PG_ENTRYPOINT = `#!/bin/sh
# Root prepares the data and socket directories, then this script runs again as postgres.
set -eu
: "\${PGDATA:=/var/lib/postgresql/data}"
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  # Over existing data, root walks a 0700 directory that postgres owns (DAC_OVERRIDE).
  find "$PGDATA" \\! -user postgres -exec chown postgres:postgres '{}' +
  chmod 0700 "$PGDATA"
  chown postgres:postgres /var/run/postgresql
  chmod 2775 /var/run/postgresql
  exec gosu postgres "$0" "$@"
fi
# As the official image's file_env: the password may come from a file (a secret), read as postgres.
if [ -n "\${POSTGRES_PASSWORD_FILE:-}" ]; then POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"; fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pw="$(mktemp)"
  printf '%s\\n' "\${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" > "$pw"
  initdb -D "$PGDATA" --username=postgres --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pw"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "entrypoint: initialised $PGDATA"
fi
exec "$@"
`;

export const POSTGRES_LIKE: DebianImage = {
  packages: PACKAGES,
  files: {
    "usr/local/bin/docker-entrypoint.sh": { content: PG_ENTRYPOINT, mode: 0o755 },
  },
  config: {
    entrypoint: ["/usr/local/bin/docker-entrypoint.sh"],
    cmd: ["postgres", "-c", "listen_addresses=*"],
    env: [
      "PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "PGDATA=/var/lib/postgresql/data",
    ],
    volumes: ["/var/lib/postgresql/data"],
    stopSignal: "SIGINT",
  },
};

const NGINX_ENTRYPOINT = `#!/bin/sh
# Root makes the cache directories the workers write, owned by their user, and the pid dir.
set -eu
if [ "$(id -u)" = 0 ]; then
  for d in client_temp proxy_temp fastcgi_temp uwsgi_temp scgi_temp; do
    mkdir -p "/var/cache/nginx/$d"
  done
  chown -R www-data:www-data /var/cache/nginx
  mkdir -p /run/nginx
fi
exec "$@"
`;

const NGINX_CONF = `user www-data;
worker_processes 2;
pid /run/nginx/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path /var/cache/nginx/client_temp;
  proxy_temp_path /var/cache/nginx/proxy_temp;
  fastcgi_temp_path /var/cache/nginx/fastcgi_temp;
  uwsgi_temp_path /var/cache/nginx/uwsgi_temp;
  scgi_temp_path /var/cache/nginx/scgi_temp;
  server {
    listen 80;
    location / { root /usr/share/nginx/html; }
  }
}
`;

export const NGINX_LIKE: DebianImage = {
  packages: PACKAGES,
  files: {
    "docker-entrypoint.sh": { content: NGINX_ENTRYPOINT, mode: 0o755 },
    "etc/nginx/nginx.conf": { content: NGINX_CONF, mode: 0o644 },
    "usr/share/nginx/html/index.html": { content: "the image's own page\n", mode: 0o644 },
  },
  config: {
    entrypoint: ["/docker-entrypoint.sh"],
    cmd: ["nginx", "-g", "daemon off;"],
    stopSignal: "SIGQUIT",
  },
};

const ONEDRIVE_ENTRYPOINT = `#!/bin/sh
# As the OneDrive client's image: started as root it takes ONEDRIVE_UID/GID, chowns its config
# and data and drops to them; started as a user (user: "2000:100") it runs as that user.
set -eu
if [ "$(id -u)" = 0 ]; then
  chown -R "\${ONEDRIVE_UID:-1000}:\${ONEDRIVE_GID:-1000}" /onedrive/conf /onedrive/data
  exec gosu "\${ONEDRIVE_UID:-1000}:\${ONEDRIVE_GID:-1000}" "$0" "$@"
fi
exec "$@"
`;

/** The sync loop: ask the service who we are, write it into the data dir, exit when unreachable. */
const ONEDRIVE_SYNC = `#!/bin/sh
set -u
while :; do
  if ! curl -sS --max-time 5 -o /onedrive/data/synced.tmp "$ONEDRIVE_API/cgi-bin/who"; then
    echo "onedrive: cannot reach $ONEDRIVE_API" >&2
    exit 1
  fi
  mv /onedrive/data/synced.tmp /onedrive/data/synced
  echo "onedrive: synced"
  sleep 2
done
`;

/**
 * A sync client written as the OneDrive client's image is (driveone/onedrive): root entrypoint,
 * chown of its volumes, gosu to the user, then a program that needs the network to do anything.
 * `ONEDRIVE_API` names the service it talks to.
 */
export const ONEDRIVE_LIKE: DebianImage = {
  packages: ["curl", "gosu"],
  files: {
    "entrypoint.sh": { content: ONEDRIVE_ENTRYPOINT, mode: 0o755 },
    "usr/local/bin/onedrive": { content: ONEDRIVE_SYNC, mode: 0o755 },
  },
  config: {
    entrypoint: ["/entrypoint.sh"],
    cmd: ["onedrive", "--monitor"],
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    volumes: ["/onedrive/conf", "/onedrive/data"],
  },
};
