/** Resource limits (mem_limit, cpus, pids_limit, deploy) and GPU requests as CDI device names. */
import { isRecord } from "../../util/record.js";
import { parseSize } from "../../model/parse.js";
import type { ContainerConfig } from "../../model/types.js";
import { type Obj, type Path, describe, type ServiceRead } from "./reader.js";

/**
 * Device requests (`deploy.resources.reservations.devices`, and `gpus`) as CDI device names:
 * `driver: cdi` names them itself; an NVIDIA GPU request becomes `nvidia.com/gpu=...`, the
 * names NVIDIA's `nvidia-ctk cdi generate` writes, which podman and docker use as well.
 */
export function gpus({ s, at, r, c }: ServiceRead): void {
  const deploy = isRecord(s["deploy"]) ? s["deploy"] : undefined;
  const res = isRecord(deploy?.["resources"]) ? (deploy["resources"] as Obj) : undefined;
  const reserved = isRecord(res?.["reservations"]) ? (res["reservations"] as Obj) : undefined;
  const requests: { req: unknown; path: Path }[] = [];
  const list = (v: unknown, path: Path) => {
    if (v === undefined) return;
    if (!Array.isArray(v)) return r.problem(path, `expected a list, got ${describe(v)}`);
    v.forEach((req, i) => requests.push({ req, path: [...path, i] }));
  };
  list(reserved?.["devices"], [...at, "deploy", "resources", "reservations", "devices"]);
  if (s["gpus"] === "all")
    requests.push({ req: { driver: "nvidia", count: "all" }, path: [...at, "gpus"] });
  else list(s["gpus"], [...at, "gpus"]);
  const names: string[] = [];
  for (const { req, path } of requests) {
    if (!isRecord(req)) {
      r.problem(
        path,
        `expected a device request (driver, count, device_ids), got ${describe(req)}`,
      );
      continue;
    }
    for (const k of Object.keys(req))
      if (!["driver", "count", "device_ids", "capabilities", "options"].includes(k))
        r.warn([...path, k], "is not imported");
    const ids =
      req["device_ids"] === undefined ? [] : r.strings(req["device_ids"], [...path, "device_ids"]);
    const caps = (Array.isArray(req["capabilities"]) ? req["capabilities"] : []).flat();
    const driver = req["driver"] ?? (caps.includes("gpu") ? "nvidia" : undefined);
    if (driver === "cdi") {
      names.push(...ids);
      continue;
    }
    if (driver !== "nvidia") {
      r.warn(
        path,
        `a device request for driver ${JSON.stringify(driver ?? "(none)")} is not imported; name its CDI device in devices instead`,
      );
      continue;
    }
    const count = req["count"];
    if (ids.length > 0) names.push(...ids.map((id) => `nvidia.com/gpu=${id}`));
    else {
      if (count !== undefined && count !== "all" && count !== -1)
        r.warn(
          [...path, "count"],
          `a count of GPUs cannot be kept: every GPU is given (nvidia.com/gpu=all); list device_ids to choose`,
        );
      names.push("nvidia.com/gpu=all");
    }
    r.warn(
      path,
      "needs NVIDIA's CDI spec on the host: nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml",
    );
  }
  const fresh = [...new Set(names)].filter((n) => !(c.devices ?? []).includes(n));
  if (fresh.length > 0) c.devices = [...(c.devices ?? []), ...fresh];
}

export function resources({ s, at, r, c }: ServiceRead): void {
  const res: NonNullable<ContainerConfig["resources"]> = {};
  const deploy = isRecord(s["deploy"]) ? s["deploy"] : undefined;
  const limits =
    deploy && isRecord(deploy["resources"]) && isRecord(deploy["resources"]["limits"])
      ? deploy["resources"]["limits"]
      : {};
  const unread = (path: Path, o: unknown, read: readonly string[]) => {
    if (isRecord(o))
      for (const k of Object.keys(o))
        if (!read.includes(k))
          r.warn([...path, k], "is not imported; railyard runs one replica with limits only");
  };
  unread([...at, "deploy"], deploy, ["resources"]);
  unread([...at, "deploy", "resources"], deploy?.["resources"], ["limits", "reservations"]);
  const reservations = isRecord(deploy?.["resources"])
    ? (deploy["resources"] as Obj)["reservations"]
    : undefined;
  unread([...at, "deploy", "resources", "reservations"], reservations, ["devices"]);
  unread([...at, "deploy", "resources", "limits"], limits, ["memory", "cpus", "pids"]);
  const memory = s["mem_limit"] ?? limits["memory"];
  if (memory !== undefined) {
    const p =
      typeof memory === "number" || typeof memory === "string" ? parseSize(memory) : undefined;
    if (!p?.ok)
      r.problem(
        [...at, s["mem_limit"] !== undefined ? "mem_limit" : "deploy"],
        p ? p.error : `expected a size, got ${describe(memory)}`,
      );
    else res.memory = memory as number | string;
  }
  const cpus = s["cpus"] ?? limits["cpus"];
  if (cpus !== undefined) {
    const n = Number(cpus);
    if (!(n > 0))
      r.problem(
        [...at, s["cpus"] !== undefined ? "cpus" : "deploy"],
        `expected a number of CPUs above 0, got ${describe(cpus)}`,
      );
    else res.cpus = n;
  }
  const pids = s["pids_limit"] ?? limits["pids"];
  if (pids !== undefined) {
    if (typeof pids === "number" && Number.isInteger(pids) && pids > 0) res.pids = pids;
    else if (pids !== -1 && pids !== 0)
      r.problem([...at, "pids_limit"], `expected a whole number above 0, got ${describe(pids)}`);
  }
  if (Object.keys(res).length > 0) c.resources = res;
}
