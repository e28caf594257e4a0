"""Polling-endpoint read speed: sends N messages to a running Hookwire, then reads them back
through a polling endpoint with limit=1000 and limit=100 and prints events/s.

    HOOKWIRE_ADMIN_TOKEN=hw_poll_bench_token_1234567890123456789012 \
      target/release/hookwire serve --listen 127.0.0.1:18072 --database-url sqlite:///tmp/pb/hookwire.db &
    python3 docs/bench/poll.py 50000
"""
import http.client, json, time, concurrent.futures, sys
T = "hw_poll_bench_token_1234567890123456789012"
H = {"Authorization": f"Bearer {T}", "content-type": "application/json"}
def conn(): return http.client.HTTPConnection("127.0.0.1", 18072)
def call(c, method, path, body=None):
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=H)
    r = c.getresponse(); data = r.read(); return r.status, (json.loads(data) if data else None)
c = conn()
call(c, "POST", "/api/v1/app", {"name": "Bench", "uid": "bench"})
status, d = call(c, "POST", "/api/v1/app/bench/destination", {"type": "pollingEndpoint", "uid": "feed"})
N = int(sys.argv[1])
pad = "x" * 200
def send(chunk):
    c = conn()
    for n in chunk:
        call(c, "POST", "/api/v1/app/bench/msg", {"eventType": "bench.event", "payload": {"n": n, "pad": pad}})
t = time.time()
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    list(ex.map(send, [range(i, N, 16) for i in range(16)]))
print(f"sent {N} in {time.time()-t:.1f}s")
c = conn()
for limit in (1000, 100):
    t = time.time(); it = None; got = 0
    while True:
        q = f"/api/v1/app/bench/poller/feed?limit={limit}&wait_secs=0" + (f"&iterator={it}" if it else "")
        status, page = call(c, "GET", q)
        got += len(page["data"]); it = page["iterator"]
        if page["done"] and not page["data"]: break
    el = time.time() - t
    print(f"limit {limit}: read {got} in {el:.2f}s = {got/el:,.0f} events/s")
