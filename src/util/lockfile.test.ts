import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { tryLock, withLockFile } from "./lockfile.js";

const dir = mkdtempSync("/var/tmp/railyard-lock-");
after(() => rmSync(dir, { recursive: true, force: true }));

/** A pid that is certainly dead: a child that has exited. */
async function deadPid(): Promise<number> {
  const c = spawn("true");
  await new Promise((r) => c.on("close", r));
  return c.pid ?? 999_999;
}

/**
 * Eight processes race for the same lock in each of 200 trials; each starts from a stale lock
 * file (a dead holder's pid). A holder marks its tenure with a file made with O_EXCL, so a
 * second simultaneous holder finds the mark and counts a violation.
 */
const WORKER = `
import { openSync, closeSync, unlinkSync } from "node:fs";
import { createInterface } from "node:readline";
const { tryLock } = await import(process.argv[1]);
for await (const lock of createInterface({ input: process.stdin })) {
  const r = await tryLock(lock);
  let result = "busy";
  if (typeof r === "function") {
    result = "held";
    try { closeSync(openSync(lock + ".mark", "wx")); } catch { result = "violation"; }
    await new Promise((res) => setTimeout(res, 3));
    if (result === "held") unlinkSync(lock + ".mark");
    await r();
  }
  process.stdout.write(result + "\\n");
}`;

test("a stale lock raced by 8 processes: never two holders at once, in 200 trials", async () => {
  const stale = await deadPid();
  const url = new URL("./lockfile.js", import.meta.url).href;
  const workers = Array.from({ length: 8 }, () => {
    const w = spawn(process.execPath, ["--input-type=module", "-e", WORKER, url], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines = createInterface({ input: w.stdout })[Symbol.asyncIterator]();
    return { w, next: async () => String((await lines.next()).value) };
  });
  const count = { held: 0, busy: 0, violation: 0 };
  try {
    for (let trial = 0; trial < 200; trial++) {
      const lock = join(dir, `race-${trial}.lock`);
      writeFileSync(lock, `${stale}\n`);
      for (const { w } of workers) w.stdin.write(`${lock}\n`);
      for (const r of await Promise.all(workers.map((x) => x.next())))
        count[r as keyof typeof count]++;
    }
  } finally {
    for (const { w } of workers) w.stdin.end();
  }
  assert.equal(count.violation, 0, `two processes held the lock at once: ${JSON.stringify(count)}`);
  assert.ok(count.held >= 200, `every trial had a holder: ${JSON.stringify(count)}`);
});

test("a held lock names its holder; a release keeps the file, and the next taker gets it", async () => {
  const lock = join(dir, "held.lock");
  const mine = await tryLock(lock);
  assert.equal(typeof mine, "function");
  assert.equal(await tryLock(lock), process.pid, "the live holder's pid");
  if (typeof mine === "function") await mine();
  assert.ok(existsSync(lock), "a lock file is never unlinked (no one can drop another's lock)");
  const next = await tryLock(lock);
  assert.equal(typeof next, "function");
  if (typeof next === "function") await next();
});

test("a SIGKILLed holder's lock is free at once", async () => {
  const lock = join(dir, "killed.lock");
  // Another process takes the lock the same way railyard does, then dies without releasing it.
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const { tryLock } = await import(${JSON.stringify(new URL("./lockfile.js", import.meta.url).href)});
       await tryLock(${JSON.stringify(lock)}); console.log("held"); setInterval(() => {}, 1000);`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((res) => child.stdout.on("data", () => res()));
  assert.equal(await tryLock(lock), child.pid);
  child.kill("SIGKILL");
  await new Promise((r) => child.on("close", r));
  const r = await withLockFile(
    lock,
    async () => readFileSync(lock, "utf8"),
    5000,
    () => new Error("still held"),
  );
  assert.equal(r, `${process.pid}\n`);
});
