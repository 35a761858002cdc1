export default async function teardown() {
  await globalThis.__smartRouterRedis?.destroy();
}
