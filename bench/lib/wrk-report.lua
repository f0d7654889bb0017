-- Loaded by bench/lib/wrk.ts. Prints wrk's summary as one JSON line, and, when
-- BENCH_CREATE_PATH is set, sends POSTs that each watch a receipt no request used before.

local create_path = os.getenv("BENCH_CREATE_PATH")
local create_base = tonumber(os.getenv("BENCH_CREATE_BASE") or "0")
local counter = 0

if create_path then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  request = function()
    counter = counter + 1
    local body = string.format('{"receipt_number":"IOE%010d","description":"bench"}',
      create_base + counter)
    return wrk.format("POST", create_path, nil, body)
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
