-- wrk script (bench/run.sh): a random tenant per request (lines `host token` of
-- BENCH_TOKENS), 90% `GET /api/v1/jobs?limit=50` and 10% writes, in turn:
--   POST /api/v1/applications {job_id, candidate_id}   (a pair never used before)
--   POST /api/v1/applications/1/move {stage}           (the seeded application)
--   POST /api/v1/time-off {kind, start_date, end_date, reason}
-- Pairs: thread k of BENCH_THREADS (default 2) takes pair numbers k-1, k-1+T, ... per
-- tenant; pair p is job p % JOBS + 1, candidate BENCH_CANDIDATE_FIRST + p // JOBS, while
-- p // JOBS < BENCH_CANDIDATES (then a time-off request instead). Every answer is checked:
-- response() counts the statuses outside 2xx, done() prints them in its JSON line.
local file = os.getenv("BENCH_TOKENS") or "/tmp/zumodra-bench/tokens.txt"
local write_pct = tonumber(os.getenv("BENCH_WRITE_PCT") or "10")
local stride = tonumber(os.getenv("BENCH_THREADS") or "2")
local jobs = tonumber(os.getenv("BENCH_JOBS") or "20")
local first = tonumber(os.getenv("BENCH_CANDIDATE_FIRST") or "1")
local candidates = tonumber(os.getenv("BENCH_CANDIDATES") or "64")
local stages = { "new", "screening", "interview", "offer" }

local hosts, auths, reads = {}, {}, {}
for line in io.lines(file) do
  local host, token = line:match("^(%S+)%s+(%S+)$")
  if host then
    hosts[#hosts + 1] = host
    auths[#auths + 1] = "Bearer " .. token
    reads[#reads + 1] = wrk.format("GET", "/api/v1/jobs?limit=50",
      { ["Host"] = host, ["Authorization"] = "Bearer " .. token })
  end
end
local n = #hosts

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local next_pair = {}
local turn = 0
ok, bad, creates, moves, timeoffs, reads_sent = 0, 0, 0, 0, 0, 0
bad_status = ""

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
end

local function post(i, path, body)
  return wrk.format("POST", path, {
    ["Host"] = hosts[i], ["Authorization"] = auths[i],
    ["Content-Type"] = "application/json" }, body)
end

function request()
  local i = math.random(n)
  if math.random(100) > write_pct then
    reads_sent = reads_sent + 1
    return reads[i]
  end
  turn = turn % 3 + 1
  if turn == 1 then
    local k = next_pair[i] or 0
    local p = k * stride + (tid - 1)
    local c = math.floor(p / jobs)
    local candidate = first + c
    if c < candidates then
      next_pair[i] = k + 1
      creates = creates + 1
      return post(i, "/api/v1/applications",
        string.format('{"job_id": %d, "candidate_id": %d}', p % jobs + 1, candidate))
    end
    turn = 3
  end
  if turn == 2 then
    moves = moves + 1
    return post(i, "/api/v1/applications/1/move",
      string.format('{"stage": "%s"}', stages[math.random(#stages)]))
  end
  timeoffs = timeoffs + 1
  return post(i, "/api/v1/time-off",
    '{"kind": "unpaid", "start_date": "2027-01-04", "end_date": "2027-01-05", "reason": "benchmark"}')
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    bad = bad + 1
    if #bad_status < 200 then bad_status = bad_status .. status .. ":" .. body:sub(1, 80):gsub('["\\\n]', "'") .. " " end
  end
end

function done(summary, latency, requests)
  local t = { ok = 0, bad = 0, creates = 0, moves = 0, timeoffs = 0, reads = 0 }
  local sample = ""
  for _, th in ipairs(threads) do
    t.ok = t.ok + th:get("ok")
    t.bad = t.bad + th:get("bad")
    t.creates = t.creates + th:get("creates")
    t.moves = t.moves + th:get("moves")
    t.timeoffs = t.timeoffs + th:get("timeoffs")
    t.reads = t.reads + th:get("reads_sent")
    sample = sample .. th:get("bad_status")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"tenants": %d, "requests": %d, "duration_us": %d, "rps": %.1f, ' ..
    '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"answers_2xx": %d, "answers_not_2xx": %d, "sent": {"reads": %d, "create_application": %d, ' ..
    '"move_stage": %d, "time_off": %d}, "not_2xx_sample": "%s"}\n',
    n, summary.requests, summary.duration, summary.requests / summary.duration * 1e6,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout,
    t.ok, t.bad, t.reads, t.creates, t.moves, t.timeoffs, sample))
end
