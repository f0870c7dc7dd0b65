-- The bare no-op POST the order figure is compared with: a body of the same size, answered 202.
--   wrk -t1 -c64 -d10s --latency -s bench/wrk/noop.lua http://127.0.0.1:<bare port>
local body = os.getenv("WRK_BODY") or '{"customerId":"wrk-noop","lines":[{"sku":"HOT-1","quantity":1}]}'
function request()
  return wrk.format("POST", "/noop", { ["Content-Type"] = "application/json" }, body)
end
