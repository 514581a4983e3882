-- wrk script for `make bench` (bench/run.sh): POST /graphql with a
-- different resident's token per request (submit) or the organiser's token
-- (results, opinions). Every response body is checked: a 200 whose body holds
-- "errors" counts as a failure, except that RATE_LIMITED answers to logins
-- are counted apart ("limited": the argon2 pool shedding load, as designed).
-- done() writes a JSON line to BENCH_OUT_JSON.
--
-- Environment:
--   BENCH_MODE         submit | results | opinions | login
--   BENCH_LOGIN_FIRST  first seeded resident id (login: r<id>@bench.invalid)
--   BENCH_LOGIN_COUNT  how many residents to cycle through (login)
--   BENCH_TOKENS_FILE  one access token per line (submit)
--   BENCH_TOKEN_OFFSET first token to use (0-based; wraps around)
--   BENCH_TOPIC        topic id
--   BENCH_BEARER       token for results queries
--   BENCH_LEVEL        COUNTY | TOWNSHIP | VILLAGE (results)
--   BENCH_WITHIN       division code or empty (results); the division to
--                      list the newest 50 opinions of (opinions)
--   BENCH_OUT_JSON     where done() writes its JSON
--   BENCH_THREADS      wrk's -t (threads interleave the tokens)

local mode = os.getenv("BENCH_MODE") or "submit"
local topic = os.getenv("BENCH_TOPIC") or "1"

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local tokens = {}
local idx, step = 0, 1
-- Globals, not locals: done() reads them with thread:get().
ok, gql_errors, non_200, limited = 0, 0, 0, 0
sample = ""
local static_request = nil

local stances = { "SUPPORT", "OPPOSE", "ABSTAIN" }
local submit_query =
  'mutation($t:ID!,$s:Stance){submitOpinion(topicId:$t,stance:$s){id}}'
local results_query =
  'query($t:ID!,$l:DivisionLevel,$w:String){topicResults(topicId:$t,level:$l,within:$w)' ..
  '{fullDetail overall{total eligible} rows{divisionCode total eligible participation counts{stance count}}}}'
-- The organiser's opinion list: the newest 50 within a division.
local opinions_query =
  'query($t:ID!,$d:String){opinions(topicId:$t,divisionCode:$d,first:50)' ..
  '{edges{node{id stance villageCode residentName}}pageInfo{hasNextPage}}}'

-- The one request an organiser sends again and again.
local function organiser_request(query, vars)
  local body = '{"query":"' .. query .. '","variables":{' .. vars .. '}}'
  return wrk.format("POST", "/graphql", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. (os.getenv("BENCH_BEARER") or ""),
  }, body)
end

function init(args)
  local n = tonumber(thread_index) or 0
  -- Threads interleave tokens: pass wrk's -t as BENCH_THREADS.
  step = tonumber(os.getenv("BENCH_THREADS") or "1") or 1
  if mode == "login" then
    login_first = tonumber(os.getenv("BENCH_LOGIN_FIRST") or "1") or 1
    login_count = tonumber(os.getenv("BENCH_LOGIN_COUNT") or "1000") or 1000
    idx = n
  elseif mode == "submit" then
    local file = os.getenv("BENCH_TOKENS_FILE")
    for line in io.lines(file) do
      if #line > 0 then tokens[#tokens + 1] = line end
    end
    if #tokens == 0 then error("no tokens in " .. tostring(file)) end
    idx = (tonumber(os.getenv("BENCH_TOKEN_OFFSET") or "0") or 0) + n
  elseif mode == "opinions" then
    static_request = organiser_request(opinions_query, '"t":"' .. topic ..
      '","d":"' .. (os.getenv("BENCH_WITHIN") or "") .. '"')
  else
    local within = os.getenv("BENCH_WITHIN") or ""
    local vars = '"t":"' .. topic .. '","l":"' .. (os.getenv("BENCH_LEVEL") or "COUNTY") .. '"'
    if within ~= "" then vars = vars .. ',"w":"' .. within .. '"' end
    static_request = organiser_request(results_query, vars)
  end
end

function request()
  if static_request then return static_request end
  if mode == "login" then
    local id = login_first + (idx % login_count)
    idx = idx + step
    local body = '{"query":"mutation($e:String!,$p:String!){login(email:$e,password:$p){accessToken}}",' ..
      '"variables":{"e":"r' .. id .. '@bench.invalid","p":"bench-password"}}'
    return wrk.format("POST", "/graphql", { ["Content-Type"] = "application/json" }, body)
  end
  local i = idx % #tokens
  local round = math.floor(idx / #tokens)
  idx = idx + step
  local stance = stances[((i + round) % 3) + 1]
  local body = '{"query":"' .. submit_query .. '","variables":{"t":"' .. topic ..
    '","s":"' .. stance .. '"}}'
  return wrk.format("POST", "/graphql", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[i + 1],
  }, body)
end

function response(status, headers, body)
  if status ~= 200 then
    non_200 = non_200 + 1
    if sample == "" then sample = status .. " " .. string.sub(body or "", 1, 300) end
  elseif mode == "login" and string.find(body, '"RATE_LIMITED"', 1, true) then
    limited = limited + 1
  elseif string.find(body, '"errors"', 1, true) then
    gql_errors = gql_errors + 1
    if sample == "" then sample = string.sub(body, 1, 300) end
  else
    ok = ok + 1
  end
end

local function json_string(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == '\\' then return '\\\\' end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local t_ok, t_gql, t_non200, t_limited, t_sample = 0, 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    t_ok = t_ok + (thread:get("ok") or 0)
    t_gql = t_gql + (thread:get("gql_errors") or 0)
    t_non200 = t_non200 + (thread:get("non_200") or 0)
    t_limited = t_limited + (thread:get("limited") or 0)
    local s = thread:get("sample") or ""
    if t_sample == "" then t_sample = s end
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  local out = string.format(
    '{"requests":%d,"ok":%d,"graphql_errors":%d,"non_200":%d,"socket_errors":%d,' ..
    '"duration_s":%.3f,"ok_per_s":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,' ..
    '"max_ms":%.3f,"mean_ms":%.3f,"limited":%d,"error_sample":%s}',
    summary.requests, t_ok, t_gql, t_non200, socket_errors, secs, t_ok / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
    t_limited, json_string(t_sample))
  local path = os.getenv("BENCH_OUT_JSON")
  if path and path ~= "" then
    local f = assert(io.open(path, "w"))
    f:write(out .. "\n")
    f:close()
  end
  io.write(out .. "\n")
end
