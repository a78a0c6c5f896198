package redis

import "github.com/redis/rueidis"

// The presence scripts share KEYS: entries (hash client -> ClientInfo
// JSON), users (hash user -> number of its clients), clients (hash client
// -> user) and expiry (sorted set client -> expiry, ms of Redis's clock).
// Counting is then two HLENs, whatever the channel's size; entries of a
// dead node are swept by whichever call comes next, each entry once, so
// the cost follows what expired, never the channel's size.
const presenceSweep = `
local function now()
  local t = redis.call('time')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function drop(c)
  local u = redis.call('hget', KEYS[3], c)
  if u and u ~= '' and redis.call('hincrby', KEYS[2], u, -1) <= 0 then
    redis.call('hdel', KEYS[2], u)
  end
  redis.call('hdel', KEYS[1], c)
  redis.call('hdel', KEYS[3], c)
end
local function sweep(t)
  local dead = redis.call('zrangebyscore', KEYS[4], '-inf', t)
  for _, c in ipairs(dead) do drop(c) end
  if #dead > 0 then redis.call('zremrangebyscore', KEYS[4], '-inf', t) end
end
`

// ARGV: client, user, ClientInfo JSON, TTL ms.
var presenceAddScript = rueidis.NewLuaScript(presenceSweep + `
local t = now()
sweep(t)
local old = redis.call('hget', KEYS[3], ARGV[1])
if old ~= ARGV[2] then
  if old and old ~= '' and redis.call('hincrby', KEYS[2], old, -1) <= 0 then
    redis.call('hdel', KEYS[2], old)
  end
  if ARGV[2] ~= '' then redis.call('hincrby', KEYS[2], ARGV[2], 1) end
  redis.call('hset', KEYS[3], ARGV[1], ARGV[2])
end
redis.call('hset', KEYS[1], ARGV[1], ARGV[3])
local ttl = tonumber(ARGV[4])
redis.call('zadd', KEYS[4], t + ttl, ARGV[1])
for i = 1, 4 do redis.call('pexpire', KEYS[i], ttl) end
return 1
`)

// ARGV: client.
var presenceRemoveScript = rueidis.NewLuaScript(presenceSweep + `
sweep(now())
drop(ARGV[1])
redis.call('zrem', KEYS[4], ARGV[1])
return 1
`)

var presenceListScript = rueidis.NewLuaScript(presenceSweep + `
sweep(now())
return redis.call('hgetall', KEYS[1])
`)

var presenceStatsScript = rueidis.NewLuaScript(presenceSweep + `
sweep(now())
return {redis.call('hlen', KEYS[1]), redis.call('hlen', KEYS[2])}
`)
