// Tests reach the local redis launcher through here.
export { freePort, launchRedis, type LocalRedis as TestRedisServer } from '../../tools/local-redis.js';
