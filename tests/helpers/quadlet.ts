import { shellSplit } from "../../src/import/interpolate.js";

/**
 * The `podman run` arguments Quadlet's generator makes of a `.container` file, for the keys
 * railyard writes, following podman-container.unit(5)'s table of "[Container] options" and
 * "podman run equivalent" (Podman 5). Debian 12's podman 4.3 has no Quadlet, so the tests run
 * these arguments instead; any other key fails loudly rather than being skipped.
 */
export function quadletRunArgs(
  text: string,
  networks: Readonly<Record<string, string>> = {},
): string[] {
  const words = (v: string) => {
    const w = shellSplit(v.replace(/%%/g, "%"));
    if (!w) throw new Error(`unbalanced quotes: ${v}`);
    return w;
  };
  const flag: Record<string, string> = {
    Entrypoint: "--entrypoint",
    EnvironmentFile: "--env-file",
    Volume: "--volume",
    Tmpfs: "--tmpfs",
    PublishPort: "--publish",
    WorkingDir: "--workdir",
    HostName: "--hostname",
    AddDevice: "--device",
    StopSignal: "--stop-signal",
    StopTimeout: "--stop-timeout",
    Memory: "--memory",
    PidsLimit: "--pids-limit",
    HealthCmd: "--health-cmd",
    HealthInterval: "--health-interval",
    HealthTimeout: "--health-timeout",
    HealthRetries: "--health-retries",
    HealthStartPeriod: "--health-start-period",
    Pull: "--pull",
    Secret: "--secret",
    AddHost: "--add-host",
    DNS: "--dns",
    DNSSearch: "--dns-search",
    DNSOption: "--dns-option",
    GroupAdd: "--group-add",
    ShmSize: "--shm-size",
    Sysctl: "--sysctl",
    Ulimit: "--ulimit",
  };
  const args: string[] = [];
  let image = "";
  let exec: string[] = [];
  let user: string | undefined;
  let group: string | undefined;
  let section = "";
  for (const line of text.split("\n")) {
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) section = s[1] as string;
    if (section !== "Container" || !line.includes("=") || line.startsWith("#")) continue;
    const key = line.slice(0, line.indexOf("="));
    const value = line.slice(line.indexOf("=") + 1);
    const f = flag[key];
    if (f) args.push(`${f}=${value.replace(/%%/g, "%")}`);
    else if (key === "Network") {
      // "NAME.network" names a .network file: its podman network (NetworkName=, see below);
      // podman's options for that network (":alias=x,...") follow it as they are.
      const [name = "", options] = value.split(/:(.*)/s);
      const net = name.endsWith(".network") ? networks[name] : value;
      if (net === undefined) throw new Error(`no .network file for Network=${value}`);
      args.push(`--network=${net}${name.endsWith(".network") && options ? `:${options}` : ""}`);
    } else if (key === "Image") image = value;
    else if (key === "Exec") exec = words(value);
    else if (key === "User") user = value;
    else if (key === "Group") group = value;
    else if (key === "ReadOnly") args.push(`--read-only=${value}`);
    else if (key === "NoNewPrivileges" && value === "true")
      args.push("--security-opt=no-new-privileges");
    else if (key === "DropCapability" || key === "AddCapability")
      for (const cap of value.split(/\s+/))
        args.push(`--cap-${key === "DropCapability" ? "drop" : "add"}=${cap.toLowerCase()}`);
    else if (key === "Environment" || key === "Annotation")
      for (const kv of words(value))
        args.push(`--${key === "Environment" ? "env" : "annotation"}=${kv}`);
    else if (key === "PodmanArgs") args.push(...words(value));
    else throw new Error(`no podman run equivalent known for ${key}=`);
  }
  if (user !== undefined) args.push(`--user=${group === undefined ? user : `${user}:${group}`}`);
  return [...args, image, ...exec];
}

/**
 * The `podman network create` arguments Quadlet's generator makes of a `.network` file (the keys
 * railyard writes), and the network's name: NetworkName=, else "systemd-" and the file's name.
 */
export function quadletNetwork(
  fileName: string,
  text: string,
): { name: string; createArgs: string[] } {
  let name = `systemd-${fileName.replace(/\.network$/, "")}`;
  const args: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.includes("=") || line.startsWith("#")) continue;
    const key = line.slice(0, line.indexOf("="));
    const value = line.slice(line.indexOf("=") + 1);
    if (key === "NetworkName") name = value;
    else if (key === "Subnet") args.push(`--subnet=${value}`);
    else if (key === "IPv6" && value === "true") args.push("--ipv6");
    else throw new Error(`no podman network create equivalent known for ${key}=`);
  }
  return { name, createArgs: ["network", "create", ...args, name] };
}
