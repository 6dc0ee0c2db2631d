"""Availability models: closed forms, Storm on the exported PRISM models, monotonicity."""

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
        p = Parameters(permanent_fit=0, transient_fit=2e5, masked=0.25, coverage=1.0,
                       isolation=1.0, resync=0.02, reboot=0.2)
        lt = 2e5 * FIT * 0.75
        single = 2 * lt / (1 / p.resync + lt)
        reboot = single * lt * p.reboot
        expected = (1 + single) / (1 + single + reboot)
        assert availability("dmr_lockstep", p) == pytest.approx(expected, rel=1e-12)

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
        assert availability("tmr", p) > availability("dmr_lockstep", p)

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
        properties = stormpy.parse_properties('S=? ["up"]', program)
        built = stormpy.build_model(program, properties)
        # Storm's exact-solution environment (the default iterative solver stops at 1e-6).
        from stormpy.environments import exact
        result = stormpy.model_checking(built, properties[0], environment=exact())
        storm = result.get_value(built.initial_states[0])
        expected = evaluate(architecture, parameters)["availability"]
        assert storm == pytest.approx(expected, rel=1e-9)
        # Unavailability, the small number, agrees too.
        assert 1 - storm == pytest.approx(1 - expected, rel=1e-6)
