import type { ResolveContext } from "../../src/config/resolve.js";

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
