/**
 * One compose service to a railyard container: a table of handlers, one per compose key it
 * reads, run in order. The keys imported are the table's; any other is named in a warning.
 */
import { isRecord, own } from "../../util/record.js";
import { parseDuration } from "../../model/parse.js";
import type {
  ContainerConfig,
  HealthcheckConfig,
  RestartPolicy,
  UlimitValue,
} from "../../model/types.js";
import { build } from "./build.js";
import { routingEnvironment, routingLabels } from "./routing.js";
import { capabilities, sysctls } from "./capabilities.js";
import { ports, serviceNetwork } from "./network.js";
import { type Obj, type Path, Reader, describe, type ServiceRead } from "./reader.js";
import { gpus, resources } from "./resources.js";
import { serviceSecrets } from "./secrets.js";
import { volumes } from "./volumes.js";

export const RESTART: Record<string, RestartPolicy> = {
  no: "no",
  always: "always",
  "unless-stopped": "always",
  "on-failure": "on-failure",
};

/** What a handler gets: the service, where it is, the reader, the container being made. */
interface Service extends ServiceRead {
  readonly put: <K extends keyof ContainerConfig>(k: K, v: ContainerConfig[K] | undefined) => void;
  readonly key: (k: string) => Path;
  /** The services that are imported (a dependency on another is dropped, and said). */
  readonly kept: ReadonlySet<string>;
  /** The services with a healthcheck that is on. */
  readonly checked: ReadonlySet<string>;
}

/**
 * The compose keys a service may have that the import reads, each with its handler, in the order
 * they run (the order of the warnings, and of the keys in the config written out).
 */
const HANDLERS: readonly { keys: readonly string[]; read: (sv: Service) => void }[] = [
  {
    keys: ["image", "build"],
    read: ({ s, r, c, key }) => {
      // With build, image names what is built (as compose tags it); without, it is pulled.
      if (s["image"] !== undefined) c.image = r.string(s["image"], key("image")) ?? "";
      if (s["build"] !== undefined) {
        const b = build(s["build"], key("build"), r, s["image"] !== undefined);
        if (b) c.build = b;
      }
    },
  },
  {
    keys: ["pull_policy"],
    read: ({ s, r, c, key }) => {
      const pull = s["pull_policy"];
      if (pull !== undefined) {
        const p = r.string(pull, key("pull_policy"));
        const map: Record<string, ContainerConfig["pull"]> = {
          always: "always",
          never: "never",
          missing: "missing",
          if_not_present: "missing",
        };
        if (p !== undefined && map[p]) c.pull = map[p];
        else if (p !== undefined)
          r.warn(
            key("pull_policy"),
            `${JSON.stringify(p)} is not imported; railyard pulls what is missing`,
          );
      }
    },
  },
  {
    keys: ["entrypoint", "secrets", "command"],
    read: ({ s, r, put, key }) => {
      if (s["entrypoint"] !== undefined)
        put("entrypoint", r.argv(s["entrypoint"], key("entrypoint")));
      if (s["secrets"] !== undefined)
        put("secrets", serviceSecrets(s["secrets"], key("secrets"), r));
      if (s["command"] !== undefined) put("cmd", r.argv(s["command"], key("command")));
    },
  },
  {
    keys: ["environment"],
    read: ({ s, at, r, c, key }) => {
      if (s["environment"] !== undefined) {
        const env = r.map(s["environment"], key("environment"), (k, p) => r.fromEnv(k, p));
        if (Object.keys(env).length > 0) c.environment = env;
        routingEnvironment(env, String(at[1]), key("environment"), r);
      }
    },
  },
  {
    keys: ["env_file"],
    read: ({ s, r, c, key }) => {
      if (s["env_file"] !== undefined) {
        const v = s["env_file"];
        const items = typeof v === "string" ? [v] : Array.isArray(v) ? v : [];
        if (items.length === 0 && typeof v !== "string")
          r.problem(key("env_file"), `expected a path or a list, got ${describe(v)}`);
        c.environmentFiles = items.flatMap((item, i) => {
          const p: Path = [...key("env_file"), i];
          if (isRecord(item)) {
            if (item["required"] === false)
              r.warn(p, "required: false is not imported; railyard needs the file at build time");
            const f = r.string(item["path"], [...p, "path"]);
            return f === undefined ? [] : [r.hostPath(f)];
          }
          const f = r.string(item, p);
          return f === undefined ? [] : [r.hostPath(f)];
        });
      }
    },
  },
  {
    keys: ["volumes"],
    read: volumes,
  },
  {
    keys: ["tmpfs"],
    read: ({ s, r, c, key }) => {
      if (s["tmpfs"] !== undefined) {
        const t = s["tmpfs"];
        c.tmpfs = [...(c.tmpfs ?? []), ...r.oneOrMany(t, key("tmpfs"))];
      }
    },
  },
  {
    keys: ["ports"],
    read: ports,
  },
  {
    keys: ["healthcheck"],
    read: ({ s, r, c, key }) => {
      const hc = s["healthcheck"];
      if (hc !== undefined) {
        const h = healthcheck(hc, key("healthcheck"), r);
        if (h) c.healthcheck = h;
      }
    },
  },
  {
    keys: ["user", "working_dir", "hostname"],
    read: ({ s, r, put, key }) => {
      if (s["user"] !== undefined) put("user", r.string(s["user"], key("user")));
      if (s["working_dir"] !== undefined)
        put("workdir", r.string(s["working_dir"], key("working_dir")));
      if (s["hostname"] !== undefined) put("hostname", r.string(s["hostname"], key("hostname")));
    },
  },
  {
    keys: ["read_only", "init"],
    read: ({ s, r, c, key }) => {
      // Compose's root filesystem is writable unless read_only says so, as an image's is in railyard.
      if (s["read_only"] === true) c.readonly = true;
      if (s["read_only"] !== undefined && typeof s["read_only"] !== "boolean")
        r.problem(key("read_only"), `expected true or false, got ${describe(s["read_only"])}`);
      if (s["init"] === true) c.init = true;
      if (s["init"] !== undefined && typeof s["init"] !== "boolean")
        r.problem(key("init"), `expected true or false, got ${describe(s["init"])}`);
    },
  },
  {
    keys: ["sysctls"],
    read: sysctls,
  },
  {
    keys: ["shm_size"],
    read: ({ s, r, put, key }) => {
      const v = s["shm_size"];
      if (v !== undefined) put("shmSize", typeof v === "number" ? v : r.string(v, key("shm_size")));
    },
  },
  {
    keys: ["dns", "dns_search", "dns_opt"],
    read: ({ s, r, c, key }) => {
      const list = (k: string) => (s[k] === undefined ? undefined : r.oneOrMany(s[k], key(k)));
      const servers = list("dns");
      const search = list("dns_search");
      const options = list("dns_opt");
      if (servers || search || options)
        c.dns = {
          ...(servers ? { servers } : {}),
          ...(search ? { search } : {}),
          ...(options ? { options } : {}),
        };
    },
  },
  {
    keys: ["extra_hosts"],
    read: ({ s, r, c, key }) => {
      const v = s["extra_hosts"];
      if (v === undefined) return;
      const hosts: Record<string, string[]> = {};
      // `[::1]` as compose also writes an IPv6 address; /etc/hosts takes it bare.
      const add = (name: string, address: string) =>
        (hosts[name] ??= []).push(address.replace(/^\[(.*)\]$/, "$1"));
      if (Array.isArray(v))
        v.forEach((item, i) => {
          const text = r.string(item, [...key("extra_hosts"), i]);
          // host=address, or host:address split at the first colon (an IPv6 address has more).
          const m = text === undefined ? null : /^([^=:]+)[=:](.+)$/.exec(text);
          if (m) add(m[1] as string, m[2] as string);
          else if (text !== undefined)
            r.problem(
              [...key("extra_hosts"), i],
              `expected "host=address", got ${JSON.stringify(text)}`,
            );
        });
      else if (isRecord(v))
        for (const [name, a] of Object.entries(v))
          for (const address of r.oneOrMany(a, [...key("extra_hosts"), name])) add(name, address);
      else r.problem(key("extra_hosts"), `expected a list or a map, got ${describe(v)}`);
      if (Object.keys(hosts).length > 0)
        c.extraHosts = Object.fromEntries(
          Object.entries(hosts).map(([n, list]) => [
            n,
            list.length === 1 ? (list[0] as string) : list,
          ]),
        );
    },
  },
  {
    keys: ["group_add"],
    read: ({ s, r, c, key }) => {
      const v = s["group_add"];
      if (v === undefined) return;
      if (!Array.isArray(v))
        return r.problem(key("group_add"), `expected a list, got ${describe(v)}`);
      c.groupAdd = v.flatMap((g, i): (string | number)[] => {
        if (typeof g === "number") return [g];
        const name = r.string(g, [...key("group_add"), i]);
        return name === undefined ? [] : [name];
      });
    },
  },
  {
    keys: ["logging"],
    read: ({ s, at, r, key }) => {
      if (s["logging"] !== undefined)
        r.warn(
          key("logging"),
          `not imported: a service's output goes to the journal, which keeps and rotates it (railyard logs ${String(at[1])})`,
        );
    },
  },
  {
    keys: ["container_name"],
    read: ({ s, r, key }) => {
      if (s["container_name"] !== undefined)
        r.warn(
          key("container_name"),
          "not imported: railyard names the container and its unit after the service (and the project)",
        );
    },
  },
  {
    keys: ["pid"],
    read: ({ s, r, c, key }) => {
      const v = s["pid"];
      if (v === undefined) return;
      if (v === "host") c.pid = "host";
      else
        r.warn(
          key("pid"),
          `${JSON.stringify(v)} is not imported; railyard shares only the host's process namespace (pid: host)`,
        );
    },
  },
  {
    keys: ["ulimits"],
    read: ({ s, r, put, key }) => {
      const v = s["ulimits"];
      if (v === undefined) return;
      if (!isRecord(v)) return r.problem(key("ulimits"), `expected a map, got ${describe(v)}`);
      // Values as compose gives them; railyard's own check names any it cannot take.
      put(
        "ulimits",
        Object.fromEntries(
          Object.entries(v).map(([name, l]) => [
            name,
            isRecord(l)
              ? { soft: l["soft"] as UlimitValue, hard: l["hard"] as UlimitValue }
              : (l as UlimitValue),
          ]),
        ),
      );
    },
  },
  {
    keys: ["depends_on"],
    read: ({ s, r, c, key, kept, checked }) => {
      const deps = s["depends_on"];
      if (deps !== undefined) {
        const names = Array.isArray(deps)
          ? r.strings(deps, key("depends_on"))
          : isRecord(deps)
            ? Object.keys(deps)
            : [];
        if (!Array.isArray(deps) && !isRecord(deps))
          r.problem(key("depends_on"), `expected a list or a map, got ${describe(deps)}`);
        if (isRecord(deps))
          for (const [d, v] of Object.entries(deps)) {
            const cond = isRecord(v) ? v["condition"] : undefined;
            // railyard's units wait for a dependency's first passing check whenever it has one.
            if (cond === "service_healthy" && !checked.has(d))
              r.warn(
                [...key("depends_on"), d],
                `condition service_healthy: ${d} has no healthcheck here, so railyard waits only for it to start`,
              );
            else if (cond !== undefined && cond !== "service_started" && cond !== "service_healthy")
              r.warn(
                [...key("depends_on"), d],
                `condition ${String(cond)} is not imported; railyard starts ${d} first, without waiting for more`,
              );
          }
        c.dependsOn = names.filter((d) => {
          if (kept.has(d)) return true;
          r.warn(key("depends_on"), `${d} was not imported; the dependency is dropped`);
          return false;
        });
      }
    },
  },
  {
    keys: ["labels"],
    read: ({ s, at, r, c, key }) => {
      if (s["labels"] !== undefined) {
        const labels = r.map(s["labels"], key("labels"), (k, p) => {
          r.warn(p, `the label ${k} has no value; written as ""`);
          return "";
        });
        if (Object.keys(labels).length > 0) c.labels = labels;
        routingLabels(labels, String(at[1]), key("labels"), r);
      }
    },
  },
  {
    keys: ["cap_add", "cap_drop"],
    read: capabilities,
  },
  {
    keys: ["devices"],
    read: ({ s, r, c, key }) => {
      if (s["devices"] !== undefined) {
        const d = s["devices"];
        c.devices = Array.isArray(d)
          ? d.flatMap((x, i) => {
              if (!isRecord(x)) return r.string(x, [...key("devices"), i]) ?? [];
              const src = r.string(x["source"], [...key("devices"), i, "source"]);
              const dst =
                x["target"] === undefined
                  ? src
                  : r.string(x["target"], [...key("devices"), i, "target"]);
              const perm =
                x["permissions"] === undefined
                  ? "rwm"
                  : r.string(x["permissions"], [...key("devices"), i, "permissions"]);
              return src === undefined ? [] : [`${src}:${dst}:${perm}`];
            })
          : r.strings(d, key("devices"));
      }
    },
  },
  {
    keys: ["restart"],
    read: ({ s, r, c, key }) => {
      const restart = s["restart"];
      if (restart !== undefined) {
        const v = r.string(restart, key("restart")) ?? "";
        const [policy = "", max] = v.split(":");
        const mapped = RESTART[policy];
        if (!mapped)
          r.problem(
            key("restart"),
            `${JSON.stringify(v)} is not a restart policy. expected "no", "always", "on-failure[:max]" or "unless-stopped"`,
          );
        else c.restart = mapped;
        if (policy === "unless-stopped")
          r.warn(
            key("restart"),
            '"unless-stopped" becomes "always": a service stopped by hand starts again at boot',
          );
        if (max !== undefined && mapped)
          r.warn(
            key("restart"),
            `the limit of ${max} retries is not imported; systemd restarts without a count`,
          );
      }
    },
  },
  {
    keys: ["stop_signal", "stop_grace_period"],
    read: ({ s, r, c, put, key }) => {
      if (s["stop_signal"] !== undefined)
        put("stopSignal", r.string(s["stop_signal"], key("stop_signal")));
      if (s["stop_grace_period"] !== undefined) {
        const v = s["stop_grace_period"];
        const d = typeof v === "number" || typeof v === "string" ? parseDuration(v) : undefined;
        if (!d?.ok)
          r.problem(
            key("stop_grace_period"),
            d ? d.error : `expected a duration, got ${describe(v)}`,
          );
        else {
          c.stopTimeout = Math.ceil(d.value / 1000);
          if (c.stopTimeout * 1000 !== d.value)
            r.warn(
              key("stop_grace_period"),
              `${String(v)} becomes ${c.stopTimeout} s; stopTimeout counts whole seconds`,
            );
        }
      }
    },
  },
  {
    keys: ["network_mode", "networks"],
    read: ({ s, at, r, c }) => {
      Object.assign(c, serviceNetwork(s, at, r));
    },
  },
  {
    keys: ["security_opt"],
    read: ({ s, r, c, key }) => {
      const secOpts = s["security_opt"];
      if (secOpts !== undefined)
        r.strings(secOpts, key("security_opt")).forEach((o, i) => {
          const seccomp = /^seccomp[=:](.+)$/.exec(o)?.[1];
          if (seccomp !== undefined)
            c.seccomp = seccomp === "unconfined" ? seccomp : r.hostPath(seccomp);
          else if (!/^no-new-privileges(:true)?$/.test(o))
            r.warn(
              [...key("security_opt"), i],
              `${JSON.stringify(o)} is not imported; railyard always sets no_new_privileges and runc's defaults`,
            );
        });
    },
  },
  {
    keys: ["mem_limit", "cpus", "pids_limit", "deploy"],
    read: resources,
  },
  {
    keys: ["gpus"],
    read: gpus,
  },
];

/** Why a key compose users often write is left out, and what to do instead. */
const LEFT_OUT: Readonly<Record<string, string>> = {
  privileged:
    "railyard does not turn off every confinement at once: give the service the capabilities and devices it needs",
  expose: "not needed: a network's members reach each other's ports",
  links: "not needed: services reach each other by name on their network",
  external_links: "not needed: services reach each other by name on their network",
  volumes_from: "mount the same host directories instead",
  configs: "mount the file as a volume",
  tty: "railyard run -t gives a terminal",
  stdin_open: "railyard run -t gives a terminal",
};

/** The keys `service` reads, from the table; any other is named in a warning. */
export const HANDLED: ReadonlySet<string> = new Set(HANDLERS.flatMap((h) => h.keys));

export function service(
  s: Obj,
  at: Path,
  r: Reader,
  kept: ReadonlySet<string>,
  checked: ReadonlySet<string>,
): ContainerConfig {
  const c: ContainerConfig = {};
  const put = <K extends keyof ContainerConfig>(k: K, v: ContainerConfig[K] | undefined) => {
    if (v !== undefined) c[k] = v;
  };
  const key = (k: string): Path => [...at, k];
  for (const k of Object.keys(s))
    if (!HANDLED.has(k))
      r.warn(key(k), `is not imported; ${own(LEFT_OUT, k) ?? "railyard has no such setting"}`);
  const sv: Service = { s, at, r, c, put, key, kept, checked };
  for (const h of HANDLERS) h.read(sv);
  return c;
}

export function healthcheck(v: unknown, path: Path, r: Reader): HealthcheckConfig | undefined {
  if (!isRecord(v)) {
    r.problem(path, `expected a map, got ${describe(v)}`);
    return undefined;
  }
  if (v["disable"] === true) return undefined;
  const t = v["test"];
  let test: string | string[] | undefined;
  if (typeof t === "string") test = t;
  else if (Array.isArray(t)) {
    const [kind, ...rest] = r.strings(t, [...path, "test"]);
    if (kind === "NONE") return undefined;
    if (kind === "CMD") test = rest;
    else if (kind === "CMD-SHELL") test = rest.join(" ");
    else
      r.problem(
        [...path, "test"],
        `must start with "CMD", "CMD-SHELL" or "NONE", got ${JSON.stringify(kind)}`,
      );
  } else if (t === undefined) {
    r.warn(path, "has no test: the image's own HEALTHCHECK is not imported");
    return undefined;
  } else r.problem([...path, "test"], `expected a string or a list, got ${describe(t)}`);
  if (test === undefined) return undefined;
  const h: HealthcheckConfig = { test };
  const dur = (k: string, into: "interval" | "timeout" | "startPeriod") => {
    const d = v[k];
    if (d === undefined) return;
    if (typeof d === "string" || typeof d === "number") h[into] = d;
    else r.problem([...path, k], `expected a duration, got ${describe(d)}`);
  };
  dur("interval", "interval");
  dur("timeout", "timeout");
  dur("start_period", "startPeriod");
  if (v["retries"] !== undefined) {
    if (typeof v["retries"] === "number") h.retries = v["retries"];
    else r.problem([...path, "retries"], `expected a number, got ${describe(v["retries"])}`);
  }
  for (const k of Object.keys(v))
    if (!["test", "interval", "timeout", "start_period", "retries", "disable"].includes(k))
      r.warn([...path, k], "is not imported");
  return h;
}
