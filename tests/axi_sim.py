"""AXI4-Lite helpers for amaranth.sim testbenches: a target with random stalls, a monitor,
an initiator.

Both are written from the AXI4-Lite handshake rules (a transfer happens in a cycle in
which valid and ready are both high), independently of the gateware under test.
"""

from ftvoter.sim.models import Read, Write


def serve(bus, memory, log, rng, stall=0.0):
    """Return a background testbench answering ``bus`` from ``memory``.

    Transactions are appended to ``log``. Each ready and each response is held back with
    probability ``stall`` per cycle.
    """
    async def testbench(ctx):
        await _serve(ctx, bus, memory, log, rng, stall)
    return testbench


async def _serve(ctx, bus, memory, log, rng, stall):
    aw = w = ar = None
    bvalid = rvalid = False
    while True:
        awready = aw is None and rng.random() >= stall
        wready = w is None and rng.random() >= stall
        arready = ar is None and not rvalid and rng.random() >= stall
        ctx.set(bus.awready, awready)
        ctx.set(bus.wready, wready)
        ctx.set(bus.arready, arready)
        aw_hs = awready and ctx.get(bus.awvalid)
        w_hs = wready and ctx.get(bus.wvalid)
        ar_hs = arready and ctx.get(bus.arvalid)
        b_hs = bvalid and ctx.get(bus.bready)
        r_hs = rvalid and ctx.get(bus.rready)
        if aw_hs:
            aw = ctx.get(bus.awaddr)
        if w_hs:
            w = (ctx.get(bus.wdata), ctx.get(bus.wstrb))
        if ar_hs:
            ar = ctx.get(bus.araddr)
        await ctx.tick()
        if b_hs:
            bvalid = False
        if r_hs:
            rvalid = False
        if aw is not None and w is not None and not bvalid and rng.random() >= stall:
            memory.write(aw, *w)
            log.append(Write(aw, *w))
            aw = w = None
            bvalid = True
        if ar is not None and not rvalid and rng.random() >= stall:
            data = memory.read(ar)
            log.append(Read(ar, data))
            ctx.set(bus.rdata, data)
            ar = None
            rvalid = True
        ctx.set(bus.bvalid, bvalid)
        ctx.set(bus.bresp, 0)
        ctx.set(bus.rvalid, rvalid)
        ctx.set(bus.rresp, 0)


def monitor(bus, log):
    """Return a background testbench appending every transaction on ``bus`` to ``log``."""
    async def testbench(ctx):
        await _monitor(ctx, bus, log)
    return testbench


async def _monitor(ctx, bus, log):
    pending_write = {}
    read_addr = None
    while True:
        values = {name: ctx.get(getattr(bus, name)) for name in (
            "awvalid", "awready", "awaddr", "wvalid", "wready", "wdata", "wstrb",
            "arvalid", "arready", "araddr", "rvalid", "rready", "rdata")}
        if values["awvalid"] and values["awready"]:
            pending_write["addr"] = values["awaddr"]
        if values["wvalid"] and values["wready"]:
            pending_write["data"] = (values["wdata"], values["wstrb"])
        if len(pending_write) == 2:
            log.append(Write(pending_write["addr"], *pending_write["data"]))
            pending_write.clear()
        if values["arvalid"] and values["arready"]:
            read_addr = values["araddr"]
        if values["rvalid"] and values["rready"]:
            log.append(Read(read_addr, values["rdata"]))
        await ctx.tick()


async def write(ctx, buses, addr, data, strb=0xF, *, limit=200):
    """Write from an initiator (the same beat on every bus of ``buses``, as lanes in
    lockstep do); return the response code. Each valid is held until its handshake."""
    for bus in buses:
        ctx.set(bus.awaddr, addr)
        ctx.set(bus.wdata, data)
        ctx.set(bus.wstrb, strb)
        ctx.set(bus.awvalid, 1)
        ctx.set(bus.wvalid, 1)
        ctx.set(bus.bready, 1)
    aw = w = False
    for _ in range(limit):
        aw = aw or ctx.get(buses[0].awready)
        w = w or ctx.get(buses[0].wready)
        b, resp = ctx.get(buses[0].bvalid), ctx.get(buses[0].bresp)
        await ctx.tick()
        for bus in buses:
            ctx.set(bus.awvalid, not aw)
            ctx.set(bus.wvalid, not w)
        if b:
            for bus in buses:
                ctx.set(bus.bready, 0)
            return resp
    raise AssertionError(f"no write response for {addr:#x}")


async def read(ctx, buses, addr, *, limit=200):
    """Read from an initiator (on every bus of ``buses``); return the data."""
    for bus in buses:
        ctx.set(bus.araddr, addr)
        ctx.set(bus.arvalid, 1)
        ctx.set(bus.rready, 1)
    ar = False
    for _ in range(limit):
        ar = ar or ctx.get(buses[0].arready)
        r, data = ctx.get(buses[0].rvalid), ctx.get(buses[0].rdata)
        await ctx.tick()
        if ar:
            for bus in buses:
                ctx.set(bus.arvalid, 0)
        if r:
            for bus in buses:
                ctx.set(bus.rready, 0)
            return data
    raise AssertionError(f"no read response for {addr:#x}")
