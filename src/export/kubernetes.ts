/**
 * railyard config -> Kubernetes objects (pure). Each image container becomes a Deployment (or a
 * StatefulSet), with a Service when it has ports, claims or hostPath volumes for its binds, and a
 * Secret or ConfigMap for its environmentFiles. Whatever has no Kubernetes meaning is named in
 * `warnings`, never dropped silently.
 */
import { effectiveCapabilities } from "../model/capabilities.js";
import { formatDuration, formatPorts, parseSize, publishedPort } from "../model/parse.js";
import type { ResolvedConfig, ResolvedContainer, ResolvedMount } from "../model/types.js";
import { joinedOwner } from "../model/network.js";
import { imageContainers, sortedEntries, type ExportResult } from "./common.js";
import { warnUnmapped } from "./kubernetes-unmapped.js";
import { dnsLabel } from "./names.js";

export type KubeObject = Record<string, unknown> & {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string } & Record<string, unknown>;
};

export interface KubernetesOptions {
  /** StatefulSets with volumeClaimTemplates for containers with volumes. @default false */
  readonly stateful?: boolean;
  /** hostPath volumes instead of PersistentVolumeClaims. @default false */
  readonly hostPaths?: boolean;
  /** Where environmentFiles go. @default "secret" */
  readonly envFrom?: "secret" | "configmap";
  /** Size asked for by each claim. @default "1Gi" */
  readonly claimSize?: string;
  /** Image of the init containers that wait for a dependency's Service. */
  readonly waitImage?: string;
}

export interface KubernetesInput {
  /** The image each container runs, with its locked digest where there is one. */
  readonly images: Readonly<Record<string, string>>;
  /** Each container's environmentFiles, read and merged. */
  readonly envFiles: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Each secret a container uses, read from its file, base64 (absent: not readable here). */
  readonly secretFiles?: Readonly<Record<string, string>>;
}

const DEFAULT_WAIT_IMAGE = "docker.io/library/busybox:1.36";
const MANAGED = { "app.kubernetes.io/managed-by": "railyard" };
/**
 * The pod label of each railyard network a container is on (`railyard.network/NAME: member`),
 * which the NetworkPolicies of its peers there select.
 */
const networkLabel = (network: string) => `railyard.network/${dnsLabel(network)}`;

/** Bytes as a Kubernetes quantity: binary units when exact. */
export function quantity(bytes: number): string {
  for (const [unit, n] of [
    ["Gi", 2 ** 30],
    ["Mi", 2 ** 20],
    ["Ki", 2 ** 10],
  ] as const)
    if (bytes % n === 0) return `${bytes / n}${unit}`;
  return String(bytes);
}

const cpuQuantity = (cpus: number) => `${Math.round(cpus * 1000)}m`;

function tmpfsSize(m: ResolvedMount): string | undefined {
  const size = m.options.find((o) => o.startsWith("size="))?.slice(5);
  const bytes = size === undefined ? undefined : parseSize(size);
  return bytes?.ok ? quantity(bytes.value) : undefined;
}

/**
 * A container's secrets: one Secret object with each value (read from its file at export), and
 * per secret a volume of one item, mounted read-only at its target with its mode (uid and gid
 * have no per-file form in Kubernetes; the pod's fsGroup is the nearest).
 */
function secretVolumes(
  c: ResolvedContainer,
  name: string,
  input: KubernetesInput,
  objects: KubeObject[],
  meta: Record<string, unknown>,
  warn: (m: string) => void,
): PodVolume[] {
  if (c.secrets.length === 0) return [];
  const secretName = dnsLabel(`${name}-secrets`);
  const data: Record<string, string> = {};
  for (const x of c.secrets) {
    const value = input.secretFiles?.[x.source];
    if (value === undefined)
      warn(
        `containers.${c.name}.secrets: ${x.source} could not be read here (an encrypted credential, or no file); add it to Secret ${secretName} yourself`,
      );
    else data[x.source] = value;
  }
  objects.push({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { ...meta, name: secretName },
    type: "Opaque",
    data: Object.fromEntries(sortedEntries(data)),
  });
  if (c.secrets.some((x) => x.uid !== 0 || x.gid !== 0))
    warn(`containers.${c.name}.secrets: uid and gid are not exported; set the pod's fsGroup`);
  return c.secrets.map((x, i) => ({
    volume: {
      name: `secret-${i}`,
      secret: { secretName, items: [{ key: x.source, path: "value", mode: x.mode }] },
    },
    mount: { name: `secret-${i}`, mountPath: x.target, subPath: "value", readOnly: true },
  }));
}

/** What a mount becomes: a volume of the pod (or a claim template) and the container's mount. */
interface PodVolume {
  readonly volume: Record<string, unknown>;
  readonly mount: Record<string, unknown>;
  readonly claim?: KubeObject;
}

function podVolumes(
  c: ResolvedContainer,
  name: string,
  o: Required<KubernetesOptions>,
  warn: (m: string) => void,
): PodVolume[] {
  const out: PodVolume[] = [];
  c.mounts.forEach((m, i) => {
    const slug = m.destination.toLowerCase().replace(/[^a-z0-9]+/g, "-");
    const vol = dnsLabel(`data-${i}${slug === "-" ? "" : slug}`.replace(/-+$/, ""), 50);
    const mount = {
      name: vol,
      mountPath: m.destination,
      ...(m.options.includes("ro") ? { readOnly: true } : {}),
    };
    if (m.type === "tmpfs") {
      const size = tmpfsSize(m);
      out.push({
        volume: { name: vol, emptyDir: { medium: "Memory", ...(size ? { sizeLimit: size } : {}) } },
        mount,
      });
    } else if (m.type === "bind") {
      if (o.hostPaths) {
        out.push({ volume: { name: vol, hostPath: { path: m.source } }, mount });
        return;
      }
      const claimName = dnsLabel(`${name}-${vol}`);
      warn(
        `containers.${c.name}.${m.origin}: ${m.source} becomes a PersistentVolumeClaim of ${o.claimSize}; its files are not copied`,
      );
      out.push({
        volume: { name: vol, persistentVolumeClaim: { claimName } },
        mount,
        claim: {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: claimName, labels: { ...MANAGED, "app.kubernetes.io/name": name } },
          spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: o.claimSize } },
          },
        },
      });
    } else
      warn(
        `containers.${c.name}.${m.origin}: a ${m.type} mount has no Kubernetes volume; not exported`,
      );
  });
  return out;
}

/** Capabilities as Kubernetes takes them: drop ALL, then add exactly the set railyard grants. */
function capabilities(c: ResolvedContainer): { drop: string[]; add: string[] } {
  return { drop: ["ALL"], add: effectiveCapabilities(c).map((x) => x.replace(/^CAP_/, "")) };
}

/** `settle`: a new pod counts as available once ready for this long, as a switch waits. */
const minReady = (c: ResolvedContainer) =>
  c.settle !== undefined ? { minReadySeconds: Math.ceil(c.settle / 1000) } : {};

/** The Kubernetes objects for a config, in a stable order. */
export function toKubernetes(
  config: ResolvedConfig,
  input: KubernetesInput,
  options: KubernetesOptions = {},
): ExportResult<KubeObject[]> {
  const o: Required<KubernetesOptions> = {
    stateful: options.stateful ?? false,
    hostPaths: options.hostPaths ?? false,
    envFrom: options.envFrom ?? "secret",
    claimSize: options.claimSize ?? "1Gi",
    waitImage: options.waitImage ?? DEFAULT_WAIT_IMAGE,
  };
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const objects: KubeObject[] = [];
  const exported = imageContainers(config, input.images, "Kubernetes", warn);
  const names = new Map(exported.map(({ c }) => [c.name, dnsLabel(c.name)]));
  for (const { c } of exported) {
    const name = names.get(c.name) as string;
    const labels = { "app.kubernetes.io/name": name };
    const meta = { name, labels: { ...MANAGED, ...labels } };
    warnUnmapped(c, warn);
    const volumes = [
      ...podVolumes(c, name, o, warn),
      ...secretVolumes(c, name, input, objects, meta, warn),
    ];
    const envFrom = envObjects(c, name, input, o, meta, objects);
    const isolated = c.network === "none" && c.ports.length === 0;
    const pod: Pod = { c, name, labels, meta, isolated, volumes };
    const initContainers = waitContainers(pod, config, names, o, warn);
    const template = podTemplate(pod, container(pod, input, envFrom, warn), initContainers, warn);
    const stateful = o.stateful && volumes.some((v) => v.claim);
    objects.push(...workload(pod, template, stateful));
    if (c.ports.length > 0 || stateful) objects.push(service(pod));
    objects.push(...networkPolicies(pod));
  }
  return { output: objects, warnings };
}

/** What every builder of one container's objects shares. */
interface Pod {
  readonly c: ResolvedContainer;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly meta: { name: string; labels: Record<string, string> };
  /** network "none" with no ports: no traffic in or out. */
  readonly isolated: boolean;
  readonly volumes: ReturnType<typeof podVolumes>;
}

/** The environmentFiles' values as a Secret (or ConfigMap), and the envFrom that reads it. */
function envObjects(
  c: ResolvedContainer,
  name: string,
  input: KubernetesInput,
  o: Required<KubernetesOptions>,
  meta: Pod["meta"],
  objects: KubeObject[],
): Record<string, unknown>[] {
  const fileEnv = input.envFiles[c.name] ?? {};
  const envFrom: Record<string, unknown>[] = [];
  if (c.environmentFiles.length > 0) {
    const envName = dnsLabel(`${name}-env`);
    const data = Object.fromEntries(sortedEntries(fileEnv));
    if (o.envFrom === "secret") {
      objects.push({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { ...meta, name: envName },
        type: "Opaque",
        stringData: data,
      });
      envFrom.push({ secretRef: { name: envName } });
    } else {
      objects.push({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { ...meta, name: envName },
        data,
      });
      envFrom.push({ configMapRef: { name: envName } });
    }
  }
  return envFrom;
}

/** dependsOn as init containers that wait for each dependency's Service name to resolve. */
function waitContainers(
  { c, isolated }: Pod,
  config: ResolvedConfig,
  names: ReadonlyMap<string, string>,
  o: Required<KubernetesOptions>,
  warn: (m: string) => void,
): Record<string, unknown>[] {
  formatPorts(c.ports.filter((p) => p.hostIp !== undefined)).forEach((p) =>
    warn(
      `containers.${c.name}.ports: the host address of ${p} is not exported; a Service is reachable inside the cluster`,
    ),
  );
  const owner = joinedOwner(c);
  if (owner !== undefined)
    warn(
      `containers.${c.name}.network: "${c.network}" is not exported; in Kubernetes, containers that share a network namespace are one pod: put ${c.name} in ${owner}'s pod`,
    );
  const initContainers: Record<string, unknown>[] = [];
  if (isolated && c.dependsOn.length > 0)
    warn(
      `containers.${c.name}.dependsOn: not exported; with network "none" the pod cannot reach a Service to wait for`,
    );
  for (const d of isolated ? [] : c.dependsOn) {
    const dep = config.containers[d];
    const depName = names.get(d);
    if (!dep || !depName || dep.ports.length === 0) {
      warn(
        `containers.${c.name}.dependsOn: ${d} has no Service to wait for (${depName ? "no ports" : "not exported"}); the pod starts without waiting`,
      );
      continue;
    }
    initContainers.push({
      name: dnsLabel(`wait-${depName}`),
      image: o.waitImage,
      command: [
        "sh",
        "-c",
        `until nslookup ${depName}; do echo waiting for ${depName}; sleep 2; done`,
      ],
    });
  }
  return initContainers;
}

/** The pod's one container: the locked image, its process, security context and mounts. */
function container(
  { c, name, volumes }: Pod,
  input: KubernetesInput,
  envFrom: Record<string, unknown>[],
  warn: (m: string) => void,
): Record<string, unknown> {
  const env = sortedEntries(c.environment).map(([k, value]) => ({ name: k, value }));
  const ports = c.ports.map((p) => ({
    containerPort: p.containerPort,
    protocol: p.protocol.toUpperCase(),
  }));
  const image = c.image as NonNullable<ResolvedContainer["image"]>;
  return {
    name,
    image: input.images[c.name] ?? image.ref,
    imagePullPolicy: {
      always: "Always",
      newer: "Always",
      never: "Never",
      missing: "IfNotPresent",
    }[image.pull],
    ...(image.entrypoint ? { command: [...image.entrypoint] } : {}),
    ...(image.cmd ? { args: [...image.cmd] } : {}),
    ...(env.length > 0 ? { env } : {}),
    ...(envFrom.length > 0 ? { envFrom } : {}),
    ...(c.workdir !== undefined ? { workingDir: c.workdir } : {}),
    ...(ports.length > 0 ? { ports } : {}),
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: capabilities(c),
      readOnlyRootFilesystem: c.readonly,
      seccompProfile: { type: c.seccomp === "unconfined" ? "Unconfined" : "RuntimeDefault" },
    },
    ...resources(c),
    ...probes(c, warn),
    ...(volumes.length > 0 ? { volumeMounts: volumes.map((v) => v.mount) } : {}),
  };
}

/** `dns` as the pod's dnsConfig; servers of its own replace the cluster's (dnsPolicy None). */
function dnsOf(c: ResolvedContainer): Record<string, unknown> {
  if (!c.dns) return {};
  const options = c.dns.options.map((o) => {
    const [name, value] = o.split(":");
    return value === undefined ? { name } : { name, value };
  });
  return {
    ...(c.dns.servers.length > 0 ? { dnsPolicy: "None" } : {}),
    dnsConfig: {
      ...(c.dns.servers.length > 0 ? { nameservers: [...c.dns.servers] } : {}),
      ...(c.dns.search.length > 0 ? { searches: [...c.dns.search] } : {}),
      ...(options.length > 0 ? { options } : {}),
    },
  };
}

/**
 * `extraHosts` as the pod's hostAliases, one per address. "host-gateway" has no counterpart (a
 * pod does not reach its node by a fixed address): said, and left out.
 */
function hostAliasesOf(c: ResolvedContainer, warn: (m: string) => void): Record<string, unknown> {
  const byIp = new Map<string, string[]>();
  for (const h of c.extraHosts ?? []) {
    if (h.address === "host-gateway") {
      warn(
        `containers.${c.name}.extraHosts.${h.name}: "host-gateway" is not exported; a pod reaches its node through a Service or the node's address`,
      );
      continue;
    }
    byIp.set(h.address, [...(byIp.get(h.address) ?? []), h.name]);
  }
  return byIp.size === 0
    ? {}
    : { hostAliases: [...byIp].map(([ip, hostnames]) => ({ ip, hostnames })) };
}

/** The pod template: its security context, hostname, network, init and main containers. */
function podTemplate(
  { c, labels }: Pod,
  main: Record<string, unknown>,
  initContainers: Record<string, unknown>[],
  warn: (m: string) => void,
): { metadata: Record<string, unknown>; spec: Record<string, unknown> } {
  const sysctls = Object.entries(c.sysctls).map(([name, value]) => ({ name, value }));
  const gids = (c.groupAdd ?? []).filter((g): g is number => typeof g === "number");
  if (gids.length < (c.groupAdd ?? []).length)
    warn(
      `containers.${c.name}.groupAdd: group names are not exported; Kubernetes takes ids (supplementalGroups)`,
    );
  const podSecurity = {
    ...(c.user ? { runAsUser: c.user.uid, runAsGroup: c.user.gid } : {}),
    ...(gids.length > 0 ? { supplementalGroups: gids } : {}),
    ...(sysctls.length > 0 ? { sysctls } : {}),
  };
  const podSpec: Record<string, unknown> = {
    ...(Object.keys(podSecurity).length > 0 ? { securityContext: podSecurity } : {}),
    hostname: c.hostname.toLowerCase(),
    ...(c.network === "host" ? { hostNetwork: true } : {}),
    ...(c.pid === "host" ? { hostPID: true } : {}),
    ...dnsOf(c),
    ...hostAliasesOf(c, warn),
    terminationGracePeriodSeconds: c.stopTimeout,
    ...(initContainers.length > 0 ? { initContainers } : {}),
    containers: [main],
  };
  const annotations = Object.fromEntries(sortedEntries(c.labels));
  const nets = c.networks.map((a) => a.name);
  c.networks.forEach((a) => {
    if (a.aliases.length > 0)
      warn(
        `containers.${c.name}.networks.${a.name}.aliases: not exported; in the cluster the pod is reached by its Service's name`,
      );
  });
  return {
    metadata: {
      labels: { ...labels, ...Object.fromEntries(nets.map((n) => [networkLabel(n), "member"])) },
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec: podSpec,
  };
}

/** A StatefulSet with claim templates, or a Deployment (Recreate) after its claims. */
function workload(
  { c, name, labels, meta, volumes }: Pod,
  template: { metadata: Record<string, unknown>; spec: Record<string, unknown> },
  stateful: boolean,
): KubeObject[] {
  const claims = volumes.flatMap((v) => (v.claim ? [v.claim] : []));
  const podVolumesList = volumes.filter((v) => !(stateful && v.claim)).map((v) => v.volume);
  if (podVolumesList.length > 0) template.spec["volumes"] = podVolumesList;
  if (stateful)
    return [
      {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: meta,
        spec: {
          replicas: 1,
          ...minReady(c),
          serviceName: name,
          selector: { matchLabels: labels },
          template,
          volumeClaimTemplates: volumes.flatMap((v) =>
            v.claim ? [{ metadata: { name: v.volume["name"] }, spec: v.claim["spec"] }] : [],
          ),
        },
      },
    ];
  return [
    ...claims,
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta,
      spec: {
        replicas: 1,
        ...minReady(c),
        selector: { matchLabels: labels },
        // One writer at a time for ReadWriteOnce claims and host paths.
        strategy: { type: "Recreate" },
        template,
      },
    },
  ];
}

/** The Service of its published ports; a StatefulSet's without ports is headless. */
function service({ c, labels, meta }: Pod): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta,
    spec: {
      selector: labels,
      // A StatefulSet's Service without ports is headless: it only names the pods.
      ...(c.ports.length > 0
        ? {
            ports: c.ports.map((p) => ({
              name: `${p.protocol}-${publishedPort(p)}`,
              port: publishedPort(p),
              targetPort: p.containerPort,
              protocol: p.protocol.toUpperCase(),
            })),
          }
        : { clusterIP: "None" }),
    },
  };
}

/** railyard's network rules as NetworkPolicies: private and named networks, and "none". */
function networkPolicies({ c, name, labels, meta, isolated }: Pod): KubeObject[] {
  const out: KubeObject[] = [];
  const nets = c.networks.map((a) => a.name);
  const named = nets.length > 0;
  if (c.network === "private" || named)
    out.push({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { ...meta, name: dnsLabel(`${name}-network`) },
      // As railyard's networks: the published ports from anywhere, everything from the members
      // of the same named network, nothing else. Outbound traffic is not restricted.
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ["Ingress"],
        ingress: [
          ...(named
            ? [
                {
                  from: nets.map((n) => ({
                    podSelector: { matchLabels: { [networkLabel(n)]: "member" } },
                  })),
                },
              ]
            : []),
          ...(c.ports.length > 0
            ? [
                {
                  ports: c.ports.map((p) => ({
                    port: p.containerPort,
                    protocol: p.protocol.toUpperCase(),
                  })),
                },
              ]
            : []),
        ],
      },
    });
  if (isolated)
    out.push({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { ...meta, name: dnsLabel(`${name}-isolated`) },
      // network "none": no traffic in or out, as with railyard's own loopback-only namespace.
      spec: { podSelector: { matchLabels: labels }, policyTypes: ["Ingress", "Egress"] },
    });
  return out;
}

function resources(c: ResolvedContainer): Record<string, unknown> {
  const limits: Record<string, string> = {};
  if (c.resources.memory !== undefined) limits["memory"] = quantity(c.resources.memory);
  if (c.resources.cpus !== undefined) limits["cpu"] = cpuQuantity(c.resources.cpus);
  return Object.keys(limits).length > 0 ? { resources: { limits, requests: { ...limits } } } : {};
}

/**
 * A healthcheck as probes: liveness (restart after `retries` failures) and readiness (no traffic
 * meanwhile), both the same exec check; a start period becomes a startup probe that holds them off.
 */
function probes(c: ResolvedContainer, warn: (m: string) => void): Record<string, unknown> {
  const h = c.healthcheck;
  if (!h) return {};
  const seconds = (ms: number, key: string) => {
    const s = Math.max(1, Math.ceil(ms / 1000));
    if (s * 1000 !== ms)
      warn(
        `containers.${c.name}.healthcheck.${key}: ${formatDuration(ms)} becomes ${s}s; probes count whole seconds`,
      );
    return s;
  };
  const period = seconds(h.interval, "interval");
  const check = {
    exec: { command: typeof h.test === "string" ? ["/bin/sh", "-c", h.test] : [...h.test] },
    periodSeconds: period,
    timeoutSeconds: seconds(h.timeout, "timeout"),
  };
  return {
    livenessProbe: { ...check, failureThreshold: h.retries },
    readinessProbe: { ...check, failureThreshold: h.retries },
    ...(h.startPeriod > 0
      ? {
          startupProbe: {
            ...check,
            failureThreshold: Math.ceil(h.startPeriod / (period * 1000)) + h.retries,
          },
        }
      : {}),
  };
}
