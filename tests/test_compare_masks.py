"""Compare masks (hdl/compare_masks.py): the comparison's masks in BusCompare, the mask
registers in ErrorRegisters, and the two together in the voting bridge, in amaranth.sim.

Every expectation is written here, by hand or in closed form, from the documented
behaviour: a masked bit never makes the lanes differ, the beat forwarded carries the first
online lane's value on it, valid is always compared, an address channel is compared in
full while an online lane addresses the register window; the masks reset to 0, change
only by a management write right after UNLOCK, never by the lanes; a lanes' write whose W
beat was taken under a W mask is refused.
"""

import itertools
import random

import pytest
from amaranth.lib.wiring import Out
from amaranth.sim import Simulator

from ftvoter.hdl.bridge import VotingBridge
from ftvoter.hdl.bridge_compare import BusCompare
from ftvoter.hdl.compare_masks import CompareMaskSignature
from ftvoter.hdl.registers import CHANNELS, ERROR_REGISTERS, UNLOCK_KEY, ErrorRegisters
from ftvoter.sim.models import MemoryModel, Write

from axi_sim import read, serve, write

OFFSET = {r.name: r.offset for r in ERROR_REGISTERS}
OKAY, SLVERR = 0, 2
A = 16                              # the address width of these tests
BASE = 2**A - 256                   # the register window (the default csr_base)


def simulate(dut, *testbenches, clock=True, background=()):
    sim = Simulator(dut)
    if clock:
        sim.add_clock(1e-6)
    for testbench in background:
        sim.add_testbench(testbench, background=True)
    for testbench in testbenches:
        sim.add_testbench(testbench)
    sim.run()


# --- the comparison -----------------------------------------------------------------------

_REQUEST = {"awaddr": A, "awprot": 3, "awvalid": 1, "wdata": 32, "wstrb": 4, "wvalid": 1,
            "bready": 1, "araddr": A, "arprot": 3, "arvalid": 1, "rready": 1}
_MASKS = {"channels": 5, "aw_addr": 32, "aw_prot": 3, "w_data": 32, "w_strb": 4,
          "ar_addr": 32, "ar_prot": 3}
#: channel: (valid, payload members as the hardware concatenates them, first one's width)
_LAYOUT = {"AW": ("awvalid", ("awaddr", "awprot"), A), "W": ("wvalid", ("wdata", "wstrb"), 32),
           "AR": ("arvalid", ("araddr", "arprot"), A), "B": ("bready", (), 0),
           "R": ("rready", (), 0)}


#: request member -> (mask field, bit of a one-bit mask or None for the member's own bit)
_MASK_OF = {"awaddr": ("aw_addr", None), "awprot": ("aw_prot", None),
            "wdata": ("w_data", None), "wstrb": ("w_strb", None),
            "araddr": ("ar_addr", None), "arprot": ("ar_prot", None),
            "bready": ("channels", CHANNELS["B"]), "rready": ("channels", CHANNELS["R"])}


def masks_of(masks, name, requests, online):
    """The payload bits of channel ``name`` not compared (for B and R: 1 if the ready is
    not), in closed form from the documentation."""
    valid, payload, width = _LAYOUT[name]
    if not payload:
        return (masks["channels"] >> CHANNELS[name]) & 1
    prefix = name.lower()
    first = "data" if name == "W" else "addr"
    second = "strb" if name == "W" else "prot"
    total = width + _REQUEST[payload[1]]
    bits = (masks[f"{prefix}_{first}"] & ((1 << width) - 1)) | \
        (masks[f"{prefix}_{second}"] << width)
    if (masks["channels"] >> CHANNELS[name]) & 1:
        bits = (1 << total) - 1
    if name != "W" and any(on and request[payload[0]] >> 8 == BASE >> 8
                           for on, request in zip(online, requests, strict=True)):
        bits = 0                    # an online lane addresses the register window
    return bits


def bus_expected(online, requests, masks):
    """BusCompare's outputs in closed form: per channel, the online pairs that differ on
    valid, or on an unmasked payload bit while both are valid; the forwarded beat is the
    first online lane's, masked bits included."""
    lanes = [i for i in range(len(requests)) if online[i]]
    out = {"differs": 0, "odd": 0, "no_majority": 0, "channel": 0, "bits": 0, "ctrl": 0}
    found = False
    for name, (valid, payload, width) in _LAYOUT.items():
        mask = masks_of(masks, name, requests, online)
        if payload:
            values = [r[payload[0]] | (r[payload[1]] << width) for r in requests]
            valids = [r[valid] for r in requests]
        else:                       # the ready itself is what is compared (and masked)
            values = [r[valid] for r in requests]
            valids = [1] * len(requests)

        def differ(i, j, values=values, valids=valids, mask=mask, payload=payload):
            if payload and valids[i] != valids[j]:
                return True
            return valids[i] and bool((values[i] ^ values[j]) & ~mask)

        ne = {(i, j): differ(i, j) for i in lanes for j in lanes if i < j}
        out["differs"] |= any(ne.values()) << CHANNELS[name]
        if len(requests) == 3 and len(lanes) == 3:
            for i in range(3):
                j, k = (x for x in range(3) if x != i)
                if ne[min(i, j), max(i, j)] and ne[min(i, k), max(i, k)] and not ne[j, k]:
                    out["odd"] |= 1 << i
            out["no_majority"] |= all(ne.values())
        if any(ne.values()) and not found:
            found = True
            syndrome = valid_syndrome = 0
            for i, j in ne:
                syndrome |= (values[i] ^ values[j]) & ~mask
                if payload:
                    valid_syndrome |= valids[i] ^ valids[j]
            out["channel"] = CHANNELS[name]
            if payload:
                out["bits"] = syndrome & ((1 << width) - 1)
                out["ctrl"] = valid_syndrome | ((syndrome >> width) << 1)
            else:
                out["ctrl"] = syndrome
    first = requests[lanes[0]] if lanes else {name: 0 for name in _REQUEST}
    for name in ("aw", "ar"):
        out.update({f"{name}_valid": first[f"{name}valid"], f"{name}_addr": first[f"{name}addr"],
                    f"{name}_prot": first[f"{name}prot"]})
    out.update({"w_valid": first["wvalid"], "w_data": first["wdata"], "w_strb": first["wstrb"]})
    out["w_masked"] = int(bool(masks["w_data"] or masks["w_strb"] or masks["channels"] & 2))
    return out


async def settle(ctx, dut, online, requests, masks):
    ctx.set(dut.online, sum(bit << i for i, bit in enumerate(online)))
    for i, request in enumerate(requests):
        for name, value in request.items():
            ctx.set(getattr(getattr(dut, f"lane{i}"), name), value)
    for name, value in masks.items():
        ctx.set(getattr(dut.masks, name), value)
    return {name: ctx.get(getattr(dut, name)) for name in bus_expected(online, requests,
                                                                        masks)}


def no_masks(**kw):
    return {name: 0 for name in _MASKS} | kw


def request(**kw):
    return {name: 0 for name in _REQUEST} | kw


class TestCompareMaskSignature:
    def test_members(self):
        sig = CompareMaskSignature()
        assert {name: member.shape for name, member in sig.members.items()} == _MASKS
        assert all(member.flow == Out for member in sig.members.values())
        assert sig == CompareMaskSignature() and repr(sig) == "CompareMaskSignature()"
        assert hash(sig) == hash(CompareMaskSignature())


class TestBusCompareMasks:
    def test_init(self):
        assert BusCompare(lanes=2, addr_width=A).csr_base == BASE
        assert BusCompare(lanes=2, addr_width=A, csr_base=0x100).csr_base == 0x100

    @pytest.mark.parametrize("csr_base, error, message", [
        ("x", TypeError, r"^CSR base must be an integer, not 'x'$"),
        (True, TypeError, r"^CSR base must be an integer, not True$"),
        (0x180, ValueError, r"^CSR base must be a multiple of 256 within the 16-bit address "
                            r"space, not 0x180$"),
        (0x10000, ValueError, r"^CSR base must be a multiple of 256 within the 16-bit "
                              r"address space, not 0x10000$"),
    ])
    def test_init_wrong_csr_base(self, csr_base, error, message):
        with pytest.raises(error, match=message):
            BusCompare(lanes=2, addr_width=A, csr_base=csr_base)

    def test_cases_by_hand(self):
        # Written out beat by beat: (lanes, masks, requests) -> what must come out.
        path, ctl = 0x1230, BASE + OFFSET["CONTROL"]
        cases = [
            # DMR, wdata bits 7:4 masked, the lanes differ there only: no divergence, lane
            # 0's data forwarded.
            (no_masks(w_data=0xF0),
             [request(wvalid=1, wdata=0x12345678), request(wvalid=1, wdata=0x12345688)],
             {"differs": 0, "w_data": 0x12345678, "w_masked": 1}),
            # ... and in bit 8, not masked: W differs, the syndrome shows bit 8 only.
            (no_masks(w_data=0xF0),
             [request(wvalid=1, wdata=0x12345678), request(wvalid=1, wdata=0x12345788)],
             {"differs": 1 << CHANNELS["W"], "bits": 0x100, "channel": CHANNELS["W"]}),
            # The whole W payload masked: valid is still compared.
            (no_masks(channels=1 << CHANNELS["W"]),
             [request(wvalid=1, wdata=5), request(wvalid=0, wdata=6)],
             {"differs": 1 << CHANNELS["W"], "bits": 0, "ctrl": 1}),
            (no_masks(channels=1 << CHANNELS["W"]),
             [request(wvalid=1, wdata=5, wstrb=1), request(wvalid=1, wdata=6, wstrb=8)],
             {"differs": 0, "w_data": 5, "w_strb": 1}),
            # bready masked; rready is not.
            (no_masks(channels=1 << CHANNELS["B"]),
             [request(bready=1), request(bready=0)], {"differs": 0}),
            (no_masks(channels=1 << CHANNELS["B"]),
             [request(rready=1), request(rready=0)],
             {"differs": 1 << CHANNELS["R"], "channel": CHANNELS["R"], "ctrl": 1}),
            # awaddr bit 12 masked: outside the window it is not compared...
            (no_masks(aw_addr=0x1000),
             [request(awvalid=1, awaddr=path), request(awvalid=1, awaddr=path | 0x1000)],
             {"differs": 0, "aw_addr": path}),
            # ... but every awaddr bit is while a lane addresses the register window: a
            # masked bit cannot take a request into it, nor choose the register.
            (no_masks(aw_addr=0xFFFF),
             [request(awvalid=1, awaddr=ctl), request(awvalid=1, awaddr=ctl & 0x0FFF)],
             {"differs": 1 << CHANNELS["AW"], "bits": 0xF000}),
            (no_masks(aw_addr=0xFFFF, aw_prot=7),
             [request(awvalid=1, awaddr=ctl, awprot=1),
              request(awvalid=1, awaddr=BASE + OFFSET["SCRATCH"], awprot=1)],
             {"differs": 1 << CHANNELS["AW"], "bits": OFFSET["CONTROL"] ^ OFFSET["SCRATCH"]}),
            (no_masks(ar_addr=0xFFFF),
             [request(arvalid=1, araddr=BASE | 4), request(arvalid=1, araddr=BASE | 8)],
             {"differs": 1 << CHANNELS["AR"], "bits": 12}),
            # TMR: a masked bit never makes a lane odd; an unmasked one does.
            (no_masks(w_data=1),
             [request(wvalid=1, wdata=2), request(wvalid=1, wdata=2),
              request(wvalid=1, wdata=3)],
             {"differs": 0, "odd": 0, "w_data": 2}),
            (no_masks(w_data=1),
             [request(wvalid=1, wdata=2), request(wvalid=1, wdata=2),
              request(wvalid=1, wdata=6)],
             {"differs": 1 << CHANNELS["W"], "odd": 0b100, "bits": 4}),
            # TMR, lane 0 the odd one on a masked bit: its value is the one forwarded.
            (no_masks(w_data=1),
             [request(wvalid=1, wdata=3), request(wvalid=1, wdata=2),
              request(wvalid=1, wdata=2)],
             {"differs": 0, "odd": 0, "w_data": 3}),
        ]
        for lanes in (2, 3):
            dut = BusCompare(lanes=lanes, addr_width=A)
            mine = [case for case in cases if len(case[1]) == lanes]
            seen = []

            async def testbench(ctx, dut=dut, mine=mine, lanes=lanes, seen=seen):
                for masks, requests, _ in mine:
                    seen.append(await settle(ctx, dut, [1] * lanes, requests, masks))

            simulate(dut, testbench, clock=False)
            for (masks, requests, want), got in zip(mine, seen, strict=True):
                assert {key: got[key] for key in want} == want, (masks, requests, got)

    @pytest.mark.parametrize("lanes", [2, 3])
    def test_random(self, lanes):
        # Random requests, near-agreeing, under random masks (often none), some of them in
        # the register window, against the closed form.
        rng = random.Random(f"masks-{lanes}")
        dut = BusCompare(lanes=lanes, addr_width=A)
        cases = []
        for _ in range(500):
            base = {name: rng.getrandbits(width) for name, width in _REQUEST.items()}
            if rng.random() < 0.3:
                base["awaddr"] = BASE | rng.getrandbits(8)
            if rng.random() < 0.3:
                base["araddr"] = BASE | rng.getrandbits(8)
            requests = [dict(base) for _ in range(lanes)]
            masks = no_masks()
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                name = rng.choice(list(_REQUEST))
                bit = rng.randrange(_REQUEST[name])
                requests[rng.randrange(lanes)][name] ^= 1 << bit
                if rng.random() < 0.5 and name in _MASK_OF:       # often, mask that bit
                    field, shift = _MASK_OF[name]
                    masks[field] |= 1 << (shift if shift is not None else bit)
            for _ in range(rng.choice([0, 0, 1, 2])):              # and unrelated ones
                name = rng.choice(list(_MASKS))
                masks[name] |= (1 << _MASKS[name]) - 1 if rng.random() < 0.2 else \
                    1 << rng.randrange(_MASKS[name])
            online = [1] * lanes if rng.random() < 0.7 else \
                [rng.getrandbits(1) for _ in range(lanes)]
            cases.append((online, requests, masks))
        seen = []

        async def testbench(ctx):
            for case in cases:
                seen.append(await settle(ctx, dut, *case))

        simulate(dut, testbench, clock=False)
        for case, got in zip(cases, seen, strict=True):
            assert got == bus_expected(*case), case
        # The cases reach what matters: masked differences hidden, unmasked ones found.
        hidden = sum(1 for (online, requests, masks), got in zip(cases, seen, strict=True)
                     if not got["differs"] and bus_expected(online, requests, no_masks())[
                         "differs"])
        assert hidden > 40 and sum(1 for got in seen if got["differs"]) > 150


# --- the registers ------------------------------------------------------------------------

async def mgmt_write(ctx, bus, offset, data):
    return await write(ctx, [bus], offset, data)


async def mgmt_read(ctx, bus, offset):
    return await read(ctx, [bus], offset)


async def unlock_write(ctx, bus, offset, data):
    """UNLOCK with the key, then one protected write; return both responses."""
    return (await mgmt_write(ctx, bus, OFFSET["UNLOCK"], UNLOCK_KEY),
            await mgmt_write(ctx, bus, offset, data))


async def lanes_write(ctx, dut, offset, data):
    """One write on the registers' lanes' port (as the bridge's window makes it); return
    its error answer."""
    for name, value in (("en", 1), ("write", 1), ("addr", offset), ("wdata", data),
                        ("wstrb", 0xF)):
        ctx.set(getattr(dut.lanes, name), value)
    error = ctx.get(dut.lanes_error)
    await ctx.tick()
    ctx.set(dut.lanes.en, 0)
    ctx.set(dut.lanes.write, 0)
    return error


MASK_VALUES = {"COMPARE_MASK": 0x7_F71F, "MASK_AWADDR": 0xDEAD_BEEF,
               "MASK_WDATA": 0x0000_00F0, "MASK_ARADDR": 0x8000_0001}


class TestMaskRegisters:
    def test_reset_and_protection(self):
        # Reset 0. From mgmt: refused without UNLOCK (and with CONTROL.LOCK set), taken
        # right after it, once; never from the lanes' port, locked or not.
        dut = ErrorRegisters(lanes=2)
        seen = {}

        async def testbench(ctx):
            bus = dut.mgmt
            seen["reset"] = {n: await mgmt_read(ctx, bus, OFFSET[n]) for n in MASK_VALUES}
            seen["no_unlock"] = [await mgmt_write(ctx, bus, OFFSET[n], 1) for n in MASK_VALUES]
            seen["locked"] = await unlock_write(ctx, bus, OFFSET["CONTROL"], 1)   # LOCK
            seen["locked_no_unlock"] = await mgmt_write(ctx, bus, OFFSET["MASK_WDATA"], 1)
            seen["after_refusals"] = {n: await mgmt_read(ctx, bus, OFFSET[n])
                                      for n in MASK_VALUES}
            seen["unlocked"] = [await unlock_write(ctx, bus, OFFSET[n], v)
                                for n, v in MASK_VALUES.items()]
            seen["set"] = {n: await mgmt_read(ctx, bus, OFFSET[n]) for n in MASK_VALUES}
            seen["once"] = await mgmt_write(ctx, bus, OFFSET["MASK_WDATA"], 0)
            seen["ports"] = {name: ctx.get(getattr(dut.masks, name)) for name in _MASKS}
            seen["lanes_locked"] = [await lanes_write(ctx, dut, OFFSET[n], 0)
                                    for n in MASK_VALUES]
            await unlock_write(ctx, bus, OFFSET["CONTROL"], 0)                    # unlock
            seen["lanes_unlocked"] = [await lanes_write(ctx, dut, OFFSET[n], 0)
                                      for n in MASK_VALUES]
            seen["final"] = {n: await mgmt_read(ctx, bus, OFFSET[n]) for n in MASK_VALUES}
            seen["rejected"] = await mgmt_read(ctx, bus, OFFSET["REJECTED"])
            seen["status"] = ERROR_REGISTERS.decode(
                "STATUS", await mgmt_read(ctx, bus, OFFSET["STATUS"]))["MASKED"]

        simulate(dut, testbench)
        zero = dict.fromkeys(MASK_VALUES, 0)
        assert seen["reset"] == zero and seen["after_refusals"] == zero
        assert seen["no_unlock"] == [SLVERR] * 4 and seen["locked"] == (OKAY, OKAY)
        assert seen["locked_no_unlock"] == SLVERR
        assert seen["unlocked"] == [(OKAY, OKAY)] * 4
        assert seen["set"] == MASK_VALUES == seen["final"]
        assert seen["once"] == SLVERR
        assert seen["ports"] == {"channels": 0x1F, "aw_prot": 7, "w_strb": 0xF, "ar_prot": 7,
                                 "aw_addr": 0xDEAD_BEEF, "w_data": 0xF0,
                                 "ar_addr": 0x8000_0001}
        assert seen["lanes_locked"] == seen["lanes_unlocked"] == [1] * 4
        assert seen["rejected"] == 4 + 1 + 1 + 8 and seen["status"] == 1

    def test_w_masked_refuses_lane_writes(self):
        # With w_masked (the W beat was taken under a W mask) every lanes' write is refused;
        # without it the same write goes through. Reads are not refused.
        dut = ErrorRegisters(lanes=2)
        seen = {}

        async def testbench(ctx):
            ctx.set(dut.w_masked, 1)
            seen["masked"] = await lanes_write(ctx, dut, OFFSET["SCRATCH"], 0x1234)
            seen["after_masked"] = await mgmt_read(ctx, dut.mgmt, OFFSET["SCRATCH"])
            ctx.set(dut.w_masked, 0)
            seen["plain"] = await lanes_write(ctx, dut, OFFSET["SCRATCH"], 0x5678)
            seen["after_plain"] = await mgmt_read(ctx, dut.mgmt, OFFSET["SCRATCH"])

        simulate(dut, testbench)
        assert seen == {"masked": 1, "after_masked": 0, "plain": 0, "after_plain": 0x5678}


# --- in the bridge ------------------------------------------------------------------------

def bridge_buses(dut):
    return [getattr(dut, f"lane{i}_bus") for i in range(dut.lanes)]


async def lane_write(ctx, dut, addr, datas, log):
    """A write whose data differs per lane (``datas``); append to ``log`` each cycle's
    ``(cycle, mismatch)`` and return ``(response, cycle the beats were first offered)``.
    The lanes hold their beats until taken, as AXI requires."""
    buses = bridge_buses(dut)
    for bus, data in zip(buses, datas, strict=True):
        for name, value in (("awaddr", addr), ("wdata", data), ("wstrb", 0xF),
                            ("awvalid", 1), ("wvalid", 1), ("bready", 1)):
            ctx.set(getattr(bus, name), value)
    start = ctx.get(dut.registers.cycle)
    aw = w = False
    for _ in range(100):
        online = ctx.get(dut.online)
        first = buses[(online & -online).bit_length() - 1]
        aw = aw or ctx.get(first.awready)
        w = w or ctx.get(first.wready)
        b, resp = ctx.get(first.bvalid), ctx.get(first.bresp)
        halted = ctx.get(dut.halted)
        await ctx.tick()
        log.append((ctx.get(dut.registers.cycle), ctx.get(dut.mismatch)))
        for bus in buses:
            ctx.set(bus.awvalid, not aw)
            ctx.set(bus.wvalid, not w)
        if b or halted:
            for bus in buses:
                for name in ("awvalid", "wvalid", "bready"):
                    ctx.set(getattr(bus, name), 0)
            return (resp if b else None), start
    raise AssertionError("no write response")


@pytest.mark.parametrize("lanes", [2, 3])
def test_bridge_masked_bits(lanes):
    # MASK_WDATA = 0xF0 from mgmt. A write whose data differs across the lanes only in bits
    # 7:4 is no divergence and reaches the path with lane 0's data; one in which the last
    # lane differs in bit 8 is detected the cycle after it was offered: DMR halts (nothing
    # on the path), TMR takes the lane out and the two others' write goes through.
    dut = VotingBridge(lanes=lanes, addr_width=A, timeout=8)
    memory, log, seen, cycles = MemoryModel(), [], {}, []
    odd = lanes - 1

    async def testbench(ctx):
        seen["unlock"] = await unlock_write(ctx, dut.mgmt, OFFSET["MASK_WDATA"], 0xF0)
        datas = [0x12345678, 0x12345688, 0x123456F8][:lanes]
        seen["masked"], _ = await lane_write(ctx, dut, 0x0100, datas, cycles)
        seen["mismatch_masked"] = any(m for _, m in cycles)
        datas = [0x1234_5678] * lanes
        datas[odd] = 0x1234_5778
        cycles.clear()
        seen["unmasked"], start = await lane_write(ctx, dut, 0x0200, datas, cycles)
        seen["mismatch_at"] = [c - start for c, m in cycles if m]
        seen["online"] = ctx.get(dut.online)
        seen["syndrome"] = ERROR_REGISTERS.decode(
            "SYNDROME", await mgmt_read(ctx, dut.mgmt, OFFSET["SYNDROME"]))
        seen["bits"] = await mgmt_read(ctx, dut.mgmt, OFFSET["SYNDROME_BITS"])
        seen["syndrome_mask"] = ERROR_REGISTERS.decode(
            "SYNDROME_MASK", await mgmt_read(ctx, dut.mgmt, OFFSET["SYNDROME_MASK"]))
        await ctx.tick().repeat(4)

    simulate(dut, testbench,
             background=[serve(dut.path0_bus, memory, log, random.Random(lanes))])
    assert seen["unlock"] == (OKAY, OKAY)
    assert seen["masked"] == OKAY and not seen["mismatch_masked"]
    assert seen["mismatch_at"] == [1]
    assert seen["syndrome"]["CHANNEL"] == "W" and seen["syndrome"]["VALID"] == 1
    assert seen["bits"] == 0x100
    assert seen["syndrome_mask"] == {"ACTIVE": 1, "CHANNEL": 1}
    if lanes == 2:
        assert seen["unmasked"] is None and seen["online"] == 0b11      # halted
        assert log == [Write(0x0100, 0x12345678, 0xF)]
    else:
        assert seen["unmasked"] == OKAY and seen["online"] == 0b011
        assert log == [Write(0x0100, 0x12345678, 0xF), Write(0x0200, 0x12345678, 0xF)]


def test_bridge_window_cannot_write_masks():
    # The lanes (an agreed write through the bridge's register window) cannot write a
    # compare mask: SLVERR, the mask unchanged, REJECTED counted. While a W bit is masked
    # they cannot write any register (their data may be one lane's); once mgmt clears the
    # mask they can again.
    dut = VotingBridge(lanes=2, addr_width=A, timeout=8)
    seen = {}

    async def testbench(ctx):
        buses = bridge_buses(dut)
        seen["to_mask"] = await write(ctx, buses, BASE + OFFSET["MASK_AWADDR"], 0xFFFF)
        seen["mask"] = await read(ctx, buses, BASE + OFFSET["MASK_AWADDR"])
        seen["scratch_ok"] = await write(ctx, buses, BASE + OFFSET["SCRATCH"], 0x11)
        await unlock_write(ctx, dut.mgmt, OFFSET["COMPARE_MASK"], 1 << 12)    # WSTRB bit 0
        seen["scratch_masked"] = await write(ctx, buses, BASE + OFFSET["SCRATCH"], 0x22)
        seen["status"] = ERROR_REGISTERS.decode(
            "STATUS", await read(ctx, buses, BASE + OFFSET["STATUS"]))["MASKED"]
        await unlock_write(ctx, dut.mgmt, OFFSET["COMPARE_MASK"], 0)
        seen["scratch_again"] = await write(ctx, buses, BASE + OFFSET["SCRATCH"], 0x33)
        seen["scratch"] = await read(ctx, buses, BASE + OFFSET["SCRATCH"])
        seen["rejected"] = await read(ctx, buses, BASE + OFFSET["REJECTED"])
        seen["mismatch"] = ctx.get(dut.mismatch) or ctx.get(dut.halted)

    simulate(dut, testbench)
    assert seen == {"to_mask": SLVERR, "mask": 0, "scratch_ok": OKAY,
                    "scratch_masked": SLVERR, "status": 1, "scratch_again": OKAY,
                    "scratch": 0x33, "rejected": 2, "mismatch": 0}


def test_bridge_masked_address_stays_out_of_window():
    # Every awaddr bit masked: lane 1 aims its write at CONTROL in the register window
    # while lane 0 writes a path address. The bridge compares the address in full then:
    # a divergence (DMR: halted), nothing reaches the path or CONTROL.
    dut = VotingBridge(lanes=2, addr_width=A, timeout=8)
    memory, log, seen = MemoryModel(), [], {}

    async def testbench(ctx):
        await unlock_write(ctx, dut.mgmt, OFFSET["MASK_AWADDR"], 0xFFFF_FFFF)
        buses = bridge_buses(dut)
        for bus, addr in zip(buses, (0x000C, BASE + OFFSET["CONTROL"]), strict=True):
            for name, value in (("awaddr", addr), ("wdata", 1), ("wstrb", 0xF),
                                ("awvalid", 1), ("wvalid", 1), ("bready", 1)):
                ctx.set(getattr(bus, name), value)
        await ctx.tick().repeat(6)
        seen["halted"] = ctx.get(dut.halted)
        seen["control"] = await mgmt_read(ctx, dut.mgmt, OFFSET["CONTROL"])

    simulate(dut, testbench,
             background=[serve(dut.path0_bus, memory, log, random.Random(3))])
    assert seen == {"halted": 1, "control": 0} and log == []


def test_exhaustive_small_masks():
    # Every 2-bit data difference under every 2-bit mask, DMR: differs exactly when a
    # differing bit is not masked.
    dut = BusCompare(lanes=2, addr_width=A)
    cases = list(itertools.product(range(4), range(4)))
    seen = []

    async def testbench(ctx):
        for diff, mask in cases:
            got = await settle(ctx, dut, [1, 1], [request(wvalid=1, wdata=0b1100),
                                                  request(wvalid=1, wdata=0b1100 ^ diff)],
                               no_masks(w_data=mask))
            seen.append(got["differs"])

    simulate(dut, testbench, clock=False)
    assert seen == [int(bool(diff & ~mask)) << CHANNELS["W"] for diff, mask in cases]
