-- POST /api/v1/activity/email/: one outbox email per request, due 1-5 s later (send_in).
-- Used by bench/overload.py to measure the sustained rate of email creation.
--   wrk -s overload_create_email.lua URL -- AUTHORIZATION LEAD_ID SEND_IN_MIN SEND_IN_MAX
-- AUTHORIZATION is the whole header value ("Basic ..."); LEAD_ID the lead the emails go on;
-- each email's send_in is drawn from SEND_IN_MIN..SEND_IN_MAX seconds.

local authorization, lead_id, send_in_min, send_in_max
local counter = 0

function init(args)
   authorization, lead_id = args[1], args[2]
   send_in_min, send_in_max = tonumber(args[3]), tonumber(args[4])
   math.randomseed(os.time())
end

function request()
   counter = counter + 1
   local body = string.format(
      '{"lead_id":"%s","status":"outbox","send_in":%d,"sender":"bench@sender.example.com",'
         .. '"to":["w%d@buyer.example.com"],"subject":"Overload %d","body_text":"Hello"}',
      lead_id, math.random(send_in_min, send_in_max), counter, counter)
   local headers = {
      ["Authorization"] = authorization,
      ["Content-Type"] = "application/json",
   }
   return wrk.format("POST", "/api/v1/activity/email/", headers, body)
end
