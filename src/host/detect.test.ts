import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseRuntime, hostProbe, type RuntimeProbe } from "./detect.js";

const probe = (o: {
  have: string[];
  layout: "unified" | "hybrid" | "legacy";
  controllers?: string[];
  sysResource?: boolean;
}): RuntimeProbe => ({
  which: (n) => (o.have.includes(n) ? `/usr/bin/${n}` : undefined),
  cgroupLayout: () => o.layout,
  v2Controllers: () => o.controllers ?? [],
  hasSysResource: () => o.sysResource ?? true,
});

test("auto prefers crun, but picks runc where crun refuses the hybrid cgroup layout", () => {
  assert.equal(
    chooseRuntime("auto", probe({ have: ["crun", "runc"], layout: "unified" })).name,
    "crun",
  );
  const hybrid = chooseRuntime(
    "auto",
    probe({ have: ["crun", "runc"], layout: "hybrid", controllers: ["hugetlb"] }),
  );
  assert.equal(hybrid.name, "runc");
  assert.match(hybrid.reason, /hybrid/);
  assert.equal(
    chooseRuntime("auto", probe({ have: ["crun", "runc"], layout: "hybrid", controllers: [] }))
      .name,
    "crun",
  );
  assert.equal(chooseRuntime("auto", probe({ have: ["runc"], layout: "unified" })).name, "runc");
  const noCap = chooseRuntime(
    "auto",
    probe({ have: ["crun", "runc"], layout: "unified", sysResource: false }),
  );
  assert.equal(noCap.name, "runc");
  assert.match(noCap.reason, /CAP_SYS_RESOURCE/);
  assert.throws(
    () => chooseRuntime("auto", probe({ have: [], layout: "unified" })),
    /no OCI runtime found/,
  );
  assert.throws(
    () => chooseRuntime("crun", probe({ have: ["runc"], layout: "unified" })),
    /crun is not installed/,
  );
});

test("on this host, auto chooses a runtime that is installed", () => {
  const p = hostProbe();
  const choice = chooseRuntime("auto", p);
  assert.equal(p.which(choice.name), choice.path);
  if (p.cgroupLayout() === "hybrid" && p.v2Controllers().length > 0)
    assert.equal(choice.name, "runc");
});
