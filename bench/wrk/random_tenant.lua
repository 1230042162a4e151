-- wrk script (bench/run.sh): every request goes to a tenant picked at random among the
-- lines `host token` of BENCH_TOKENS, with that tenant's bearer token (unless
-- BENCH_AUTH=0). Path from BENCH_PATH (default /api/v1/jobs?limit=50).
-- The requests are built once per tenant, so a request costs wrk one table lookup.
-- done() prints one JSON line (prefixed "BENCH_JSON ") for bench/report.py.
local path = os.getenv("BENCH_PATH") or "/api/v1/jobs?limit=50"
local auth = os.getenv("BENCH_AUTH") ~= "0"
local file = os.getenv("BENCH_TOKENS") or "/tmp/zumodra-bench/tokens.txt"

local reqs = {}
for line in io.lines(file) do
  local host, token = line:match("^(%S+)%s+(%S+)$")
  if host then
    local headers = { ["Host"] = host }
    if auth then headers["Authorization"] = "Bearer " .. token end
    reqs[#reqs + 1] = wrk.format("GET", path, headers)
  end
end
local n = #reqs

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (seed or 0))
end

function request()
  return reqs[math.random(n)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"tenants": %d, "requests": %d, "duration_us": %d, "rps": %.1f, ' ..
    '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    n, summary.requests, summary.duration, summary.requests / summary.duration * 1e6,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
