// One redis-server for a whole jest run; each test file isolates itself with
// its own key prefix. Its URL reaches the test workers through the environment.
import { launchRedis } from '../../tools/local-redis.js';

export default async function setup() {
  if (process.env.SMART_ROUTER_TEST_REDIS_URL) return;
  const redis = await launchRedis({ appendonly: false });
  globalThis.__smartRouterRedis = redis;
  process.env.SMART_ROUTER_TEST_REDIS_URL = redis.url;
}
