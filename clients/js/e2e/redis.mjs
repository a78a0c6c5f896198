// redis.mjs starts a real redis-server for the browser tests that need a
// cluster of herald nodes: on a free loopback port, with nothing saved to
// disk, killed when the test process is done with it.
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { freePort, until } from "../test/lib/herald.mjs";

/** startRedis resolves with { addr, stop } once the server answers PING. */
export async function startRedis() {
  const port = await freePort();
  const p = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  p.stderr.on("data", (d) => (stderr += d));
  const spawned = new Promise((resolve, reject) => {
    p.once("spawn", resolve);
    p.once("error", (err) => reject(new Error(`redis-server did not start (apt-get install redis-server): ${err.message}`)));
  });
  await spawned;
  const exited = new Promise((r) => p.once("exit", r));
  const ping = () =>
    new Promise((resolve) => {
      const c = connect(port, "127.0.0.1");
      c.once("error", () => resolve(false));
      c.once("data", (d) => {
        c.destroy();
        resolve(String(d).startsWith("+PONG"));
      });
      c.once("connect", () => c.write("PING\r\n"));
    });
  await until(async () => {
    if (p.exitCode !== null) throw new Error(`redis-server exited with ${p.exitCode}: ${stderr}`);
    return ping();
  }, "redis-server to answer PING");
  return {
    addr: `127.0.0.1:${port}`,
    async stop() {
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
      await exited;
    },
  };
}
