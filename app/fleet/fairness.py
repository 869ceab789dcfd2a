"""Fair queueing between clients: one client's 10,000 jobs do not make another's single job wait.

Start-time fair queueing on RQ's own queue (so ``rq info``, the metrics and every worker keep
working unchanged): each queued job gets a virtual start time, ``max(the client's last one, the
fleet's virtual time) + 1``, and sits in the queue in that order. The fleet's virtual time is the
start time of the job a worker took last. So with client A's 200 jobs queued, client B's one job
gets the start time of A's *next* job and runs right after it: a free worker reaches it within
one job-duration, whatever A has queued. Jobs of the operator's own token form one more client.

``high`` priority stays within a client's share: the job goes before that client's own queued
jobs, not before anyone else's. Jobs that RQ or the gate put back (retries, a closed gate) keep
the places RQ gives them.
"""

from __future__ import annotations

from redis import Redis

from app.fleet.keys import Keys

OPERATOR = ""

#: KEYS: RQ's queue list, the start-time sorted set, the clients' last start times, the virtual time,
#: the queued jobs' clients. ARGV: job id, client, high (1/0)
_PLACE = """
local queue, starts, last, vtime = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local job, client, high = ARGV[1], ARGV[2], ARGV[3] == '1'
local now = tonumber(redis.call('get', vtime) or '0')
local start
if high then
  -- before this client's earliest queued job: its share, taken first
  start = now + 1
  for _, id in ipairs(redis.call('zrange', starts, 0, -1)) do
    if redis.call('hget', KEYS[5], id) == client then
      start = tonumber(redis.call('zscore', starts, id)) - 0.001
      break
    end
  end
else
  start = math.max(tonumber(redis.call('hget', last, client) or '0'), now) + 1
  redis.call('hset', last, client, start)
end
redis.call('zadd', starts, start, job)
redis.call('hset', KEYS[5], job, client)
-- the newest start of all (one client alone, say): RQ's push to the back put it right
if redis.call('zrevrange', starts, 0, 0)[1] == job then return 0 end
if redis.call('lrem', queue, -1, job) == 0 then return 0 end  -- a worker took it already
-- after the queued job with the latest start not later than ours; the first place if none
for _, id in ipairs(redis.call('zrevrangebyscore', starts, '(' .. start, '-inf')) do
  if redis.call('linsert', queue, 'AFTER', id, job) > 0 then return 1 end
  redis.call('zrem', starts, id)  -- not queued any more (started, canceled): drop it
  redis.call('hdel', KEYS[5], id)
end
redis.call('lpush', queue, job)
return 1
"""

#: a worker took ``job``: the fleet's virtual time moves to its start time
_TAKEN = """
local start = redis.call('zscore', KEYS[1], ARGV[1])
if start then
  redis.call('zrem', KEYS[1], ARGV[1])
  redis.call('hdel', KEYS[3], ARGV[1])
  if tonumber(start) > tonumber(redis.call('get', KEYS[2]) or '0') then redis.call('set', KEYS[2], start) end
end
return 0
"""


def place(conn: Redis, keys: Keys, job_id: str, client: str | None, high: bool) -> None:
    """Move the just-enqueued ``job_id`` to its fair place in the queue."""
    # EVALSHA (register_script): every enqueue runs it, so the script text is not sent each time
    conn.register_script(_PLACE)(
        keys=[keys.rq_queue, keys.fair_starts, keys.fair_last, keys.fair_time, keys.fair_clients],
        args=[job_id, client or OPERATOR, "1" if high else "0"],
    )


def taken(conn: Redis, keys: Keys, job_id: str) -> None:
    conn.register_script(_TAKEN)(keys=[keys.fair_starts, keys.fair_time, keys.fair_clients], args=[job_id])
