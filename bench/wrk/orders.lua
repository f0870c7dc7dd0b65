-- POST /v1/orders with a fresh customer and Idempotency-Key per request, round-robin over hot SKUs.
--   wrk -t1 -c64 -d10s --latency -s bench/wrk/orders.lua http://127.0.0.1:3000
-- SKUs come from the environment: WRK_SKUS=HOT-1,HOT-2 (default HOT-1..HOT-5). Prints a status tally at the end.
local skus = {}
for sku in string.gmatch(os.getenv("WRK_SKUS") or "HOT-1,HOT-2,HOT-3,HOT-4,HOT-5", "[^,]+") do skus[#skus + 1] = sku end
local run = os.getenv("WRK_RUN") or tostring(os.time())
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  threads[#threads + 1] = thread
end

local counter = 0
statuses = {} -- global: done() reads it from each thread

function request()
  counter = counter + 1
  local key = string.format("wrk-%s-%d-%d", run, tid, counter)
  local body = string.format('{"customerId":"%s","lines":[{"sku":"%s","quantity":1}]}', key, skus[(counter % #skus) + 1])
  return wrk.format("POST", "/v1/orders", { ["Content-Type"] = "application/json", ["Idempotency-Key"] = key }, body)
end

function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local tally = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do tally[status] = (tally[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(tally) do parts[#parts + 1] = status .. "x" .. n end
  io.write("statuses: " .. table.concat(parts, " ") .. "\n")
end
