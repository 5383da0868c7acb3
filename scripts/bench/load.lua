-- The load benchmark's users for wrk (scripts/bench/load.py writes the data file).
-- wrk -s load.lua URL -- DATA_FILE THINK_MS
-- Each line of DATA_FILE is "token task_id upload_id", one user. Every request is a user drawn
-- at random; after each response its connection waits THINK_MS x [0.5, 1.5) (0: no wait).
-- The mix: 50 % GET /v1/tasks/{id}, 20 % event polls, 15 % the list, 10 % the catalogue,
-- 5 % POST /v1/tasks. done() prints one JSON line of figures, with the count of each status
-- over 299.
local users = {}
local think = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local token, task, upload = line:match("(%S+) (%S+) (%S+)")
    users[#users + 1] = { token, task, upload }
  end
  think = tonumber(args[2])
  rejected = {}
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function response(status, headers, body)
  if status >= 300 then
    rejected[status] = (rejected[status] or 0) + 1
  end
end

function delay()
  if think == 0 then return 0 end
  return math.floor(think * (0.5 + math.random()))
end

function request()
  local user = users[math.random(#users)]
  local headers = { ["Authorization"] = "Bearer " .. user[1], ["Accept"] = "application/json" }
  local pick = math.random(100)
  if pick <= 50 then
    return wrk.format("GET", "/v1/tasks/" .. user[2], headers)
  elseif pick <= 70 then
    return wrk.format("GET", "/v1/tasks/" .. user[2] .. "/events", headers)
  elseif pick <= 85 then
    return wrk.format("GET", "/v1/tasks?limit=20", headers)
  elseif pick <= 95 then
    return wrk.format("GET", "/v1/features", headers)
  end
  headers["Content-Type"] = "application/json"
  local body = '{"feature":"cutout","inputs":{"image":"' .. user[3] .. '"}}'
  return wrk.format("POST", "/v1/tasks", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("rejected")) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local statuses = {}
  for status, count in pairs(counts) do
    statuses[#statuses + 1] = string.format('"%d":%d', status, count)
  end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"mean_us":%.0f,"p50_us":%d,"p99_us":%d,"max_us":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(99), latency.max,
    table.concat(statuses, ",")))
end
