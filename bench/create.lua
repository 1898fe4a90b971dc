-- wrk script of `make bench`'s create mutation: every request creates a new
-- user (unique email) and must answer the Success member of the union.
local query = 'mutation ($i: CreateUserInput!) { createUser(input: $i) { ' ..
  '__typename ... on CreateUserSuccess { user { id email } } ' ..
  '... on CreateUserError { code identifier } } }'

local threads, counter = {}, 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local n = 0
bad, bad_status, bad_errors, bad_len, sample = 0, 0, 0, 0, ""

function init(args)
  math.randomseed(os.time() + (tid or 0))
end

function request()
  n = n + 1
  local body = string.format(
    '{"query": "%s", "variables": {"i": {"email": "w%d-%d-%d@example.com", ' ..
    '"firstName": "Bench", "lastName": "Mark", "age": 30}}}',
    query, tid or 0, n, math.random(1, 1000000000))
  return wrk.format("POST", "/graphql",
                    {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  local why
  if status ~= 200 then
    bad_status = bad_status + 1; why = "status " .. status
  elseif string.find(body, '"errors"', 1, true) then
    bad_errors = bad_errors + 1; why = "errors"
  elseif not string.find(body, "CreateUserSuccess", 1, true) then
    bad_len = bad_len + 1; why = "not a success"
  end
  if why then
    bad = bad + 1
    if sample == "" then sample = why .. ": " .. string.sub(body, 1, 300) end
  end
end

function done(s, latency, requests)
  local b, bs, be, bl, smp = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    b, bs = b + t:get("bad"), bs + t:get("bad_status")
    be, bl = be + t:get("bad_errors"), bl + t:get("bad_len")
    if smp == "" then smp = t:get("sample") end
  end
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d " ..
    "connect=%d read=%d write=%d status=%d timeout=%d " ..
    "bad=%d bad_status=%d bad_errors=%d bad_len=%d\n",
    s.requests, s.duration, s.bytes, latency:percentile(50),
    latency:percentile(99), s.errors.connect, s.errors.read,
    s.errors.write, s.errors.status, s.errors.timeout, b, bs, be, bl))
  if smp ~= "" then io.write("SAMPLE " .. smp .. "\n") end
end
