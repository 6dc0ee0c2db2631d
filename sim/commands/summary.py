"""``ftvoter summary``: print the outcome table of a campaign folder."""

import sys

from ._common import UsageError, path

__all__ = ["add_parser", "run"]


def add_parser(commands):
    summary = commands.add_parser(
        "summary", help="print the outcome table of a campaign folder",
        description="Print the outcome counts and latency percentiles of the campaign "
                    "results in DIR (results.jsonl), as 'ftvoter campaign' does at its end.")
    summary.add_argument("directory", metavar="DIR", type=path, help="campaign result folder")
    summary.add_argument("--json", action="store_true", help="print the figures as JSON")
    return summary


def run(args):
    import json

    from ftvoter.analysis.stats import load_campaign

    from ..campaign import format_summary, summary
    try:
        campaign = load_campaign(args.directory)
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    problems = campaign.problems()
    if problems:
        print(f"ftvoter summary: {problems}", file=sys.stderr)
    figures = summary(campaign.records)
    figures.update(planned=campaign.planned, problems=problems,
                   stop=campaign.manifest.get("stop"))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(format_summary(figures, str(args.directory)))
    return 0
