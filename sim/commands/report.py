"""``ftvoter report``: write a campaign's report (DIR/index.html, DIR/summary.json)."""

from ._common import UsageError, availability_parameters, path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    report = commands.add_parser(
        "report", help="write a campaign's report: DIR/index.html and DIR/summary.json",
        description="Write the report of the campaign results in DIR: a self-contained "
                    "page DIR/index.html (settings, outcome table with 95% intervals, "
                    "coverage and ISO 26262-style metrics, latency percentiles, plots, and "
                    "the availability of four architectures with the campaign's measured "
                    "shares), the plots as PNG files, and DIR/summary.json with every "
                    "figure on the page.")
    report.add_argument("directory", metavar="DIR", type=path, help="campaign result folder")
    report.add_argument("--config", metavar="FILE", type=path,
                        help="availability parameters (TOML, keys as 'ftvoter availability "
                             "--help' lists); the campaign's measured masked share, "
                             "coverage and isolation override them")
    return report


def run(args):
    from ftvoter.analysis.report import write_report
    parameters = availability_parameters(args)
    try:
        page = write_report(args.directory, parameters)
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    print(f"ftvoter report: {page}")
    return 0
