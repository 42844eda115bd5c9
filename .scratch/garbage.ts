import { ContainerdClient } from "../adapters/containerd/mod.ts";
import { CriClient } from "../adapters/cri/mod.ts";
import { DockerClient } from "../adapters/docker/mod.ts";
const dir = await Deno.makeTempDir();
const modes: Record<string, (c: Deno.Conn) => Promise<void>> = {
  garbage: async (c) => {
    await c.write(new TextEncoder().encode("garbage\r\n\r\n"));
    c.close();
  },
  close: async (c) => {
    c.close();
  },
  http: async (c) => {
    await c.read(new Uint8Array(1024));
    await c.write(
      new TextEncoder().encode(
        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
      ),
    );
    c.close();
  },
};
for (const [mode, handler] of Object.entries(modes)) {
  const path = `${dir}/${mode}.sock`;
  const l = Deno.listen({ transport: "unix", path });
  (async () => {
    for await (const c of l) handler(c).catch(() => {});
  })();
  for (const C of [ContainerdClient, CriClient, DockerClient]) {
    const client = new C(path);
    const t0 = performance.now();
    try {
      await client.preflight({ signal: AbortSignal.timeout(3000) });
      console.log(mode, C.name, "ok?");
    } catch (e) {
      console.log(
        mode,
        C.name,
        (e as Error).name,
        (e as { code?: unknown }).code,
        (e as Error).message.slice(0, 150),
        Math.round(performance.now() - t0),
        "ms",
      );
    }
    await client.close();
  }
  l.close();
}
Deno.exit(0);
