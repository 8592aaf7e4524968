import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from "kubernetes-models/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { resolveConfig } from "../config/resolve/index.js";
import { fakeContext } from "../../tests/helpers/context.js";
import { REPO_ROOT } from "../../tests/helpers/paths.js";
import { snapshot } from "../../tests/helpers/snapshot.js";
import { toYamlStream } from "./inputs.js";
import { toKubernetes, type KubeObject, type KubernetesOptions } from "./kubernetes.js";
import { dnsLabel } from "./names.js";

const DIGEST = `sha256:${"a".repeat(64)}`;
const config = resolveConfig(
  {
    networks: { backend: {} },
    containers: {
      db: { image: "postgres:16", network: "backend" },
      onedrive: {
        image: "docker.io/driveone/onedrive:edge",
        user: "2000:100",
        readonly: true,
        volumes: ["/srv/onedrive/conf:/onedrive/conf", "/srv/onedrive/data:/onedrive/data:ro"],
        environmentFiles: ["/etc/onedrive.env"],
        resources: { memory: "512m", cpus: 0.5, pids: 100 },
        capabilities: { NET_ADMIN: true, KILL: false },
        dependsOn: ["web"],
        network: "host",
        stopTimeout: 30,
        healthcheck: { test: "test -f /onedrive/conf/refresh_token" },
      },
      web: {
        image: "nginx:1.25",
        cmd: ["nginx", "-g", "daemon off;"],
        ports: ["127.0.0.1:8080:80", "53/udp"],
        tmpfs: ["/tmp:size=64m"],
        restart: "on-failure",
        labels: { "org.example/team": "home" },
        environment: { B: "2", A: "1" },
        healthcheck: {
          test: ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"],
          interval: "10s",
          timeout: 1.5,
          retries: 5,
          startPeriod: "1m",
        },
      },
      isolated: { image: "busybox", dependsOn: ["web"], seccomp: "unconfined", network: "none" },
      Host_Thing: { args: ["/bin/sh"] },
    },
  },
  fakeContext(),
);
const input = {
  images: {
    onedrive: `docker.io/driveone/onedrive:edge@${DIGEST}`,
    web: `docker.io/library/nginx:1.25@${DIGEST}`,
    isolated: "docker.io/library/busybox:latest",
  },
  envFiles: { onedrive: { TOKEN: "t0k", MODE: "sync" } },
};
const render = (o: KubernetesOptions = {}) => toKubernetes(config, input, o);
const find = (objs: readonly KubeObject[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(
    o,
    `no ${kind} ${name} in ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")}`,
  );
  return o as KubeObject & { spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
};

const MODELS: Record<string, new (d: never) => { validate(): void }> = {
  Deployment,
  StatefulSet,
  Service,
  Secret,
  ConfigMap,
  PersistentVolumeClaim,
  NetworkPolicy,
};

/** Every object through the validator that kubernetes-models builds from the OpenAPI schema. */
function validateAll(objs: readonly KubeObject[]): void {
  for (const o of objs) {
    const Model = MODELS[o.kind];
    assert.ok(Model, `no model for kind ${o.kind}`);
    assert.doesNotThrow(
      () => new Model(o as never).validate(),
      `${o.kind}/${o.metadata.name} is valid`,
    );
    assert.match(o.metadata.name, /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a DNS-1123 name");
  }
}

test("every exported object validates against the Kubernetes schema, in each mode", () => {
  for (const o of [
    {},
    { stateful: true },
    { hostPaths: true },
    { envFrom: "configmap" as const, claimSize: "5Gi" },
  ])
    validateAll(render(o).output);
});

test("the onedrive container: user, capabilities, resources, digests, env file Secret, claims", () => {
  const objs = render().output;
  const d = find(objs, "Deployment", "onedrive");
  const pod = d.spec["template"].spec;
  assert.deepEqual(pod.securityContext, { runAsUser: 2000, runAsGroup: 100 });
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.terminationGracePeriodSeconds, 30);
  const [c] = pod.containers;
  assert.equal(c.image, `docker.io/driveone/onedrive:edge@${DIGEST}`);
  assert.deepEqual(c.securityContext, {
    allowPrivilegeEscalation: false,
    capabilities: {
      drop: ["ALL"],
      add: [
        "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "NET_ADMIN", "NET_BIND_SERVICE", "SETFCAP",
        "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
      ], // prettier-ignore
    },
    readOnlyRootFilesystem: true,
    seccompProfile: { type: "RuntimeDefault" },
  });
  assert.deepEqual(c.resources, {
    limits: { memory: "512Mi", cpu: "500m" },
    requests: { memory: "512Mi", cpu: "500m" },
  });
  assert.deepEqual(c.envFrom, [{ secretRef: { name: "onedrive-env" } }]);
  assert.deepEqual(find(objs, "Secret", "onedrive-env")["stringData"], {
    MODE: "sync",
    TOKEN: "t0k",
  });
  assert.deepEqual(
    c.volumeMounts.map((m: { mountPath: string; readOnly?: boolean }) => [
      m.mountPath,
      !!m.readOnly,
    ]),
    [
      ["/onedrive/conf", false],
      ["/onedrive/data", true],
    ],
  );
  const claims = objs.filter((o) => o.kind === "PersistentVolumeClaim");
  assert.equal(claims.length, 2);
  assert.deepEqual(
    pod.volumes.map(
      (v: { persistentVolumeClaim: { claimName: string } }) => v.persistentVolumeClaim.claimName,
    ),
    claims.map((cl) => cl.metadata.name),
  );
  // It depends on web, which has a Service: an init container waits for its name.
  assert.match(pod.initContainers[0].command.join(" "), /until nslookup web;/);
});

test("ports become a Service; tmpfs an emptyDir; labels annotations; env sorted", () => {
  const objs = render().output;
  const svc = find(objs, "Service", "web");
  assert.deepEqual(svc.spec["ports"], [
    { name: "tcp-8080", port: 8080, targetPort: 80, protocol: "TCP" },
    { name: "udp-53", port: 53, targetPort: 53, protocol: "UDP" },
  ]);
  const pod = find(objs, "Deployment", "web").spec["template"];
  assert.deepEqual(pod.metadata.annotations, { "org.example/team": "home" });
  const [c] = pod.spec.containers;
  assert.deepEqual(c.args, ["nginx", "-g", "daemon off;"]);
  assert.deepEqual(c.env, [
    { name: "A", value: "1" },
    { name: "B", value: "2" },
  ]);
  assert.deepEqual(pod.spec.volumes, [
    { name: "data-0-tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
  ]);
});

test("a healthcheck becomes liveness and readiness probes, its start period a startup probe", () => {
  const r = render();
  const [web] = find(r.output, "Deployment", "web").spec["template"].spec.containers;
  const check = {
    exec: { command: ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"] },
    periodSeconds: 10,
    timeoutSeconds: 2,
  };
  assert.deepEqual(web.livenessProbe, { ...check, failureThreshold: 5 });
  assert.deepEqual(web.readinessProbe, { ...check, failureThreshold: 5 });
  // 60 s of start period at one check per 10 s, then the 5 failures that count.
  assert.deepEqual(web.startupProbe, { ...check, failureThreshold: 11 });
  assert.match(r.warnings.join("\n"), /containers\.web\.healthcheck\.timeout: 1\.5s becomes 2s/);

  const [od] = find(r.output, "Deployment", "onedrive").spec["template"].spec.containers;
  // A string test runs under /bin/sh -c; docker's defaults: 30 s, 30 s, 3 retries, no start period.
  assert.deepEqual(od.livenessProbe, {
    exec: { command: ["/bin/sh", "-c", "test -f /onedrive/conf/refresh_token"] },
    periodSeconds: 30,
    timeoutSeconds: 30,
    failureThreshold: 3,
  });
  assert.equal(od.startupProbe, undefined);
});

test("network private lets in only the published ports", () => {
  const np = find(render().output, "NetworkPolicy", "web-network");
  assert.deepEqual(np.spec, {
    podSelector: { matchLabels: { "app.kubernetes.io/name": "web" } },
    policyTypes: ["Ingress"],
    ingress: [
      {
        ports: [
          { port: 80, protocol: "TCP" },
          { port: 53, protocol: "UDP" },
        ],
      },
    ],
  });
});

test("a named network's members reach each other, and nothing else reaches them", () => {
  const objs = render().output;
  const pod = find(objs, "Deployment", "db").spec["template"];
  assert.equal(pod.metadata.labels["railyard.network/backend"], "member");
  assert.deepEqual(find(objs, "NetworkPolicy", "db-network").spec, {
    podSelector: { matchLabels: { "app.kubernetes.io/name": "db" } },
    policyTypes: ["Ingress"],
    ingress: [
      { from: [{ podSelector: { matchLabels: { "railyard.network/backend": "member" } } }] },
    ],
  });
});

test('network "none" becomes a deny-all NetworkPolicy', () => {
  const objs = render().output;
  const [iso] = find(objs, "Deployment", "isolated").spec["template"].spec.containers;
  assert.deepEqual(iso.securityContext.seccompProfile, { type: "Unconfined" });
  const np = find(objs, "NetworkPolicy", "isolated-isolated");
  assert.deepEqual(np.spec, {
    podSelector: { matchLabels: { "app.kubernetes.io/name": "isolated" } },
    policyTypes: ["Ingress", "Egress"],
  });
  assert.equal(
    find(objs, "Deployment", "isolated").spec["template"].spec.initContainers,
    undefined,
  );
});

test("--stateful makes a StatefulSet with claim templates and a Service; --host-paths uses hostPath", () => {
  const st = render({ stateful: true }).output;
  const s = find(st, "StatefulSet", "onedrive");
  assert.equal(s.spec["serviceName"], "onedrive");
  assert.equal(s.spec["volumeClaimTemplates"].length, 2);
  assert.equal(st.filter((o) => o.kind === "PersistentVolumeClaim").length, 0);
  assert.equal(find(st, "Service", "onedrive").spec["clusterIP"], "None");

  const hp = render({ hostPaths: true }).output;
  const vols = find(hp, "Deployment", "onedrive").spec["template"].spec.volumes;
  assert.deepEqual(
    vols.map((v: { hostPath: { path: string } }) => v.hostPath.path),
    ["/srv/onedrive/conf", "/srv/onedrive/data"],
  );
  assert.equal(hp.filter((o) => o.kind === "PersistentVolumeClaim").length, 0);
});

test("every key that does not carry over is named in a warning", () => {
  const w = render().warnings.join("\n");
  for (const needle of [
    /containers\.Host_Thing: a host program \(args\) has no image/,
    /containers\.onedrive\.resources\.pids: Kubernetes has no per-container process limit/,
    /containers\.onedrive\.volumes\[0\]: \/srv\/onedrive\/conf becomes a PersistentVolumeClaim of 1Gi/,
    /containers\.web\.restart: "on-failure" is not exported/,
    /containers\.web\.ports: the host address of 127\.0\.0\.1:8080:80 is not exported/,
    /containers\.isolated\.dependsOn: not exported; with network "none"/,
  ])
    assert.match(w, needle);
});

test("the output is deterministic and matches its snapshot", () => {
  const a = toYamlStream(render().output);
  assert.equal(a, toYamlStream(render().output));
  snapshot(join(REPO_ROOT, "src/export/__snapshots__"), "kubernetes.yaml", a);
});

test("names become DNS-1123 labels, with a stable hash only when they had to change", () => {
  assert.equal(dnsLabel("web"), "web");
  assert.match(dnsLabel("Host_Thing"), /^host-thing-[a-f0-9]{6}$/);
  assert.equal(dnsLabel("Host_Thing"), dnsLabel("Host_Thing"));
  assert.notEqual(dnsLabel("web_1"), dnsLabel("web.1"));
  assert.ok(dnsLabel("x".repeat(100)).length <= 63);
  assert.match(dnsLabel("___"), /^x-[a-f0-9]{6}$/);
});

test("settle becomes minReadySeconds; onFailure has no equivalent and says so (in every export)", async () => {
  const { toCompose } = await import("./compose.js");
  const c = resolveConfig(
    { onFailure: "notify", containers: { web: { image: "nginx", settle: "10s" } } },
    fakeContext(),
  );
  const k = toKubernetes(c, { images: { web: DIGEST }, envFiles: {} });
  const dep = k.output.find((o) => o.kind === "Deployment") as KubeObject;
  assert.equal((dep["spec"] as { minReadySeconds?: number }).minReadySeconds, 10);
  assert.match(k.warnings.join("\n"), /^onFailure: not exported; Kubernetes has no hook/m);
  const compose = toCompose(c, { web: DIGEST }).warnings.join("\n");
  assert.match(compose, /^onFailure: not exported; compose has no hook/m);
  assert.match(compose, /^containers\.web\.settle: not exported; compose does not wait/m);
});

test("secrets become a Secret with each value, mounted one file each at its target with its mode", () => {
  const c = resolveConfig(
    {
      secrets: { pw: { file: "/etc/pw" }, token: { encrypted: "/etc/t.cred" } },
      containers: { db: { image: "postgres", secrets: ["pw", { source: "token", mode: 0o400 }] } },
    },
    fakeContext(),
  );
  const k = toKubernetes(c, {
    images: { db: DIGEST },
    envFiles: {},
    secretFiles: { pw: Buffer.from("hunter2").toString("base64") },
  });
  const secret = k.output.find((o) => o.kind === "Secret") as KubeObject;
  new Secret(secret as never).validate();
  assert.deepEqual(secret["data"], { pw: Buffer.from("hunter2").toString("base64") });
  const dep = k.output.find((o) => o.kind === "Deployment") as KubeObject;
  new Deployment(dep as never).validate();
  const pod = (dep["spec"] as { template: { spec: Record<string, unknown[]> } }).template.spec;
  const mounts = (pod["containers"]?.[0] as { volumeMounts: unknown[] }).volumeMounts;
  assert.deepEqual(mounts, [
    { name: "secret-0", mountPath: "/run/secrets/pw", subPath: "value", readOnly: true },
    { name: "secret-1", mountPath: "/run/secrets/token", subPath: "value", readOnly: true },
  ]);
  assert.deepEqual(pod["volumes"]?.[1], {
    name: "secret-1",
    secret: { secretName: "db-secrets", items: [{ key: "token", path: "value", mode: 0o400 }] },
  });
  assert.match(k.warnings.join("\n"), /containers\.db\.secrets: token could not be read here/);
});
