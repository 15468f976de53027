"""Loaded by every Python process of a traced `dvc repro` (PYTHONPATH): records each file a
stage process opens, through an audit hook, into $LMFORGE_TRACE_DIR/<pid>.jsonl.

A stage is recognised by its command line (`-m stages.<x> ...`); child processes (math-verify
workers, sandbox zygotes) inherit the stage's name through the environment.
"""
import atexit
import json
import os
import sys

_DIR = os.environ.get("LMFORGE_TRACE_DIR")
_ARGV = list(getattr(sys, "orig_argv", sys.argv))
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _stage_of(argv):
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1].startswith("stages."):
        return " ".join(argv[argv.index("-m") + 1:])
    return None


if _DIR and _stage_of(_ARGV):
    os.environ["LMFORGE_TRACE_STAGE"] = _stage_of(_ARGV)
_STAGE = os.environ.get("LMFORGE_TRACE_STAGE")

if _DIR and _STAGE:
    _seen = {}

    def _hook(event, args):
        if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        try:
            mode, flags = (args + (None, None))[1:3]
            if isinstance(mode, str):
                writes = any(c in mode for c in "wax+")
            else:
                writes = bool(isinstance(flags, int) and flags & _WRITE_FLAGS)
            path = os.fsdecode(args[0])
            if not os.path.isabs(path) and not os.path.exists(path):
                return         # relative to a directory fd (shutil.rmtree): that dir has its own record
            path = os.path.abspath(path)
            _seen[path] = _seen.get(path, set()) | {"w" if writes else "r"}
        except Exception:      # a tracer never changes what the traced program does
            pass

    def _flush():
        lines = "".join(json.dumps({"stage": _STAGE, "path": p, "modes": sorted(m)}) + "\n"
                        for p, m in list(_seen.items()))
        fd = os.open(os.path.join(_DIR, f"{os.getpid()}.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.write(fd, lines.encode())
        os.close(fd)

    sys.addaudithook(_hook)
    atexit.register(_flush)
