-- POST the workload's request body (file named by BENCH_BODY) with its Content-Type (BENCH_CT),
-- on keep-alive connections: every request is the same bytes for every peer.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_CT")
