wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-token"
local pad = string.rep("x", 1000)
wrk.body = '{"eventType":"bench.event","payload":{"pad":"' .. pad .. '"}}'
