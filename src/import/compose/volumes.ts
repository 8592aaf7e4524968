/** A service's volumes: bind mounts as they are, named and anonymous ones as host directories. */
import { isRecord } from "../../util/record.js";
import { posix } from "node:path";
import { type Path, describe, type ServiceRead } from "./reader.js";

export function volumes({ s, at, r, c }: ServiceRead): void {
  const v = s["volumes"];
  if (v === undefined) return;
  const path = [...at, "volumes"];
  if (!Array.isArray(v)) return r.problem(path, `expected a list, got ${describe(v)}`);
  const binds: string[] = [];
  const tmpfs: string[] = [];
  const named = (name: string) => posix.join(r.ctx.volumesDir, name);
  v.forEach((item, i) => {
    const p = [...path, i];
    if (isRecord(item)) {
      const type = item["type"];
      const target = r.string(item["target"], [...p, "target"]);
      if (target === undefined) return;
      const ro = item["read_only"] === true ? ":ro" : "";
      if (type === "tmpfs") {
        const t = isRecord(item["tmpfs"]) ? item["tmpfs"] : {};
        const opts = [
          ...(t["size"] !== undefined ? [`size=${String(t["size"])}`] : []),
          ...(t["mode"] !== undefined ? [`mode=${String(t["mode"])}`] : []),
        ];
        tmpfs.push(opts.length > 0 ? `${target}:${opts.join(",")}` : target);
      } else if (type === "bind" || type === "volume") {
        const src =
          item["source"] === undefined ? undefined : r.string(item["source"], [...p, "source"]);
        const host =
          type === "bind"
            ? src === undefined
              ? undefined
              : r.hostPath(src)
            : named(src ?? anonymous(at, target));
        if (host === undefined) return r.problem([...p, "source"], "is required for a bind mount");
        if (type === "bind" && isEngineSocket(host)) return engineSocket(r, p, at, host);
        if (type === "volume")
          r.warn(p, `the ${src ? "named" : "anonymous"} volume becomes the host directory ${host}`);
        for (const extra of ["bind", "volume", "consistency"])
          if (item[extra] !== undefined) r.warn([...p, extra], "is not imported");
        binds.push(`${host}:${target}${ro}`);
      } else r.warn(p, `a ${String(type)} mount is not imported`);
      return;
    }
    const spec = r.string(item, p);
    if (spec === undefined) return;
    const [src = "", dst, mode, ...rest] = spec.split(":");
    if (rest.length > 0)
      return r.problem(
        p,
        `${JSON.stringify(spec)} is not a volume. expected "source:target[:mode]"`,
      );
    if (dst === undefined) {
      const host = named(anonymous(at, src));
      r.warn(p, `the anonymous volume becomes the host directory ${host}`);
      return void binds.push(`${host}:${src}`);
    }
    const isPath = src.startsWith("/") || src.startsWith(".") || src.startsWith("~");
    const host = isPath ? r.hostPath(src) : named(src);
    if (isPath && isEngineSocket(host)) return engineSocket(r, p, at, host);
    if (!isPath) r.warn(p, `the named volume ${src} becomes the host directory ${host}`);
    const opts = (mode ?? "").split(",").filter((o) => o !== "");
    for (const o of opts)
      if (o === "z" || o === "Z")
        r.warn(
          p,
          `the option ${o} (an SELinux relabel) is not imported; railyard applies no SELinux labels`,
        );
      else if (!["ro", "rw"].includes(o)) r.warn(p, `the option ${o} is not imported`);
    binds.push(`${host}:${dst}${opts.includes("ro") ? ":ro" : ""}`);
  });
  if (binds.length > 0) c.volumes = binds;
  if (tmpfs.length > 0) c.tmpfs = [...tmpfs, ...(c.tmpfs ?? [])];
}

/** The Docker (or podman) API socket, which label-routing proxies and dashboards read. */
const isEngineSocket = (host: string) =>
  /^(\/var)?\/run\/(docker|podman\/podman)\.sock$/.test(host);

/**
 * A mount of the engine's API socket is left out, and said plainly: railyard runs no daemon, so
 * what the service would read there (the containers, their labels) is not railyard's.
 */
function engineSocket(r: ServiceRead["r"], p: Path, at: Path, host: string): void {
  r.warn(
    p,
    `${host} is the Docker API socket, and railyard runs no Docker daemon: ${String(at[1])} would see no containers through it (a proxy that routes by labels, such as traefik, nginx-proxy or caddy-docker-proxy, routes nothing). left out; give a proxy its routes in its own config file. mount it yourself only if this host runs Docker and the service should see Docker's containers`,
  );
}

export const anonymous = (at: Path, target: string) =>
  `${String(at[1])}${target.replace(/[^A-Za-z0-9_.-]+/g, "-")}`;
