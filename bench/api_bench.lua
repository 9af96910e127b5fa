-- wrk script for `make bench-api`: every request creates a new lead (POST /leads).
-- The bearer token comes from BENCH_TOKEN, a run tag from BENCH_RUN (unique e-mails per run).
-- No response() callback (it would make wrk hand every response to Lua): wrk counts any
-- status >= 400 in errors.status. done() prints one JSON line (prefixed "BENCH_JSON ")
-- that bench/api_bench.py reads.

local token = os.getenv("BENCH_TOKEN") or ""
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local counter = 0
local thread_no = 0
local threads = {}

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
  table.insert(threads, thread)
end

function init(args)
  tid = tid or 0
  headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }
end

function request()
  counter = counter + 1
  local body = '{"email":"w' .. run .. '-' .. tid .. '-' .. counter .. '@bench.test",'
    .. '"source":"bench","first_name":"Bench","company":"Load Inc","tags":["bench"]}'
  return wrk.format("POST", "/leads", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local out = string.format(
    '{"requests": %d, "duration_us": %d, "errors_connect": %d, "errors_read": %d,'
      .. ' "errors_write": %d, "errors_status": %d, "errors_timeout": %d,'
      .. ' "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean
  )
  io.write("BENCH_JSON " .. out .. "\n")
end
