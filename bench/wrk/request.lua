-- One request shape for every wrk run of bench/api_wrk.py, read from the environment:
--   PM_METHOD (GET/POST), PM_PATH, PM_BODY (JSON, optional), PM_TOKENS (bearer tokens,
--   comma-separated; each request takes the next, so submissions come from several users).
-- done() prints one machine-readable line: rate inputs, latency percentiles (microseconds),
-- errors and non-2xx answers.
local method = os.getenv("PM_METHOD") or "GET"
local path = os.getenv("PM_PATH") or "/"
local body = os.getenv("PM_BODY")
local tokens = {}
for token in string.gmatch(os.getenv("PM_TOKENS") or "", "[^,]+") do
  tokens[#tokens + 1] = token
end
local requests = {}
local next_request = 0
local threads = 0

-- Each thread starts at its own place in the token list, so two threads never send the
-- same user's requests in step (a user's submissions take turns on that user's lock).
function setup(thread)
  thread:set("offset", threads * 17)
  threads = threads + 1
end

function init(args)
  for _, token in ipairs(tokens) do
    local headers = { ["Authorization"] = "Bearer " .. token }
    if body then headers["Content-Type"] = "application/json" end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  next_request = (offset or 0) % math.max(#requests, 1)
  if #requests == 0 then
    local headers = {}
    if body then headers["Content-Type"] = "application/json" end
    requests[1] = wrk.format(method, path, headers, body)
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function done(summary, latency, requests_)
  local errors = summary.errors
  io.write(string.format(
    "PMRESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
