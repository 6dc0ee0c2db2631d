"""``ftvoter availability``: availability, downtime and silent corruption per architecture."""

from pathlib import Path

from ftvoter.analysis.files import write_atomic

from ._common import UsageError, availability_parameters, path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    availability = commands.add_parser(
        "availability", help="print availability, downtime and silent corruption",
        description="Solve the availability models (continuous-time Markov chains, "
                    "docs/availability.md) of simplex, ha_cluster, dmr_lockstep and tmr "
                    "and print availability, nines, downtime in minutes per year and "
                    "silent data corruption in FIT. Parameters (TOML keys for --config): "
                    "permanent_fit, transient_fit (fault rates per lane or node, FIT), "
                    "masked, coverage, isolation, isolation_tmr, recovery, silent (shares "
                    "from 0 to 1), mttr, reboot, restart, resync, failover (hours; restart: "
                    "the down time of inserting a lane: the lanes' work starting again "
                    "after a reset-everything insert, or a live resync's stop).")
    availability.add_argument("--config", metavar="FILE", type=path, help="parameters (TOML)")
    availability.add_argument("--campaign", metavar="DIR", type=path,
                              help="take masked, coverage, isolation and recovery from the "
                                   "campaign results in DIR")
    availability.add_argument("--json", action="store_true",
                              help="print JSON: per architecture its availability, nines, "
                                   "downtime and the parameters used")
    availability.add_argument("--prism", metavar="DIR", type=path,
                              help="also write each model as DIR/<architecture>.prism (a "
                                   "PRISM CTMC with the label \"up\")")
    return availability


def run(args):
    import json
    from dataclasses import replace

    from ftvoter.analysis import availability as av
    parameters = availability_parameters(args)
    if args.campaign:
        from ftvoter.analysis.stats import campaign_parameters, load
        try:
            _, records = load(args.campaign)
            parameters = replace(parameters, **campaign_parameters(records))
        except (FileNotFoundError, ValueError) as error:
            raise UsageError(str(error)) from None
    results = [av.evaluate(name, parameters) for name in av.ARCHITECTURES]
    if args.prism:
        folder = Path(args.prism)
        for name in av.ARCHITECTURES:
            write_atomic(folder / f"{name}.prism", av.to_prism(av.build(name, parameters)))
    if args.json:
        print(json.dumps({r["architecture"]: {k: v for k, v in r.items()
                                              if k != "architecture"} for r in results},
                         indent=2))
        return 0
    print(f"  {'architecture':<14} {'availability':>14} {'nines':>6} "
          f"{'downtime min/yr':>16} {'silent corruption FIT':>22}")
    for r in results:
        print(f"  {r['architecture']:<14} {100 * r['availability']:>13.6f}% "
              f"{r['nines']:>6.2f} {r['downtime_minutes_per_year']:>16.3g} "
              f"{r['sdc_fit']:>22.3g}")
    print("  parameters: " + ", ".join(f"{k}={v:.6g}" for k, v in
                                        parameters.as_dict().items()))
    return 0
