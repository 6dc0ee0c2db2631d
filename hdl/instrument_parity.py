"""Parity on instrumented registers: an RTLIL rewrite run before
:func:`ftvoter.hdl.instrument_rtlil.rewrite` (``instrument_verilog(..., parity=)``)."""

from fnmatch import fnmatchcase

from .instrument_rtlil import (
    _Wire,
    check_cells,
    check_clock,
    format_sigspec,
    parse_modules,
    parse_sigspec,
    plan_sites,
)

__all__ = ["add_parity"]


def add_parity(text, top, patterns, memories, label):
    """Add a parity flip-flop to every register of module ``top`` whose site name matches
    one of ``patterns`` (``fnmatch``), and the output port ``ftv_parity_error``.

    Each cycle the parity flip-flop ``<register>.parity`` stores the parity of the value
    the register stores at the same edge (its D input, before any saboteur), and
    ``ftv_parity_error`` is high while a register's parity differs from its flip-flop's:
    for one cycle after an upset of one of its bits (the next edge stores the parity of
    the upset value), and for as long as a stuck-at bit differs from the value the logic
    gives it. Returns the RTLIL text with the module changed; the parity flip-flops are
    then ordinary flip-flops: sites and state, like every other.
    """
    modules = parse_modules(text)
    module = modules[top]
    dffs = check_cells(module, memories, set(modules) - {top}, label)
    check_clock(module, dffs)
    clock = dffs[0].connects["CLK"][1].strip()
    sites, order = plan_sites(module, dffs)
    chosen = [site for site in sites
              if any(fnmatchcase(site[0], pattern) for pattern in patterns)]
    for pattern in patterns:
        if not any(fnmatchcase(site[0], pattern) for site in sites):
            raise ValueError(f"Parity pattern {pattern!r} matches no register of {label}")
    if "\\ftv_parity_error" in module.wires:
        raise ValueError(f"Design {label} already has a signal named ftv_parity_error")
    d_bits = [parse_sigspec(cell.connects["D"][1], module.wires) for cell in dffs]
    q_bits = [parse_sigspec(cell.connects["Q"][1], module.wires) for cell in dffs]
    wires, cells, errors = [], [], []
    for k, (name, offset, width, _) in enumerate(chosen):
        parity = f"\\{name}.parity"
        if parity in module.wires:
            raise ValueError(f"Design {label} already has a signal named {parity[1:]}")
        module.wires[parity] = _Wire(width=1)
        source = order[offset:offset + width]
        d = format_sigspec([d_bits[n][p] for n, p in source], module.wires)
        q = format_sigspec([q_bits[n][p] for n, p in source] + [(parity, 0)], module.wires)
        wires += [f"  wire width 1 {parity}", f"  wire width 1 \\ftv$pd${k}",
                  f"  wire width 1 \\ftv$pe${k}"]
        cells += _reduce("$reduce_xor", f"$ftv$pdx${k}", d, width, f"\\ftv$pd${k}")
        cells += [f"  cell $dff $ftv$pff${k}", "    parameter \\CLK_POLARITY 1",
                  "    parameter \\WIDTH 1", f"    connect \\CLK {clock}",
                  f"    connect \\D \\ftv$pd${k}", f"    connect \\Q {parity}", "  end"]
        cells += _reduce("$reduce_xor", f"$ftv$pqx${k}", q, width + 1, f"\\ftv$pe${k}")
        errors.append(f"\\ftv$pe${k}")
    last = max((wire.port_id for wire in module.wires.values()), default=0)
    wires.append(f"  wire width 1 output {last + 1} \\ftv_parity_error")
    cells += _reduce("$reduce_or", "$ftv$perr", "{ " + " ".join(reversed(errors)) + " }",
                     len(errors), "\\ftv_parity_error")
    lines = module.lines
    start = next(number for number, line in enumerate(lines)
                 if line.split()[:2] == ["module", top])
    body = (lines[:start + 1] + wires + lines[start + 1:module.end] + cells
            + lines[module.end:])
    return "\n".join(body) + "\n"


def _reduce(kind, name, a, width, y):
    return [f"  cell {kind} {name}", "    parameter \\A_SIGNED 0",
            f"    parameter \\A_WIDTH {width}", "    parameter \\Y_WIDTH 1",
            f"    connect \\A {a}", f"    connect \\Y {y}", "  end"]
