#!/usr/bin/env bash
# Installs everything railyard and its tests need on Debian 12, builds it, and runs the demo.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

# runc runs the containers; crun is tried first where the host's cgroup layout allows it.
# busybox-static and python3 are the demo's host programs; gcc/libc6-dev build the ELF test
# fixtures; util-linux provides `script` for the TTY test; zstd decompresses zstd layers.
# The image tests run a real registry (docker-registry, htpasswd from apache2-utils), build and
# push images with umoci and skopeo, and check interop with podman (a peer, never a dependency);
# `podman kube play` of the Kubernetes export builds its pause image with catatonit, and
# podman-compose runs the compose export. iproute2 and nftables set up private and named
# networks at each start; the network tests send traffic with curl. uidmap (newuidmap and
# newgidmap) maps a rootless user's subordinate ids (railyard --user); libpam-systemd lets logind
# start a lingering user's systemd, and passt's pasta connects a rootless container's private
# network. tini is the init of `init: true` containers. The tests build
# images like the official postgres and nginx ones from Debian's packages with mmdebstrap, and
# talk to them with psql (postgresql-client), curl and ps (procps). nginx is the host program of
# examples/nginx; redis-server, lighttpd, dnsmasq and postgresql are the Debian daemons the tests
# run from the host as their packages' units say (each installed without starting or enabling its
# own service). buildah builds the
# images of containers with build: (a Dockerfile), as users install it to do the same; git
# fetches a build: that names a repository (and serves one, with git daemon, in its test). zsh runs
# the test of the zsh completion script, and man-db's man renders the man pages in theirs.
# `npm run deb` builds the Debian package with dpkg-dev's dpkg-shlibdeps and binutils' strip;
# its test checks it with lintian. The tests validate bundles and image documents against the
# official OCI JSON schemas, which Debian ships in the Go packages of the two specs.
APT_PACKAGES=(runc crun busybox-static python3 gcc libc6-dev util-linux zstd tini
  docker-registry skopeo umoci apache2-utils podman catatonit podman-compose systemd
  iproute2 nftables curl uidmap passt libpam-systemd mmdebstrap postgresql-client procps nginx
  redis-server lighttpd dnsmasq postgresql buildah git zsh man-db dpkg-dev binutils lintian
  golang-github-opencontainers-specs-dev golang-github-opencontainers-image-spec-dev)

# The Debian daemons the tests run from the host, with no setup lines (service:), and their units.
HOST_DAEMONS=(nginx.service lighttpd.service redis-server.service dnsmasq.service postgresql.service)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# nginx is the host program of examples/nginx. Its package would start (and enable) a server on
# port 80; a policy-rc.d that says no, only while apt runs, keeps the host as it was.
no_service_starts() {
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
  fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  no_service_starts
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The example's nginx and the daemons of the host-program tests run in containers, not as the
# host's own services at boot (nor in the systemd the tests boot over this root).
if command -v systemctl >/dev/null; then
  for unit in "${HOST_DAEMONS[@]}"; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
      as_root systemctl disable --quiet "$unit" 2>/dev/null || true
    fi
  done
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: railyard needs Node.js >= 20 (Debian 12's nodejs package is 18); install a newer Node.js first" >&2
  exit 1
fi

npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

# The command on PATH: a link to this clone's launcher, so that a pull and a rebuild update it.
as_root ln -sfn "$PWD/bin/railyard.cjs" /usr/local/bin/railyard
echo "setup: railyard is on PATH: $(command -v railyard) -> $PWD/bin/railyard.cjs ($(railyard --version))"
# Tab completion for bash (loaded by Debian's bash-completion, when installed, from this directory).
as_root mkdir -p /usr/share/bash-completion/completions
railyard completion bash | as_root tee /usr/share/bash-completion/completions/railyard >/dev/null
# The man pages npm run build made from the help text (man railyard, man railyard-switch, ...).
as_root mkdir -p /usr/local/share/man/man1
for page in dist/man/man1/*.1; do as_root ln -sfn "$PWD/$page" /usr/local/share/man/man1/; done
echo "setup: running the demo: railyard --config examples/hello/railyard.config.ts run hello"
as_root railyard --config examples/hello/railyard.config.ts run hello
