"""Availability models: closed forms, hand-solved chains, Storm on the exported PRISM
models, monotonicity."""

import math

import numpy as np
import pytest

from ftvoter.analysis.availability import (
    ARCHITECTURES,
    FIT,
    Parameters,
    build,
    evaluate,
    load_parameters,
    solve,
    to_prism,
)

CASES = [
    Parameters(),
    Parameters(permanent_fit=5000, transient_fit=50000, coverage=0.9, isolation=0.3,
               mttr=24, reboot=0.5),
    Parameters(permanent_fit=100, transient_fit=0, masked=0.0, coverage=1.0, isolation=1.0,
               failover=0.0),
]


def availability(architecture, parameters):
    return evaluate(architecture, parameters)["availability"]


class TestParameters:
    def test_wrong(self):
        with pytest.raises(ValueError, match=r"^Parameter coverage must be a share from 0 to "
                                             r"1, not 1\.5$"):
            Parameters(coverage=1.5)
        with pytest.raises(ValueError, match=r"^Parameter mttr must be a finite non-negative "
                                             r"number, not -1$"):
            Parameters(mttr=-1)
        with pytest.raises(ValueError, match=r"^Parameter reboot must be positive, not 0$"):
            Parameters(reboot=0)
        with pytest.raises(ValueError, match=r"^Parameter restart must be positive, not 0$"):
            Parameters(restart=0)
        with pytest.raises(ValueError, match=r"^Parameter restart must be a finite "
                                             r"non-negative number, not -0\.5$"):
            Parameters(restart=-0.5)

    def test_restart_default(self):
        # As long as a reboot: today's insert restarts the lanes' work.
        assert Parameters().restart == Parameters().reboot == 0.1

    def test_load(self, tmp_path):
        path = tmp_path / "p.toml"
        path.write_text("mttr = 8.0\ncoverage = 0.95\n")
        assert load_parameters(path) == Parameters(mttr=8.0, coverage=0.95)
        path.write_text("mtbf = 8.0\n")
        with pytest.raises(ValueError, match=r"p\.toml: mtbf: unknown parameter"):
            load_parameters(path)


class TestClosedForms:
    @pytest.mark.parametrize("parameters", CASES)
    def test_simplex(self, parameters):
        lp = parameters.permanent_fit * FIT * (1 - parameters.masked)
        lt = parameters.transient_fit * FIT * (1 - parameters.masked)
        expected = 1 / (1 + lp * parameters.mttr + lt * parameters.reboot)
        assert availability("simplex", parameters) == pytest.approx(expected, rel=1e-12)

    def test_simplex_mu_over_lambda_plus_mu(self):
        p = Parameters(permanent_fit=2e5, transient_fit=0, masked=0, mttr=10)
        lam, mu = 2e5 * FIT, 1 / 10
        assert availability("simplex", p) == pytest.approx(mu / (lam + mu), rel=1e-12)

    def test_ha_cluster_birth_death(self):
        # With instant failover and every failure detected: a birth-death chain.
        p = Parameters(permanent_fit=3e4, transient_fit=0, masked=0, coverage=1.0,
                       failover=0.0, mttr=8)
        lam, r = 3e4 * FIT, 1 / 8
        expected = (1 + 2 * lam / r) / (1 + 2 * lam / r + (lam / r) ** 2)
        assert availability("ha_cluster", p) == pytest.approx(expected, rel=1e-12)

    def test_dmr_transient_only(self):
        # docs/availability.md's closed form (pi_dual = 1): the insert passes through
        # the restart state, in which the system is down.
        p = Parameters(permanent_fit=0, transient_fit=2e5, masked=0.25, coverage=1.0,
                       isolation=1.0, resync=0.02, reboot=0.2, restart=0.05)
        lt = 2e5 * FIT * 0.75
        single = 2 * lt / (1 / p.resync + lt)
        reboot = single * lt * p.reboot
        restart = single * p.restart / p.resync
        expected = (1 + single) / (1 + single + reboot + restart)
        assert availability("dmr_lockstep", p) == pytest.approx(expected, rel=1e-12)
        model = build("dmr_lockstep", p)
        pi = dict(zip(model.states, solve(model), strict=True))
        assert pi["restart"] / pi["dual"] == pytest.approx(restart, rel=1e-9)

    def test_dmr_rollback_share(self):
        # Closed form with a share r rolled back (no transition), q isolated and the rest
        # halted (reboot): pi_single = 2 lt c q / (1/resync + lt), pi_reboot / pi_dual =
        # (2 lt (1 - c (q + r)) + pi_single lt) * reboot.
        p = Parameters(permanent_fit=0, transient_fit=2e5, masked=0.25, coverage=1.0,
                       isolation=0.25, recovery=0.7, resync=0.02, reboot=0.2, restart=0.05)
        lt = 2e5 * FIT * 0.75
        single = 2 * lt * 0.25 / (1 / p.resync + lt)
        reboot = (2 * lt * 0.05 + single * lt) * p.reboot
        restart = single * p.restart / p.resync
        expected = (1 + single) / (1 + single + reboot + restart)
        assert availability("dmr_lockstep", p) == pytest.approx(expected, rel=1e-12)
        # Everything rolled back: the faults never take the system down.
        assert availability("dmr_lockstep", Parameters(
            permanent_fit=0, coverage=1.0, isolation=0.0, recovery=1.0)) == 1.0

    def test_isolation_and_recovery_share_the_detected(self):
        with pytest.raises(ValueError, match=r"^Parameters isolation and recovery are shares "
                                             r"of the same detected faults"):
            Parameters(isolation=0.6, recovery=0.5)

    def test_tmr_transient_only(self):
        # docs/availability.md's closed form (pi_triple = 1), every detection outvoting
        # the odd lane: triple -> dual_t -> (restart | single -> (restart | reboot)).
        p = Parameters(permanent_fit=0, transient_fit=3e5, masked=0.5, coverage=1.0,
                       isolation=1.0, isolation_tmr=1.0, resync=0.03, reboot=0.2,
                       restart=0.07, mttr=6)
        lt = 3e5 * FIT * 0.5
        dual = 3 * lt / (1 / p.resync + 2 * lt)
        single = dual * 2 * lt / (1 / p.mttr + lt)
        reboot = single * lt * p.reboot
        restart = (dual / p.resync + single / p.mttr) * p.restart
        expected = (1 + dual + single) / (1 + dual + single + reboot + restart)
        assert availability("tmr", p) == pytest.approx(expected, rel=1e-12)
        model = build("tmr", p)
        pi = dict(zip(model.states, solve(model), strict=True))
        assert pi["dual_t"] / pi["triple"] == pytest.approx(dual, rel=1e-9)
        assert pi["restart"] / pi["triple"] == pytest.approx(restart, rel=1e-9)

    def test_tmr_degraded_to_two_lanes_rolls_back(self):
        # TMR outvotes (q3 = 1); with a lane out, the two left are DMR: a share r of the
        # detected faults is rolled back (no transition), q isolated, the rest halted.
        p = Parameters(permanent_fit=0, transient_fit=3e5, masked=0.5, coverage=1.0,
                       isolation=0.2, isolation_tmr=1.0, recovery=0.75, resync=0.03,
                       reboot=0.2, restart=0.07, mttr=6)
        lt = 3e5 * FIT * 0.5
        dual = 3 * lt / (1 / p.resync + 2 * lt * (1 - 0.75))
        single = dual * 2 * lt * 0.2 / (1 / p.mttr + lt)
        reboot = (dual * 2 * lt * 0.05 + single * lt) * p.reboot
        restart = (dual / p.resync + single / p.mttr) * p.restart
        expected = (1 + dual + single) / (1 + dual + single + reboot + restart)
        assert availability("tmr", p) == pytest.approx(expected, rel=1e-12)

    def test_perfect_lockstep_has_no_silent_corruption_while_checked(self):
        result = evaluate("dmr_lockstep", Parameters(coverage=1.0, silent=0.0))
        assert result["sdc_fit"] == 0.0
        # Simplex: a tenth of its 6600 FIT of effective faults, while it is up.
        simplex = evaluate("simplex", Parameters(silent=0.1))
        assert simplex["sdc_fit"] == pytest.approx(0.1 * 11000 * 0.6 * simplex["availability"],
                                                   rel=1e-12)

    @pytest.mark.parametrize("architecture", ARCHITECTURES)
    def test_generator(self, architecture):
        model = build(architecture)
        q = model.generator()
        assert np.allclose(q.sum(axis=1), 0)
        pi = solve(model)
        assert pi.sum() == pytest.approx(1) and (pi >= 0).all()
        assert np.allclose(pi @ q, 0, atol=1e-15)


def _rates(p):
    """Effective permanent and transient fault rates of one lane, per hour."""
    return (p.permanent_fit * 1e-9 * (1 - p.masked), p.transient_fit * 1e-9 * (1 - p.masked))


def dmr_table(p):
    """docs/availability.md's dmr_lockstep table, written out again by hand: up states,
    transitions ``(from, to, rate)``, SDC rates. Independent of the model-building code."""
    lp, lt = _rates(p)
    c, q = p.coverage, p.isolation
    transitions = [
        ("dual", "single_t", 2 * lt * c * q), ("dual", "single_p", 2 * lp * c * q),
        ("dual", "reboot", 2 * lt * (1 - c * q)), ("dual", "repair", 2 * lp * (1 - c * q)),
        ("single_t", "restart", 1 / p.resync), ("single_t", "reboot", lt),
        ("single_t", "repair", lp),
        ("single_p", "restart", 1 / p.mttr), ("single_p", "reboot_p", lt),
        ("single_p", "repair", lp),
        ("reboot", "dual", 1 / p.reboot),
        ("reboot_p", "single_p", 1 / p.reboot),
        ("repair", "dual", 1 / p.mttr),
        ("restart", "dual", 1 / p.restart),
    ]
    unchecked = p.silent * (lp + lt)
    return ({"dual", "single_t", "single_p"}, transitions,
            {"dual": 2 * (lp + lt) * (1 - c), "single_t": unchecked, "single_p": unchecked})


def tmr_table(p):
    """docs/availability.md's tmr table, written out again by hand (see dmr_table)."""
    lp, lt = _rates(p)
    c, q3, q = p.coverage, p.isolation_tmr, p.isolation
    transitions = [
        ("triple", "dual_t", 3 * lt * c * q3), ("triple", "dual_p", 3 * lp * c * q3),
        ("triple", "reboot", 3 * lt * (1 - c * q3)), ("triple", "repair", 3 * lp * (1 - c * q3)),
        ("dual_t", "restart", 1 / p.resync), ("dual_p", "restart", 1 / p.mttr),
        ("single", "restart", 1 / p.mttr), ("single", "reboot", lt), ("single", "repair", lp),
        ("reboot", "triple", 1 / p.reboot),
        ("repair", "triple", 1 / p.mttr),
        ("restart", "triple", 1 / p.restart),
    ]
    for dual in ("dual_t", "dual_p"):       # "and as dual_t"
        transitions += [(dual, "single", 2 * (lt + lp) * c * q),
                        (dual, "reboot", 2 * lt * (1 - c * q)),
                        (dual, "repair", 2 * lp * (1 - c * q))]
    checked = 2 * (lp + lt) * (1 - c)
    return ({"triple", "dual_t", "dual_p", "single"}, transitions,
            {"triple": 3 * (lp + lt) * (1 - c), "dual_t": checked, "dual_p": checked,
             "single": p.silent * (lp + lt)})


def hand_solve(transitions, initial):
    """Steady state of a CTMC from its transition list, by state name, with the
    Grassmann-Taksar-Heyman elimination (no subtractions, so every probability to full
    relative precision, however small). States not reachable from ``initial`` get 0."""
    reached, frontier = {initial}, [initial]
    while frontier:
        state = frontier.pop()
        for a, b, rate in transitions:
            if a == state and rate > 0 and b not in reached:
                reached.add(b)
                frontier.append(b)
    states = [initial] + sorted(reached - {initial})
    index = {state: i for i, state in enumerate(states)}
    rates = np.zeros((len(states), len(states)))
    for a, b, rate in transitions:
        if a in reached and rate > 0:
            rates[index[a], index[b]] += rate
    for n in range(len(states) - 1, 0, -1):
        rates[:n, n] /= rates[n, :n].sum()
        rates[:n, :n] += np.outer(rates[:n, n], rates[n, :n])
    pi = np.zeros(len(states))
    pi[0] = 1.0
    for n in range(1, len(states)):
        pi[n] = pi[:n] @ rates[:n, n]
    pi /= pi.sum()
    everything = {s for a, b, _ in transitions for s in (a, b)}
    return {state: float(pi[index[state]]) if state in index else 0.0
            for state in everything}


HAND_CASES = CASES + [
    # Fault rates high enough to fill every state, every time distinct.
    Parameters(permanent_fit=2e7, transient_fit=9e7, masked=0.3, coverage=0.8,
               isolation=0.7, isolation_tmr=0.9, silent=0.2, mttr=5, reboot=0.3,
               restart=0.15, resync=0.05),
    Parameters(permanent_fit=3e6, transient_fit=4e7, masked=0.1, coverage=0.95,
               isolation=0.5, isolation_tmr=0.97, mttr=30, reboot=0.05, restart=2.0,
               resync=0.5),
]


class TestHandSolved:
    """The lockstep models against their tables in docs/availability.md, transcribed
    and solved here: Storm solves the same transitions as numpy, so only this catches a
    transition changed in the model-building code (e.g. dual_t leaving at 1/mttr instead
    of 1/resync)."""

    @pytest.mark.parametrize("parameters", HAND_CASES)
    @pytest.mark.parametrize("architecture, table", [("dmr_lockstep", dmr_table),
                                                     ("tmr", tmr_table)])
    def test_steady_state(self, architecture, table, parameters):
        up, transitions, sdc = table(parameters)
        expected = hand_solve(transitions, transitions[0][0])
        model = build(architecture, parameters)
        pi = dict(zip(model.states, solve(model), strict=True))
        assert set(expected) == set(pi)
        # numpy's direct solution is good to ~1e-15 absolute (probabilities sum to 1):
        # the states the fault rates fill agree to far better than 1e-6 relative.
        for state in pi:
            assert pi[state] == pytest.approx(expected[state], rel=1e-6, abs=1e-14), state
        unavailability = sum(p for state, p in expected.items() if state not in up)
        result = evaluate(architecture, parameters)
        assert result["unavailability"] == pytest.approx(unavailability, rel=1e-6)
        assert result["sdc_fit"] == pytest.approx(
            sum(expected.get(state, 0) * rate for state, rate in sdc.items()) / FIT,
            rel=1e-6, abs=1e-9)
        assert {model.states[i] for i in model.up} == up

    @pytest.mark.parametrize("architecture, table", [("dmr_lockstep", dmr_table),
                                                     ("tmr", tmr_table)])
    def test_transitions(self, architecture, table):
        # Every transition and its rate, as the table has them (none more, none less).
        parameters = HAND_CASES[-2]
        _, transitions, _ = table(parameters)
        expected = {}
        for a, b, rate in transitions:
            expected[a, b] = expected.get((a, b), 0) + rate
        model = build(architecture, parameters)
        got = {}
        for a, b, rate in model.transitions:
            key = (model.states[a], model.states[b])
            got[key] = got.get(key, 0) + rate
        assert got.keys() == expected.keys()
        for key, rate in expected.items():
            assert got[key] == pytest.approx(rate, rel=1e-12), key

    def test_restart_is_a_down_state(self):
        # The insert's restart: down, entered from every degraded state, left only to
        # full strength.
        for architecture, full, degraded in (("dmr_lockstep", "dual", {"single_t",
                                                                        "single_p"}),
                                             ("tmr", "triple", {"dual_t", "dual_p",
                                                                "single"})):
            model = build(architecture, HAND_CASES[-2])
            index = model.states.index("restart")
            assert index not in model.up
            into = {model.states[a] for a, b, _ in model.transitions if b == index}
            out = {model.states[b] for a, b, _ in model.transitions if a == index}
            assert (into, out) == (degraded, {full})
            assert not any(model.states[b] == full and model.states[a] in degraded
                           for a, b, _ in model.transitions)


class TestMonotonic:
    @pytest.mark.parametrize("architecture", ["ha_cluster", "dmr_lockstep", "tmr"])
    def test_rises_with_coverage(self, architecture):
        values = [availability(architecture, Parameters(coverage=c))
                  for c in np.linspace(0, 1, 21)]
        assert all(b > a for a, b in zip(values, values[1:], strict=False))

    @pytest.mark.parametrize("architecture", ARCHITECTURES)
    def test_falls_with_mttr(self, architecture):
        values = [availability(architecture, Parameters(mttr=h))
                  for h in (0.5, 1, 2, 4, 8, 24, 72)]
        assert all(b < a for a, b in zip(values, values[1:], strict=False))

    def test_redundancy_helps_when_isolation_is_good(self):
        p = Parameters(isolation=0.99)
        assert availability("dmr_lockstep", p) > availability("simplex", p)
        # With a short restart after an insert (live resync approached), TMR leads.
        short = Parameters(isolation=0.99, restart=1 / 3600)
        assert availability("tmr", short) > availability("dmr_lockstep", short)

    @pytest.mark.parametrize("architecture", ["dmr_lockstep", "tmr"])
    def test_falls_with_restart(self, architecture):
        values = [availability(architecture, Parameters(restart=h))
                  for h in (1e-4, 1e-3, 1e-2, 0.1, 1)]
        assert all(b < a for a, b in zip(values, values[1:], strict=False))

    def test_insert_restart_costs_tmr_its_lead(self):
        # docs/availability.md: today's insert restarts the lanes' work; as long as a
        # reboot, it costs TMR (1.5 times DMR's faults) its lead over a DMR that isolates
        # well, and DMR at the default isolation falls just below simplex.
        p = Parameters(isolation=0.99)
        assert availability("tmr", p) < availability("dmr_lockstep", p)
        assert evaluate("dmr_lockstep")["nines"] == pytest.approx(5.49, abs=0.005)
        assert evaluate("simplex")["nines"] == pytest.approx(5.52, abs=0.005)
        assert evaluate("tmr")["nines"] == pytest.approx(5.69, abs=0.005)
        assert evaluate("dmr_lockstep", p)["nines"] == pytest.approx(5.85, abs=0.005)
        assert evaluate("tmr", p)["nines"] == pytest.approx(5.69, abs=0.005)
        short = Parameters(isolation=0.99, restart=0.1 / 60)
        assert evaluate("tmr", short)["nines"] == pytest.approx(6.88, abs=0.005)
        assert evaluate("dmr_lockstep", short)["nines"] == pytest.approx(6.85, abs=0.005)

    def test_nines_and_downtime(self):
        result = evaluate("simplex", Parameters(permanent_fit=1e6 / 4, transient_fit=0,
                                                masked=0, mttr=4))
        # lambda = 2.5e-4 per hour, mttr 4 h: unavailability 1e-3 / (1 + 1e-3).
        assert result["nines"] == pytest.approx(-math.log10(1e-3 / 1.001))
        assert result["downtime_minutes_per_year"] == pytest.approx(
            525960 * 1e-3 / 1.001)


class TestStorm:
    """The PRISM models, solved by Storm, agree with numpy."""

    @pytest.mark.parametrize("parameters", CASES)
    @pytest.mark.parametrize("architecture", ARCHITECTURES)
    def test_prism_steady_state(self, tmp_path, architecture, parameters):
        stormpy = pytest.importorskip("stormpy")
        model = build(architecture, parameters)
        path = tmp_path / f"{architecture}.prism"
        path.write_text(to_prism(model))
        program = stormpy.parse_prism_program(str(path), prism_compatibility=True)
        # Availability, and the time in each state from the state's own label (the
        # lockstep models' restart after an insert among them).
        formulas = ['S=? ["up"]'] + [f'S=? ["state_{state}"]' for state in model.states]
        properties = stormpy.parse_properties(";".join(formulas), program)
        built = stormpy.build_model(program, properties)
        # Storm's exact-solution environment (the default iterative solver stops at 1e-6).
        from stormpy.environments import exact

        def check(prop):
            result = stormpy.model_checking(built, prop, environment=exact())
            return result.get_value(built.initial_states[0])
        storm = check(properties[0])
        expected = evaluate(architecture, parameters)["availability"]
        assert storm == pytest.approx(expected, rel=1e-9)
        # Unavailability, the small number, agrees too.
        assert 1 - storm == pytest.approx(1 - expected, rel=1e-6)
        pi = solve(model)
        for index, prop in enumerate(properties[1:]):
            assert check(prop) == pytest.approx(pi[index], rel=1e-6, abs=1e-15), \
                model.states[index]
        assert ("restart" in model.states) == (architecture in ("dmr_lockstep", "tmr"))
