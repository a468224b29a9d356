-- wrk script: sends each request of DATA once, counts answers by status, reports one JSON line.
--
-- bench/harness/wrk.py prepends the generated part (DATA, EXPECT_STATUS, EXPECT_BODY, COUNT_PATTERNS)
-- to this file. COUNT_PATTERNS maps a name to a Lua pattern with one numeric capture, summed over
-- the expected answers (e.g. the per-item outcome counts of a bulk answer).
-- Each DATA line is one request: METHOD \t PATH \t BODY \t header name \t value [\t name \t value ...].
-- Thread k of n takes lines k, k+n, k+2n, ... so no request is sent twice. A thread that runs out
-- counts it (`exhausted`) and starts again from its first request, whose nonce the hub then refuses:
-- the run fails loudly instead of measuring replays.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

local function split(line)
   local fields = {}
   local start = 1
   while true do
      local tab = string.find(line, "\t", start, true)
      if not tab then
         fields[#fields + 1] = string.sub(line, start)
         return fields
      end
      fields[#fields + 1] = string.sub(line, start, tab - 1)
      start = tab + 1
   end
end

function init(args)
   local nthreads = tonumber(args[1])
   pool = {}
   statuses = {}
   samples = {}
   body_mismatch = 0
   counted = {}
   exhausted = 0
   sent = 0
   local index = 0
   for line in string.gmatch(DATA, "[^\n]+") do
      if index % nthreads == thread_index then
         local fields = split(line)
         local headers = {}
         for i = 4, #fields - 1, 2 do
            headers[fields[i]] = fields[i + 1]
         end
         local body = fields[3]
         if body == "" then
            body = nil
         end
         pool[#pool + 1] = wrk.format(fields[1], fields[2], headers, body)
      end
      index = index + 1
   end
   pool_size = #pool
   DATA = nil
end

function request()
   sent = sent + 1
   if sent > #pool then
      exhausted = exhausted + 1
      return pool[((sent - 1) % #pool) + 1]
   end
   return pool[sent]
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if status ~= EXPECT_STATUS then
      if #samples < 3 then
         samples[#samples + 1] = key .. " " .. string.sub(body or "", 1, 300)
      end
   elseif EXPECT_BODY ~= "" and not string.find(body or "", EXPECT_BODY, 1, true) then
      body_mismatch = body_mismatch + 1
      if #samples < 3 then
         samples[#samples + 1] = key .. " (unexpected body) " .. string.sub(body or "", 1, 300)
      end
   else
      for name, pattern in pairs(COUNT_PATTERNS) do
         local value = string.match(body or "", pattern)
         if value then
            counted[name] = (counted[name] or 0) + tonumber(value)
         end
      end
   end
end

local function encode(value)
   local kind = type(value)
   if kind == "number" then
      return string.format("%.17g", value)
   elseif kind == "string" then
      local escaped = string.gsub(value, '[%c"\\]', function(c)
         return string.format("\\u%04x", string.byte(c))
      end)
      return '"' .. escaped .. '"'
   elseif kind == "table" then
      local parts = {}
      if #value > 0 then
         for _, item in ipairs(value) do
            parts[#parts + 1] = encode(item)
         end
         return "[" .. table.concat(parts, ",") .. "]"
      end
      for k, item in pairs(value) do
         parts[#parts + 1] = encode(tostring(k)) .. ":" .. encode(item)
      end
      return "{" .. table.concat(parts, ",") .. "}"
   end
   return "null"
end

function done(summary, latency, requests)
   local all_statuses = {}
   local all_samples = {}
   local all_counted = {}
   local mismatch, out_of_pool, pool_size, all_sent = 0, 0, 0, 0
   for _, thread in ipairs(threads) do
      for key, count in pairs(thread:get("statuses")) do
         all_statuses[key] = (all_statuses[key] or 0) + count
      end
      for _, sample in ipairs(thread:get("samples")) do
         all_samples[#all_samples + 1] = sample
      end
      for name, value in pairs(thread:get("counted")) do
         all_counted[name] = (all_counted[name] or 0) + value
      end
      mismatch = mismatch + thread:get("body_mismatch")
      out_of_pool = out_of_pool + thread:get("exhausted")
      pool_size = pool_size + thread:get("pool_size")
      all_sent = all_sent + thread:get("sent")
   end
   local percentiles = {}
   for _, p in ipairs({ 50, 75, 90, 99, 99.9 }) do
      percentiles[tostring(p)] = latency:percentile(p)
   end
   local result = {
      duration_us = summary.duration,
      requests = summary.requests,
      bytes = summary.bytes,
      errors = summary.errors,
      statuses = all_statuses,
      samples = all_samples,
      body_mismatch = mismatch,
      counted = all_counted,
      exhausted = out_of_pool,
      pool = pool_size,
      sent = all_sent,
      latency_us = {
         min = latency.min,
         max = latency.max,
         mean = latency.mean,
         stdev = latency.stdev,
         percentiles = percentiles,
      },
   }
   io.write("BENCH-RESULT " .. encode(result) .. "\n")
end
