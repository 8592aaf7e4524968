/**
 * What every renderer shares (pure): which containers another engine can run, their
 * dependencies among those, the warnings for host-specific keys, and stable key order.
 */
import type { ResolvedConfig, ResolvedContainer, ResolvedImage } from "../model/types.js";
import { joinedOwner } from "../model/network.js";

export interface ExportResult<T> {
  readonly output: T;
  /** One line per key or value that does not carry over, with its config path. */
  readonly warnings: readonly string[];
}

/** A record's entries in key order, so that rendered files are byte-stable. */
export const sortedEntries = <V>(r: Readonly<Record<string, V>>): [string, V][] =>
  Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** One image container as a renderer writes it. */
export interface Exporting {
  readonly c: ResolvedContainer;
  readonly img: ResolvedImage;
  /** The reference to write: the pinned one exportInputs found, else the config's. */
  readonly image: string;
  readonly network: ExportedNetwork;
  /** `dependsOn` without the host programs, each one dropped named in a warning. */
  readonly dependencies: () => string[];
  readonly warn: (m: string) => void;
  /** A warning at a key below the container's own (`containers.NAME.KEY`). */
  readonly here: (m: string) => void;
}

/** Image containers by name; each host program (no image to run elsewhere) is named in a warning. */
export function imageContainers(
  config: ResolvedConfig,
  images: Readonly<Record<string, string>>,
  engine: string,
  warn: (m: string) => void,
): Exporting[] {
  if (config.onFailure !== undefined)
    warn(
      `onFailure: not exported; ${engine} has no hook for a failed rollout (use its own alerting)`,
    );
  return sortedEntries(config.containers)
    .map(([, c]) => c)
    .filter((c) => {
      // Kubernetes has minReadySeconds for it; the others have no settle time.
      if (c.image && c.settle !== undefined && engine !== "Kubernetes")
        warn(
          `containers.${c.name}.settle: not exported; ${engine} does not wait for a started container to stay up`,
        );
      if (c.image) return true;
      warn(
        `containers.${c.name}: a host program (args) has no image, so ${engine} cannot run it; not exported`,
      );
      return false;
    })
    .map((c) => {
      const img = c.image as ResolvedImage;
      return {
        c,
        img,
        image: images[c.name] ?? img.ref,
        network: exportedNetwork(config, c),
        dependencies: () => exportedDependencies(config, c, warn),
        warn,
        here: (m: string) => warn(`containers.${c.name}.${m}`),
      };
    });
}

/** `dependsOn` without the host programs, which are not exported; each one dropped is named. */
function exportedDependencies(
  config: ResolvedConfig,
  c: ResolvedContainer,
  warn: (m: string) => void,
): string[] {
  return c.dependsOn.filter((d) => {
    if (config.containers[d]?.image) return true;
    warn(
      `containers.${c.name}.dependsOn: ${d} is a host program and is not exported; the dependency is dropped`,
    );
    return false;
  });
}

/**
 * Keys that belong to this host: `login` (the credentials stay here; `loginFix` says how the
 * other engine gets its own) and `backend`. `imageFile` is warned about once, by exportInputs.
 */
export function warnHostSpecific(
  c: ResolvedContainer,
  loginFix: (registry: string) => string,
  warn: (m: string) => void,
  built?: string,
): void {
  const at = `containers.${c.name}`;
  if (c.image?.build && built)
    warn(`${at}.build: the image is built on this host, into railyard's store; ${built}`);
  if (c.image?.login)
    warn(`${at}.login: credentials are not exported; ${loginFix(c.image.login.registry)}`);
  if (c.backend !== "oci") warn(`${at}.backend: "${c.backend}" is host-specific; not exported`);
}

/** A named network as another engine declares it, and the container's aliases on it. */
export interface ExportedNamedNetwork {
  readonly name: string;
  readonly subnet?: string;
  /** Dual stack: the IPv6 subnet the config gives, or true for one of the engine's choosing. */
  readonly ipv6?: string | true;
  readonly aliases: readonly string[];
}

/** How a container's network reads in another engine: none, host, or networks by name. */
export type ExportedNetwork =
  | { readonly kind: "none" | "host" }
  /** One or more named networks, the container's first network first. */
  | { readonly kind: "network"; readonly networks: readonly ExportedNamedNetwork[] }
  /** network "container:NAME": NAME's network namespace, joined. */
  | { readonly kind: "container"; readonly name: string };

/**
 * A named network keeps its name (and subnet, when the config gives one). Network "private" has
 * no counterpart in other engines, whose networks let members reach each other, so each private
 * container gets a network of its own, "private-NAME": just as isolated.
 */
function exportedNetwork(config: ResolvedConfig, c: ResolvedContainer): ExportedNetwork {
  if (c.network === "none") return { kind: "none" };
  if (c.network === "host") return { kind: "host" };
  const owner = joinedOwner(c);
  if (owner !== undefined) return { kind: "container", name: owner };
  if (c.network === "private")
    return { kind: "network", networks: [{ name: `private-${c.name}`, aliases: [] }] };
  return {
    kind: "network",
    networks: c.networks.map(({ name, aliases }) => {
      const { subnet, ipv6 } = config.networks[name] ?? {};
      return {
        name,
        aliases,
        ...(subnet !== undefined ? { subnet } : {}),
        ...(ipv6 !== undefined ? { ipv6 } : {}),
      };
    }),
  };
}
