-- rlc's shared limit: GCRA in exact integer microseconds, one atomic step per call.
-- Its twin in Rust is src/redis/gcra.rs; a test replays recorded calls through both.
--
-- KEYS[1]  {key}:pause    the end of a pause a server asked for (server microseconds)
-- KEYS[2]  {key}:clients  sorted set: client id -> last call (server microseconds)
-- KEYS[3..] one per rate limit: "<tat_us> <frac>", the theoretical arrival time
--          tat_us + frac / max; it expires (2 ms late, to be safe from the rounding of
--          PX to milliseconds) once the bucket is full again, so idle keys vanish.
-- All keys carry the hash tag {key}, so they live in one slot of a Redis Cluster.
--
-- ARGV[1] = "take": ARGV[2] min, ARGV[3] max, ARGV[4] horizon_us, ARGV[5] client id,
--   then max_requests, window_us, burst for each limit. Grants k tokens of every limit
--   at once, min <= k <= max, each due within horizon_us of now, or none; returns
--   {granted, due_us (when the last granted token is due), wait_us (when none was
--   granted: until min tokens fall within the horizon), now_us, pause_us, clients}.
-- ARGV[1] = "pause": ARGV[2] pause_us. Extends the shared pause to now + pause_us.
--
-- Lua numbers are doubles: every value stays an integer below 2^53 (the caller checks
-- burst * window), where +, -, * and floor(a / b) are exact.
if redis.replicate_commands then
  redis.replicate_commands()
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause = tonumber(redis.call('GET', KEYS[1]) or '0')

if ARGV[1] == 'pause' then
  local untl = now + tonumber(ARGV[2])
  if untl > pause then
    redis.call('SET', KEYS[1], string.format('%d', untl), 'PX',
      string.format('%d', math.floor((untl - now) / 1000) + 2))
  end
  return {0, 0, 0, now, math.max(untl, pause) - now, 0}
end

local min = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local horizon = tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 10000000)
redis.call('PEXPIRE', KEYS[2], 10000)
local clients = redis.call('ZCARD', KEYS[2])
if pause > now then
  return {0, 0, pause - now, now, pause - now, clients}
end

local n = #KEYS - 2
local offs, ms, ws, bs = {}, {}, {}, {}
local k = max
for i = 1, n do
  local m = tonumber(ARGV[3 + 3 * i])
  local w = tonumber(ARGV[4 + 3 * i])
  local b = tonumber(ARGV[5 + 3 * i])
  local off = 0
  local v = redis.call('GET', KEYS[2 + i])
  if v then
    local tat, frac = string.match(v, '^(%d+) (%d+)$')
    tat, frac = tonumber(tat), tonumber(frac)
    if tat and tat >= now then
      off = (tat - now) * m + frac
    end
  end
  -- Tokens due within the horizon: off + j*w - b*w <= horizon*m.
  local room = b * w + horizon * m - off
  local ki = 0
  if room > 0 then
    ki = math.floor(room / w)
  end
  if ki < k then
    k = ki
  end
  offs[i], ms[i], ws[i], bs[i] = off, m, w, b
end

if k < min then
  local wait = 1
  for i = 1, n do
    local late = offs[i] + min * ws[i] - bs[i] * ws[i] - horizon * ms[i]
    if late > 0 then
      local wi = math.floor((late + ms[i] - 1) / ms[i])
      if wi > wait then
        wait = wi
      end
    end
  end
  return {0, 0, wait, now, 0, clients}
end

local due = 0
for i = 1, n do
  local off = offs[i] + k * ws[i]
  local ahead = math.floor(off / ms[i])
  local frac = off - ahead * ms[i]
  redis.call('SET', KEYS[2 + i], string.format('%d %d', now + ahead, frac), 'PX',
    string.format('%d', math.floor(ahead / 1000) + 2))
  local late = off - bs[i] * ws[i]
  if late > 0 then
    local di = math.floor((late + ms[i] - 1) / ms[i])
    if di > due then
      due = di
    end
  end
end
return {k, due, 0, now, 0, clients}
