-- wrk: POST /webhook with a unique message_id per message, a mix of calm
-- and frustrated messages from many customers. WEBHOOK_BATCH=N (default 1)
-- sends {"messages": [...N...]} per request instead of one message.
-- WEBHOOK_RUN names the run in every message_id: runs on one store (and
-- several wrk processes at once) then send new messages, not duplicates.
local texts = {
  "Thanks, the new release works great for us",
  "I have been waiting for a week and the app still crashes, this is really frustrating",
  "Can you tell me how to export my invoices?",
  "This is the worst support I have ever had, absolutely terrible",
  "The dashboard is fine, just a question about billing",
  "Still broken. Third time I write. Unacceptable and awful.",
  "Great, that fixed it, thank you",
  "ok",
  "Your product is useless and the delay is horrible",
  "Could you update the shipping address on my order?",
}
local customers = 5000
local batch = tonumber(os.getenv("WEBHOOK_BATCH") or "1")
local run = os.getenv("WEBHOOK_RUN") or "w"
local counter = 0
-- Runs sent at once start at different customers.
local skew = 0
for i = 1, #run do skew = skew * 31 + run:byte(i) end
skew = skew % customers
local headers = { ["Content-Type"] = "application/json" }

function setup(thread)
  -- Each thread numbers its messages; its id keeps them unique overall.
  setup_count = (setup_count or 0) + 1
  thread:set("tid", setup_count)
end

local function one()
  counter = counter + 1
  local cust = (counter * 7919 + (tid or 0) * 104729 + skew) % customers
  return string.format(
    '{"customer_id":"cust-%d","message_id":"%s-%d-%d","message":"%s"}',
    cust, run, tid or 0, counter, texts[counter % #texts + 1])
end

function request()
  if batch <= 1 then
    return wrk.format("POST", "/webhook", headers, one())
  end
  local items = {}
  for i = 1, batch do items[i] = one() end
  return wrk.format("POST", "/webhook", headers,
    '{"messages":[' .. table.concat(items, ",") .. "]}")
end
