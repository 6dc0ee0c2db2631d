"""The ``ftvoter`` subcommands, one module each.

Every module has ``add_parser(commands)``, which adds its subcommand to the argparse
subparsers object ``commands`` and returns the subcommand's parser, and ``run(args)``,
which carries it out and returns the exit status. Bad usage raises
:class:`~ftvoter.sim.commands._common.UsageError`.
"""

from . import (
    availability,
    bench,
    bench_campaign,
    bench_checkpoint,
    bench_dask,
    bench_resync,
    campaign,
    console,
    regs,
    report,
    sim,
    sites,
    summary,
    synth,
    verilog,
)

__all__ = ["COMMANDS"]

#: The command modules, in the order ``ftvoter --help`` lists them.
COMMANDS = (verilog, sim, bench, sites, campaign, bench_campaign, bench_dask, bench_resync,
            bench_checkpoint, report, availability, synth, console, summary, regs)
