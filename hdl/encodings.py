"""The encodings of the error registers, defined once: lane states, lane commands, event
kinds, channels, policies, ERROR_CAUSE bits and the identification constants.

:mod:`ftvoter.hdl.registers` builds its register map from them (and re-exports them);
everything else (lane manager, bridge, simulator, console, testbenches) should import them
from here.
"""

__all__ = ["ID_VALUE", "VERSION", "UNLOCK_KEY", "LANE_STATES", "LANE_OPS", "EVENT_KINDS",
           "CHANNELS", "POLICIES", "POLICY_NAMES", "FAULT_MODELS", "LANE_FAULTS", "NEVER",
           "ADDR_WIDTH", "CAUSES"]

#: The ID register's value, "FTVR".
ID_VALUE = 0x46545652
#: The register map's (major, minor) version.
VERSION = (0, 1)
#: The UNLOCK key, "UNLK".
UNLOCK_KEY = 0x554E4C4B

#: LANE_STATE encoding (two bits per lane).
LANE_STATES = {"ONLINE": 0, "BROKEN": 1, "REMOVED": 2, "SYNCING": 3}
#: LANE_CMD.OP encoding.
LANE_OPS = {"NONE": 0, "REMOVE": 1, "INSERT": 2, "FREEZE": 3, "RESET_INSERT": 4,
            "SPLIT": 5, "MERGE": 6}
#: EVENT.KIND encoding.
EVENT_KINDS = {"BROKEN": 0, "FIXED": 1, "REMOVED": 2, "INSERTED": 3, "ROLLBACK": 4,
              "SPLIT": 5}
#: SYNDROME.CHANNEL encoding.
CHANNELS = {"AW": 0, "W": 1, "AR": 2, "B": 3, "R": 4}
#: FEATURES.POLICY encoding (the bridge's ``policy`` names, upper case).
POLICIES = {"HALT": 0, "DIAGNOSE": 1}
#: The bridge's ``policy`` names, as the CLI and campaign specs spell them.
POLICY_NAMES = tuple(name.lower() for name in POLICIES)
#: Fault models by the names campaign specs use: the FaultInjector's ``model`` encoding
#: (FaultRegisters CONTROL.MODEL).
FAULT_MODELS = {"flip": 0, "stuck0": 1, "stuck1": 2}
#: Lane faults of a campaign (a design with live resync): the campaign bench's
#: ``lane_op`` encoding. ``remove-insert``: LANE_CMD REMOVE of the lane at the start,
#: INSERT (a live resync) after the duration; ``unplug``: its presence input low for the
#: duration (surprise removal), then high and INSERT.
LANE_FAULTS = {"remove-insert": 1, "unplug": 2}
#: A 32-bit cycle counter's value for "did not happen" (and where it saturates).
NEVER = 2**32 - 1

#: The most faulty copies a campaign bench holds (:class:`~ftvoter.hdl.campaign.CampaignBench`).
MAX_COPIES = 16
#: The default AXI4-Lite address width of lanes, paths and memories (what a SoC
#: integrator expects); designs that want a smaller bus say so explicitly.
ADDR_WIDTH = 32

#: ERROR_CAUSE bits, in order: (name, description).
CAUSES = [
    ("AW", "lanes diverged on the write address channel"),
    ("W", "lanes diverged on the write data channel"),
    ("AR", "lanes diverged on the read address channel"),
    ("B_READY", "lanes diverged on bready"),
    ("R_READY", "lanes diverged on rready"),
    ("SELF_ERROR", "a lane's own detector (self_error) was set at a divergence"),
    ("NO_MAJORITY", "no single faulty lane could be identified (policy applied)"),
    ("HALTED", "the bridge halted (fail-safe)"),
    ("PATH_ERROR", "a path answered SLVERR or DECERR"),
    ("PATH_TIMEOUT", "a path did not answer within the timeout"),
    ("NO_PATH", "no working path was left; the lanes got SLVERR"),
    ("REJECTED", "a write to a protected register was ignored (locked, or no unlock)"),
    ("DIAG_FAIL", "a lane failed its self-test under the diagnose policy"),
    ("ROLLBACK", "a divergence without blame was rolled back to the last checkpoint"),
    ("STATE", "the lanes' states differed when they presented a request (rolled back)"),
    ("SELFTEST", "the comparator's self-test failed: a forced mismatch was not seen"),
    ("CHECKER", "the two copies of a self-checking bridge disagreed (it stopped)"),
]
