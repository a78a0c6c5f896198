package redis

import "github.com/redis/rueidis"

// publishScript appends a publication to its channel's stream and
// publishes it, in one step: Redis runs one script at a time, so the
// offset order is the order in which every subscriber receives them.
//
// KEYS: stream, history, [idempotency key]
// ARGV: data, history size, history TTL ms, epoch for a new stream, origin,
// pub/sub channel, publish command (publish or spublish), idempotency
// window ms.
//
// It returns "offset epoch" (offset 0 and no epoch without history); a
// retry with a remembered idempotency key returns the first result and
// publishes nothing.
var publishScript = rueidis.NewLuaScript(publishLua)

const publishLua = `
if KEYS[3] then
  local first = redis.call('get', KEYS[3])
  if first then return first end
end
local off, epoch = 0, ''
local size = tonumber(ARGV[2])
if size > 0 then
  epoch = redis.call('hget', KEYS[1], 'e')
  if not epoch then
    epoch = ARGV[4]
    redis.call('hset', KEYS[1], 'e', epoch)
  end
  off = redis.call('hincrby', KEYS[1], 'o', 1)
  redis.call('rpush', KEYS[2], off .. ' ' .. ARGV[1])
  redis.call('ltrim', KEYS[2], -size, -1)
  local ttl = tonumber(ARGV[3])
  if ttl > 0 then
    redis.call('pexpire', KEYS[1], ttl)
    redis.call('pexpire', KEYS[2], ttl)
  end
end
redis.call(ARGV[7], ARGV[6], 'p' .. off .. ' ' .. epoch .. ' ' .. ARGV[5] .. ' ' .. ARGV[1])
local res = off .. ' ' .. epoch
if KEYS[3] then redis.call('set', KEYS[3], res, 'px', ARGV[8]) end
return res
`

// historyScript reads the stream's position and a page of its history,
// creating the stream (with a new epoch) if asked and there is none, so
// that the position returned stays valid for the next publication.
//
// KEYS: stream, history
// ARGV: create (1 or 0), TTL ms, epoch for a new stream, since (-1: none),
// limit, reverse (1 or 0).
//
// It returns {top offset, epoch, entries...}, entries oldest first.
var historyScript = rueidis.NewLuaScript(`
local top = redis.call('hget', KEYS[1], 'o')
if not top then
  if ARGV[1] == '1' then
    redis.call('hset', KEYS[1], 'o', 0, 'e', ARGV[3])
    local ttl = tonumber(ARGV[2])
    if ttl > 0 then redis.call('pexpire', KEYS[1], ttl) end
    return {0, ARGV[3]}
  end
  return {0, ''}
end
top = tonumber(top)
local res = {top, redis.call('hget', KEYS[1], 'e')}
local limit, since = tonumber(ARGV[5]), tonumber(ARGV[4])
if limit <= 0 then return res end
local n = redis.call('llen', KEYS[2])
local first = top - n + 1
local from, to
if ARGV[6] == '1' then
  local last = top
  if since >= 0 then last = math.min(since - 1, top) end
  if last < first then return res end
  from, to = math.max(last - limit + 1, first), last
else
  local start = first
  if since >= 0 then start = math.max(since + 1, first) end
  if start > top then return res end
  from, to = start, math.min(start + limit - 1, top)
end
local page = redis.call('lrange', KEYS[2], from - first, to - first)
for i = 1, #page do res[#res + 1] = page[i] end
return res
`)
