"""A campaign's plan: the bench's layout and the injections drawn from the spec and its seed.

The plan depends only on the spec (its design, faults and seed), never on the number of
workers or on what ran before, so a resumed campaign finds the same injections by ``id``.
Each injection is one dict (:func:`plan`, or :func:`explicit` for hand-written ones),
turned into the bench's packed ``injection`` fields by :func:`bench_injections`.
"""

import random
import re
import warnings

from ftvoter.hdl.encodings import FAULT_MODELS, LANE_FAULTS

from .spec import MAX_CYCLE, MAX_DURATION, STOP_LIMIT, SpecError, sample_size

__all__ = ["MAX_INJECTIONS", "design_params", "make_bench", "inspect_bench", "plan",
           "explicit", "bench_injections"]

_MODELS = FAULT_MODELS

#: The most injections one campaign plans (a planned injection costs about 1 kB in
#: memory and in the manifest's process); split a larger study into several campaigns.
MAX_INJECTIONS = 1_000_000


def design_params(spec):
    """Return the ``campaign`` design parameters for a spec."""
    params = {"lane": spec.design["lane"], "lanes": spec.design["lanes"],
              "offset": spec.design["offset"], "policy": spec.design["policy"],
              "seed": spec.workload["seed"], "faults": list(spec.faults["sites"])}
    if spec.design.get("parity"):
        params["parity"] = True
    if spec.design.get("rollback"):
        params["rollback"] = True
    for key in ("live_resync", "self_check"):
        if spec.design.get(key):
            params[key] = True
    if spec.bench.get("copies", 1) > 1:
        params["copies"] = spec.bench["copies"]
    if spec.workload.get("program") is not None:
        # A CPU lane: a 32-bit bus, the program in each lane's RAM.
        params.update(addr_width=32, program=spec.workload["program"])
    return params


def make_bench(spec):
    """Return a new :class:`~ftvoter.hdl.campaign.CampaignBench` of a spec's design, to be
    asked for its sites and ports (it is never elaborated); :class:`SpecError` if the
    spec's design or site patterns cannot be built."""
    from amaranth.hdl import UnusedElaboratable

    from .designs import build
    from .programs import ProgramError
    # The bench is only asked for its sites and ports, never elaborated.
    warnings.filterwarnings("ignore", category=UnusedElaboratable)
    try:
        return build("campaign", design_params(spec))
    except ProgramError as error:
        raise SpecError(f"{spec.source}: workload.program: {error}") from None
    except (TypeError, ValueError) as error:
        key = "faults.sites" if str(error).startswith("Faults must") else "design"
        raise SpecError(f"{spec.source}: {key}: {error}") from None


def inspect_bench(spec):
    """Return a spec's bench layout: ``sites`` (dicts: ``index``, ``name``, ...), the
    ``injection_fields`` and ``record_fields`` of its packed ports, and ``ckpt_fields``
    (of its checkpoint slot's ``ckpt_ctl``; None without a slot)."""
    bench = make_bench(spec)
    members = bench.signature.members
    control = members["ckpt_ctl"] if "ckpt_ctl" in members else None
    return {"sites": [{"index": index, **site.as_dict()}
                      for index, site in enumerate(bench.sites)],
            "injection_fields": bench.injection_fields, "record_fields": bench.record_fields,
            "ckpt_fields": control and [(name, f.offset, f.width) for name, f in
                                        control.shape]}


def plan(spec, sites):
    """Return the injections of a campaign: a list of dicts, ``id`` 0 to N-1.

    Every bit of every site (for a common-cause campaign, lane 0's sites, applied to every
    lane) with every fault model makes the population, with start cycles drawn uniformly
    from ``faults.start``. ``count`` draws that many without replacement; ``exhaustive``
    takes every bit and model once; ``margin`` and ``confidence`` give the count by
    :func:`~ftvoter.sim.spec.sample_size` over bits x models x start cycles (with ``stop =
    "interval"``, :data:`~ftvoter.sim.spec.STOP_LIMIT` times that, or ``count``: the most
    the rounds of :mod:`ftvoter.sim.stopping` may run). The order of a sample is random, so
    its first injections by ``id`` are a random sample too.
    """
    faults = spec.faults
    common = faults["common"]
    if faults["models"][0] in LANE_FAULTS:
        # Lane faults hit a lane as a whole: the lanes are the sites (faults.sites aside).
        sites = [{"index": 0, "name": f"lane{i}", "register": "lane", "lane": i, "width": 1}
                 for i in range(spec.design["lanes"])]
    if not sites:
        raise SpecError(f"{spec.source}: faults.sites: no site matches "
                        f"{', '.join(faults['sites'])}")
    if common:
        sites = [site for site in sites if site["lane"] == 0]
        if not sites:
            raise SpecError(f"{spec.source}: faults.sites: common-cause faults (faults."
                            f"common) hit a lane site in every lane, but "
                            f"{', '.join(faults['sites'])} matches only bridge sites")
    bits = [(site, bit) for site in sites for bit in range(site["width"])]
    models = faults["models"]
    low, high = faults["start"]["min"], faults["start"]["max"]
    span = high - low + 1
    rng = random.Random(spec.seed)
    if faults["count"] == "exhaustive":
        if len(bits) * len(models) > MAX_INJECTIONS:
            raise SpecError(f"{spec.source}: faults.count: exhaustive is "
                            f"{len(bits) * len(models)} injections, more than one campaign "
                            f"plans ({MAX_INJECTIONS}); split it into several")
        choices = [(b, m, None) for b in range(len(bits)) for m in range(len(models))]
    else:
        population = len(bits) * len(models) * span
        if faults["count"] is not None:
            count = faults["count"]
            if count > population:
                raise SpecError(f"{spec.source}: faults.count: {count} is more than the "
                                f"{population} distinct injections (site bits x models x "
                                f"start cycles); ask for at most {population}")
        else:
            count = sample_size(population, margin=faults["margin"],
                                confidence=faults["confidence"])
            if faults.get("stop") == "interval":
                count = min(population, STOP_LIMIT * count, MAX_INJECTIONS)
        if count > MAX_INJECTIONS:
            raise SpecError(f"{spec.source}: faults.count: {count} injections is more than "
                            f"one campaign plans ({MAX_INJECTIONS}); split it into several")
        choices = []
        for index in rng.sample(range(population), count):
            index, start = divmod(index, span)
            b, m = divmod(index, len(models))
            choices.append((b, m, low + start))
    injections = []
    for number, (b, m, start) in enumerate(choices):
        site, bit = bits[b]
        if start is None:
            start = rng.randint(low, high)
        injections.append(_injection(number, site, bit, faults["bits"], models[m], start,
                                     faults["duration"], common,
                                     name=site["name"] if models[m] in LANE_FAULTS else None))
    return injections


def _injection(number, site, bit, width, model, start, duration, common, name=None):
    """One planned injection: ``width`` adjacent bits of ``site`` from ``bit`` up."""
    top = min(bit + width, site["width"]) - 1
    if name is None:
        name = site["name"] if not common else "lane*." + site["register"]
        name = f"{name}[{bit}]" if top == bit else f"{name}[{top}:{bit}]"
    return {
        "id": number, "site": name, "site_index": site["index"],
        "register": site["register"], "lane": site["lane"], "bit": bit,
        "mask": ((1 << (top - bit + 1)) - 1) << bit, "model": model, "start": start,
        "duration": 1 if model == "flip" else duration, "common": common,
    }


def explicit(spec, sites, wanted):
    """Turn hand-written injections into planned ones (see
    :func:`~ftvoter.sim.campaign.run_campaign`); :class:`SpecError` for a bad one."""
    by_name = {site["name"]: site for site in sites}
    window = spec.observation["window"]
    injections = []
    for number, item in enumerate(wanted):
        match = re.fullmatch(r"(.+)\[(\d+)\]", item["site"])
        if not match or match[1] not in by_name:
            raise SpecError(f"injection {number}: site: no site {item['site']!r}")
        site, bit = by_name[match[1]], int(match[2])
        width = item.get("bits", 1)
        if not 0 <= bit < site["width"] or width < 1:
            raise SpecError(f"injection {number}: site: no bit {item['site']!r}")
        if item["model"] not in _MODELS:
            raise SpecError(f"injection {number}: model: {item['model']!r}")
        start, duration = item["start"], item.get("duration", spec.faults["duration"])
        if not 0 <= start <= MAX_CYCLE - window:
            raise SpecError(f"injection {number}: start: must be from 0 to "
                            f"{MAX_CYCLE - window} (start + window must fit the bench's "
                            f"32-bit cycle counter), not {start}")
        if not 0 <= duration <= MAX_DURATION:
            raise SpecError(f"injection {number}: duration: must be from 0 to "
                            f"{MAX_DURATION} (the injector's 32-bit field), not {duration}")
        injections.append(_injection(number, site, bit, width, item["model"], start,
                                     duration, bool(item.get("common", False)),
                                     name=item["site"]))
    return injections


def bench_injections(injections):
    """The planned injections as the bench's ``injection`` fields (with their ``id``).

    A lane fault arms the injector with an empty mask (a stuck-at that changes nothing,
    lasting as long as the lane is out) and sets ``lane_op`` and ``lane_index``."""
    fields = []
    for i in injections:
        if i["model"] in LANE_FAULTS:
            fields.append({"id": i["id"], "arm": 1, "site": 0, "mask": 0,
                           "model": _MODELS["stuck0"], "start": i["start"],
                           "duration": i["duration"], "common": 0,
                           "lane_op": LANE_FAULTS[i["model"]], "lane_index": i["lane"]})
        else:
            fields.append({"id": i["id"], "arm": 1, "site": i["site_index"], "mask": i["mask"],
                           "model": _MODELS[i["model"]], "start": i["start"],
                           "duration": i["duration"], "common": int(i["common"])})
    return fields
