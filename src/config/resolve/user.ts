/** A host program's user, resolved on the host: names to ids, ids to names. */
import { parseUserSpec } from "../../model/parse.js";
import type { Report, ResolveContext } from "./context.js";
import type { ContainerConfig, ResolvedUser } from "../../model/types.js";

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

/**
 * `groupAdd`: ids as they are; names are the host's for a host program (looked up now), the
 * image's for an image (looked up in its /etc/group at build).
 */
export function resolveGroupAdd(
  c: ContainerConfig,
  isImage: boolean,
  ctx: ResolveContext,
  r: Report,
): (string | number)[] | undefined {
  if (c.groupAdd === undefined) return undefined;
  return c.groupAdd.flatMap((g, i): (string | number)[] => {
    if (typeof g === "number" || /^\d+$/.test(g)) {
      const n = Number(g);
      if (Number.isSafeInteger(n) && n >= 0 && n < 2 ** 32 - 1) return [n];
      r(["groupAdd", i], `${g} is not a group id. expected 0 to ${2 ** 32 - 2}`);
      return [];
    }
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(g)) {
      r(["groupAdd", i], `${JSON.stringify(g)} is not a group name or id`);
      return [];
    }
    if (isImage) return [g];
    const gid = ctx.lookupGroup(g);
    if (gid === undefined) r(["groupAdd", i], `the group ${g} does not exist on this host`);
    return gid === undefined ? [] : [gid];
  });
}
