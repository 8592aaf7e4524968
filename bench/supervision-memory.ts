/**
 * The memory railyard's supervision chain holds per running container: every process in the
 * services' cgroups besides the containers' own (payload) processes, and the growth of systemd's
 * own RSS per unit. Boots a real systemd in a namespace, switches N idle services, measures.
 *
 *   npm run build && node dist/bench/supervision-memory.js [N]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootSystemd } from "../tests/helpers/systemd.js";

const n = Number(process.argv[2] ?? 50);
const dir = mkdtempSync("/var/tmp/railyard-mem-");
const rssKb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);

const sd = await bootSystemd(join(dir, "ns"), [dir]);
try {
  const file = join(dir, "railyard.config.json");
  const containers = Object.fromEntries(
    Array.from({ length: n }, (_, i) => [
      `m${i}`,
      { args: ["/bin/busybox", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 60; done"] },
    ]),
  );
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    file,
    JSON.stringify({ stateDir: join(dir, "state"), runtime: "runc", containers }),
  );
  const before = rssKb(sd.pid);
  const r = await sd.railyard(["--config", file, "switch"]);
  if (r.code !== 0) throw new Error(r.stderr);
  await new Promise((res) => setTimeout(res, 1000));
  const after = rssKb(sd.pid);
  // Every process of every service, split into the container's own and everything else.
  let other = 0;
  let otherProcs = 0;
  let payload = 0;
  for (const name of Object.keys(containers)) {
    const cg = `/sys/fs/cgroup/system.slice/railyard-${name}.service`;
    const list = (sub: string) =>
      sd
        .exec("cat", [`${cg}/${sub}cgroup.procs`])
        .stdout.trim()
        .split("\n")
        .filter(Boolean)
        .map(Number);
    for (const pid of list("")) {
      otherProcs++;
      other += Number(
        /VmRSS:\s+(\d+)/.exec(sd.exec("cat", [`/proc/${pid}/status`]).stdout)?.[1] ?? 0,
      );
    }
    payload += list("payload/").length;
  }
  const lines = [
    `${n} idle services, each a busybox shell (${payload} container processes in all)`,
    `processes outside the containers in the services' cgroups: ${otherProcs} (${other} KiB RSS): ${(other / n).toFixed(1)} KiB per container`,
    `systemd (PID 1) RSS: ${before} KiB before, ${after} KiB after: ${((after - before) / n).toFixed(1)} KiB per unit`,
  ];
  console.log(lines.join("\n"));
  writeFileSync(join(process.cwd(), "bench", "supervision-memory.txt"), `${lines.join("\n")}\n`);
} finally {
  await sd.stop();
  rmSync(dir, { recursive: true, force: true });
}
