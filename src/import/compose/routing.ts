/**
 * Routing by labels: traefik, caddy-docker-proxy and nginx-proxy (with acme-companion) find the
 * services they route to, and how, by reading each container's labels or environment through
 * the Docker API. railyard runs no Docker daemon, so those keys route nothing here: each service
 * that has them is told so plainly, with what to use instead.
 */
import type { Path, Reader } from "./reader.js";

/** Which proxy reads a label, by its prefix. */
const LABEL_READERS: readonly [RegExp, string, string][] = [
  [/^traefik\./, "traefik", "traefik's file provider"],
  [/^caddy(_\d+)?(\.|$)/, "caddy-docker-proxy", "a Caddyfile"],
  [
    /^com\.github\.(jrcs\.letsencrypt_nginx_proxy_companion|nginx-proxy)\./,
    "nginx-proxy",
    "nginx's own conf",
  ],
];

/** Environment variables nginx-proxy and acme-companion read from other containers. */
const ENV_READ =
  /^(VIRTUAL_HOST|VIRTUAL_PORT|VIRTUAL_PATH|VIRTUAL_PROTO|LETSENCRYPT_HOST|LETSENCRYPT_EMAIL)$/;

/** The warning for `keys` (already worded: "the labels a, b"), `many` when more than one. */
const said = (service: string, proxy: string, keys: string, many: boolean, instead: string) =>
  `${keys} ${many ? "are" : "is"} read by ${proxy} through the Docker API, which railyard does not serve: kept, but ${many ? "they route" : "it routes"} nothing. route to ${service} in the proxy's own config (${instead}) at ${service}:PORT on its network, or 127.0.0.1:PORT`;

export function routingLabels(
  labels: Readonly<Record<string, string>>,
  service: string,
  path: Path,
  r: Reader,
): void {
  for (const [pattern, proxy, instead] of LABEL_READERS) {
    const keys = Object.keys(labels).filter((k) => pattern.test(k));
    if (keys.length === 0) continue;
    const shown = keys.length > 3 ? `${keys.slice(0, 3).join(", ")}, ...` : keys.join(", ");
    const many = keys.length > 1;
    r.warn(path, said(service, proxy, `the label${many ? "s" : ""} ${shown}`, many, instead));
  }
}

export function routingEnvironment(
  env: Readonly<Record<string, string>>,
  service: string,
  path: Path,
  r: Reader,
): void {
  const keys = Object.keys(env).filter((k) => ENV_READ.test(k));
  if (keys.length > 0)
    r.warn(
      path,
      said(service, "nginx-proxy", keys.join(", "), keys.length > 1, "nginx's own conf"),
    );
}
