"""The campaign bench under Verilator: a Verilog top-level around it, and its build.

The top-level instantiates the bench's module (``ftvoter_campaign``) with every port of
its signature, and either generates the 10 ns clock inside (the campaign's shards:
cocotb is woken once per injection, not per edge) or takes it as an input (the naive
testbench of :mod:`ftvoter.sim.throughput`). The ports are written from the signature
(:class:`~ftvoter.hdl.campaign.CampaignBench`'s ``seq``, ``injection``, ``done``,
``done_seq``, ``record``), from the same component the Verilog is generated from, so the
two cannot drift apart.
"""

from amaranth.hdl import Shape
from amaranth.lib.wiring import In

from .plan import design_params, make_bench

__all__ = ["BUILD_ARGS", "bench_wrapper", "build_bench"]

#: Verilator arguments of every campaign bench model (a 10 ns clock at 1 ps steps).
BUILD_ARGS = ["--timescale", "1ns/1ps", "--x-assign", "fast", "--x-initial", "fast",
              "-CFLAGS", "-O3"]

_MODULE = "ftvoter_campaign"
_TOP = "ftvoter_campaign_top"


def bench_wrapper(signature, *, clock_port=False):
    """Return ``(toplevel, Verilog, ports)``: a top-level around the bench's module.

    Its ports are the members of ``signature`` (the bench's), named and sized as the
    generated Verilog names them (a member's path joined by ``__``), in name order; the
    bench's ``rst`` is held low. The clock is generated inside (``always #5``, for a
    model built with ``--timing``), or, with ``clock_port``, is one more input ``clk``
    (the top-level is then ``ftvoter_campaign_top_clk``).
    """
    members = sorted(("__".join(str(part) for part in path), member)
                     for path, member in signature.members.flatten())
    ports = []
    for name, member in members:
        width = Shape.cast(member.shape).width
        direction = "input" if member.flow == In else "output"
        ports.append((direction, f"[{width - 1}:0] " if width > 1 else "", name))
    names = [name for _, _, name in ports]
    top, header, clock = _TOP, names, ("  reg clk = 1'b0;\n"
                                       "  always #5 clk = ~clk;\n")
    if clock_port:
        top, header, clock = f"{_TOP}_clk", ["clk", *names], "  input wire clk;\n"
    declarations = "".join(f"  {direction} wire {width}{name};\n"
                           for direction, width, name in ports)
    connections = ",\n".join(f"    .{name}({name})" for name in names)
    text = ("`timescale 1ns/1ps\n"
            f"module {top}({', '.join(header)});\n{declarations}{clock}"
            f"  {_MODULE} bench (\n    .clk(clk),\n    .rst(1'b0),\n{connections}\n"
            "  );\nendmodule\n")
    return top, text, header


def build_bench(spec):
    """Build (or reuse) the Verilator model of a spec's campaign bench, clock inside."""
    from .toolchain import build_simulator
    signature = make_bench(spec).signature
    return build_simulator("campaign", design_params(spec),
                           wrapper=lambda source: bench_wrapper(signature),
                           build_args=["--timing", *BUILD_ARGS])
