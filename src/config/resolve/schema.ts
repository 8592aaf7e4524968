/** The config's structure (types, enums, unknown keys) as valibot schemas, checked against the types. */
import * as v from "valibot";
import type { ContainerConfig } from "../../model/types.js";

export const str = v.string();
export const strList = v.array(str);
export const strMap = v.record(v.string(), str);
export const opt = v.optional;
export const whole = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

export const containerSchema = v.strictObject({
  args: opt(v.pipe(strList, v.minLength(1, "must name a program: it cannot be empty"))),
  closure: opt(v.picklist(["elf", "packages"])),
  include: opt(strList),
  image: opt(str),
  imageFile: opt(str),
  build: opt(
    v.union([
      str,
      v.strictObject({ context: str, dockerfile: opt(str), args: opt(strMap), target: opt(str) }),
    ]),
  ),
  cmd: opt(strList),
  entrypoint: opt(v.union([str, strList])),
  login: opt(v.strictObject({ registry: opt(str), username: str, passwordFile: str })),
  environment: opt(strMap),
  environmentFiles: opt(strList),
  secrets: opt(
    v.array(
      v.union([
        str,
        v.strictObject({
          source: str,
          target: opt(str),
          uid: opt(whole(0, 2 ** 32 - 2)),
          gid: opt(whole(0, 2 ** 32 - 2)),
          mode: opt(v.union([whole(0, 0o777), str])),
        }),
      ]),
    ),
  ),
  mounts: opt(
    v.record(v.string(), v.strictObject({ source: str, type: opt(str), options: opt(strList) })),
  ),
  volumes: opt(strList),
  tmpfs: opt(strList),
  ports: opt(strList),
  healthcheck: opt(
    v.strictObject({
      test: v.union([
        str,
        v.pipe(strList, v.minLength(1, "must name a program: it cannot be empty")),
      ]),
      interval: opt(v.union([v.number(), str])),
      timeout: opt(v.union([v.number(), str])),
      retries: opt(whole(1, 1000)),
      startPeriod: opt(v.union([v.number(), str])),
    }),
  ),
  user: opt(str),
  workdir: opt(str),
  hostname: opt(str),
  readonly: opt(v.boolean()),
  os: opt(str),
  arch: opt(str),
  dependsOn: opt(strList),
  autoStart: opt(v.boolean()),
  pull: opt(v.picklist(["missing", "always", "newer", "never"])),
  labels: opt(strMap),
  capabilities: opt(v.record(v.string(), v.boolean())),
  sysctls: opt(v.record(v.string(), v.union([str, v.number()]))),
  shmSize: opt(v.union([v.number(), str])),
  pid: opt(v.picklist(["host"])),
  groupAdd: opt(v.array(v.union([str, v.number()]))),
  service: opt(v.union([str, v.literal(false)])),
  exclude: opt(strList),
  extraHosts: opt(v.record(v.string(), v.union([str, strList]))),
  dns: opt(v.strictObject({ servers: opt(strList), search: opt(strList), options: opt(strList) })),
  ulimits: opt(
    v.record(
      v.string(),
      v.union([
        v.number(),
        str,
        v.strictObject({ soft: v.union([v.number(), str]), hard: v.union([v.number(), str]) }),
      ]),
    ),
  ),
  init: opt(v.boolean()),
  devices: opt(strList),
  restart: opt(
    v.picklist([
      "no",
      "always",
      "on-success",
      "on-failure",
      "on-abnormal",
      "on-abort",
      "on-watchdog",
    ]),
  ),
  stopSignal: opt(str),
  stopTimeout: opt(whole(0, 86400)),
  settle: opt(v.union([v.number(), str])),
  network: opt(str),
  networks: opt(
    v.union([strList, v.record(v.string(), v.strictObject({ aliases: opt(strList) }))]),
  ),
  seccomp: opt(str),
  resources: opt(
    v.strictObject({
      memory: opt(v.union([v.number(), str])),
      cpus: opt(v.pipe(v.number(), v.gtValue(0))),
      pids: opt(whole(1)),
    }),
  ),
  backend: opt(v.picklist(["oci", "docker", "podman"])),
  serviceName: opt(str),
});

export const topSchema = v.strictObject({
  containers: opt(v.record(v.string(), v.unknown())),
  runtime: opt(v.picklist(["auto", "runc", "crun"])),
  stateDir: opt(str),
  backend: opt(v.picklist(["oci", "docker", "podman"])),
  registries: opt(v.record(v.string(), v.strictObject({ insecure: opt(v.boolean()) }))),
  networks: opt(
    v.record(
      v.string(),
      v.strictObject({ subnet: opt(str), ipv6: opt(v.union([v.boolean(), str])) }),
    ),
  ),
  secrets: opt(v.record(v.string(), v.strictObject({ file: opt(str), encrypted: opt(str) }))),
  onFailure: opt(
    v.union([str, v.pipe(strList, v.minLength(1, "must name a program: it cannot be empty"))]),
  ),
  cdiSpecDirs: opt(strList),
  project: opt(str),
});

// Compile-time guarantees that the schema and the documented types describe the same keys, and
// that every documented value is accepted by the schema.
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const sameKeys: Same<keyof v.InferInput<typeof containerSchema>, keyof ContainerConfig> =
  true;
export const accepts = (c: ContainerConfig): v.InferInput<typeof containerSchema> => c;
void sameKeys;
void accepts;
