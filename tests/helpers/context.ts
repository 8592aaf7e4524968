import type { RootlessScope } from "../../src/model/types.js";
import type { ResolveContext } from "../../src/config/resolve/index.js";

/** A ResolveContext for pure tests: an amd64 host with no users or groups unless given. */
export function fakeContext(o: Partial<ResolveContext> = {}): ResolveContext {
  return {
    file: "railyard.config.json",
    hostArch: "amd64",
    lookupUser: () => undefined,
    lookupGroup: () => undefined,
    userName: () => undefined,
    groupName: () => undefined,
    ...o,
  };
}

/** A rootless scope for pure tests: user nas (1000), subordinate ids from 100000 and 200000. */
export const SCOPE: RootlessScope = {
  user: "nas",
  uid: 1000,
  gid: 1000,
  subuid: { start: 100000, count: 65536 },
  subgid: { start: 200000, count: 65536 },
  runtimeDir: "/run/user/1000",
  unitDir: "/home/nas/.config/systemd/user",
};
