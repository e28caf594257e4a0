# Minimal keep-alive HTTP receiver that counts requests and prints deliveries/s each second.
import asyncio, sys, time
count = 0
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
async def handle(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    n = int(line[15:])
            if n:
                await reader.readexactly(n)
            count += 1
            writer.write(RESP)
    except Exception:
        writer.close()
async def report():
    last, t0 = 0, time.time()
    while True:
        await asyncio.sleep(1)
        print(f"{time.time()-t0:.0f}s total={count} rate={count-last}/s", flush=True)
        last = count
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    asyncio.create_task(report())
    async with server:
        await server.serve_forever()
asyncio.run(main())
