"""``ftvoter sites``: list the fault sites of a lockstep design as JSON."""

from ._common import UsageError, add_lockstep_options, emit, lockstep_params, path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    sites = commands.add_parser(
        "sites", help="list the fault sites of a lockstep design as JSON",
        description="List the fault sites (lane registers with saboteurs) as JSON: per site "
                    "its index (the value of fault__site), name (lane1.regfile.r3), lane, "
                    "register and width; bits are named lane1.regfile.r3[7]. The design "
                    "comes from a campaign SPEC (its [design] and faults.sites) or from the "
                    "options.")
    sites.add_argument("spec", nargs="?", metavar="SPEC", type=path,
                       help="campaign spec (TOML); overrides the design options")
    add_lockstep_options(sites)
    sites.add_argument("-o", "--output", metavar="FILE", type=path, default="-",
                       help="where to write ('-': standard output, the default)")
    return sites


def run(args):
    import json

    from ..designs import DESIGNS, build
    from ..programs import ProgramError
    params = lockstep_params(args)
    params["faults"] = params["faults"] or ["*"]
    if args.spec is not None:
        from ..spec import SpecError, load_spec
        try:
            spec = load_spec(args.spec)
        except SpecError as error:
            raise UsageError(str(error)) from None
        # The lanes of the campaign's own design (its bus and I/O window), not the options'.
        from ..plan import design_params
        params = {**DESIGNS["campaign"].defaults, **design_params(spec)}
        del params["copies"]        # the bench's, not the lockstep's
    params["ram"] = 0
    try:
        lockstep = build("lockstep", params)
    except ProgramError as error:
        where = f"{args.spec}: workload.program: " if args.spec is not None else ""
        raise UsageError(f"{where}{error}") from None
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    sites = [{"index": index, **site.as_dict()}
             for index, site in enumerate(lockstep.injector.sites)]
    text = json.dumps({"sites": sites, "bits": sum(site["width"] for site in sites)},
                      indent=2) + "\n"
    return emit(text, args.output)
