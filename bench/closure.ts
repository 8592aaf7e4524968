/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { alternate, fmt, ms, timeUntil, type Stats } from "./lib.js";
import { RUNS, log, results } from "./common.js";

export async function closure(): Promise<void> {
  log("\n## 6. closure of /usr/bin/python3, against ldd");
  const { computeClosure } = await import("../src/closure/index.js");
  const { hostFs } = await import("../src/closure/fs.js");
  const time = (f: () => unknown) => async () => {
    const t = process.hrtime.bigint();
    f();
    return ms(t);
  };
  const s = await alternate(
    {
      "railyard elf": time(() => computeClosure("/usr/bin/python3", { fs: hostFs(), mode: "elf" })),
      "railyard packages": time(() =>
        computeClosure("/usr/bin/python3", { fs: hostFs(), mode: "packages", arch: "amd64" }),
      ),
      ldd: () => timeUntil("ldd", ["/usr/bin/python3"]),
    },
    RUNS,
  );
  for (const [k, v] of Object.entries(s)) log(`  ${k.padEnd(18)} ${fmt(v)}`);
  for (const mode of ["elf", "packages"])
    results.push({
      section: "closure",
      metric: `ms for python3 (${mode})`,
      railyard: s[`railyard ${mode}`] as Stats,
      peers: { ldd: s["ldd"] as Stats },
      goal: "(no goal: reported)",
      met: null,
    });
}
