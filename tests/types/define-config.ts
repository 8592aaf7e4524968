// Type tests for defineConfig: compiled by `npm run typecheck`, never run. Each line under a
// ts-expect-error marker must fail to compile; if it ever compiles, the typecheck fails.
import { defineConfig, type UserConfig } from "../../src/index.js";

const ok: UserConfig = defineConfig({
  runtime: "auto",
  stateDir: "/var/lib/railyard",
  containers: {
    onedrive: {
      args: ["/usr/bin/onedrive", "--monitor"],
      user: "2000:100",
      volumes: ["/srv/onedrive/conf:/onedrive/conf", "/srv/onedrive/data:/onedrive/data"],
      restart: "always",
      resources: { memory: "256m", cpus: 0.5 },
      capabilities: { NET_ADMIN: false },
    },
  },
});
void ok;

// A function of the command is accepted too.
void defineConfig(({ command }) => ({ containers: { [command]: { args: ["/bin/true"] } } }));

// @ts-expect-error unknown keys are caught in the editor, before railyard ever runs
void defineConfig({ containers: { a: { args: ["/bin/true"], volumnes: [] } } });

// @ts-expect-error restart takes systemd's values
void defineConfig({ containers: { a: { args: ["/bin/true"], restart: "sometimes" } } });

// @ts-expect-error runtime is "auto", "runc" or "crun"
void defineConfig({ runtime: "kata" });

// Networks: the built-in ones, or a name declared under networks (checked when railyard runs).
void defineConfig({
  networks: { backend: { subnet: "10.91.7.0/24" } },
  containers: { a: { network: "private" }, b: { network: "backend" } },
});

// @ts-expect-error a subnet is a string such as "10.91.7.0/24"
void defineConfig({ networks: { backend: { subnet: 24 } } });
