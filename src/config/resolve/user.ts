/** A host program's user, resolved on the host: names to ids, ids to names. */
import { parseUserSpec } from "../../model/parse.js";
import type { ResolveContext } from "./context.js";
import type { ResolvedUser } from "../../model/types.js";

export function resolveUser(
  spec: string,
  ctx: ResolveContext,
  fail: (m: string) => void,
): ResolvedUser | undefined {
  const p = parseUserSpec(spec);
  if (!p.ok) {
    fail(p.error);
    return undefined;
  }
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(p.value.user)) {
    uid = Number(p.value.user);
    gid = uid === 0 ? 0 : uid;
  } else {
    const found = ctx.lookupUser(p.value.user);
    if (!found) {
      fail(
        `${JSON.stringify(spec)}: user ${JSON.stringify(p.value.user)} does not exist on this host. expected "uid:gid", "uid", or an existing user name`,
      );
      return undefined;
    }
    ({ uid, gid } = found);
  }
  if (p.value.group !== undefined) {
    if (/^\d+$/.test(p.value.group)) gid = Number(p.value.group);
    else {
      const g = ctx.lookupGroup(p.value.group);
      if (g === undefined) {
        fail(
          `${JSON.stringify(spec)}: group ${JSON.stringify(p.value.group)} does not exist on this host`,
        );
        return undefined;
      }
      gid = g;
    }
  }
  if (uid > 0xfffffffe || gid > 0xfffffffe) {
    fail(`${JSON.stringify(spec)}: ids must be below 4294967295`);
    return undefined;
  }
  return {
    uid,
    gid,
    name: uid === 0 ? "root" : (ctx.userName(uid) ?? `u${uid}`),
    group: gid === 0 ? "root" : (ctx.groupName(gid) ?? `g${gid}`),
  };
}
