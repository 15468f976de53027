"""The two halves of a judged run: the candidate answers calls, a clean judge runs the tests.

Why: when a completion and the test that judges it share one interpreter, the completion can
patch builtins, `sys.settrace` its way past `check`, or return an object whose `__eq__` is
always true. Here they never meet. The zygote (stages/scoring/sandbox_runner.py) forks two
sandboxed trees per program, each in its own pid, mount and IPC namespace (as root, each with
its own uid), joined only by two pipes:

- the candidate runs the completion, says `ready`, then answers calls: `{"n", "name", "args",
  "kwargs"}` in, `{"n", "ok": value}` or `{"n", "raise": "ValueError", "msg"}` out;
- the judge runs the trusted prefix (the task's prompt: helpers such as `poly`) and the tests,
  with the entry point bound to a proxy that forwards each call and *strictly* decodes the
  reply into plain builtin values (no custom classes, so comparisons are the builtins' own).
  Only the judge holds the run's nonce and the result pipe; it writes the nonce when `check`
  returns. The candidate sees the arguments, never the tests, the expected values or the nonce.

Standard library only: it runs inside the zygote (`exec` of this file's text), and the host
imports it for the codec's own tests.
"""
import builtins
import json
import math
import os
import sys

MAX_LINE = 8 << 20        # one message; a longer reply is a protocol error, not a value
MAX_DEPTH = 100           # nesting of one decoded value
CANDIDATE_GONE = 3        # judge exit code: the candidate ended before answering
TAGS = {"t", "d", "s", "fs", "f", "i", "b", "c"}
# a StopIteration raised inside `all(map(lambda x: f(x) == y, xs))` would end the map early
# and make `all` true: exceptions that steer control flow are replayed as RuntimeError
UNSAFE = (StopIteration, StopAsyncIteration)


class ProtocolError(Exception):
    """The candidate's reply is not a well-formed plain value."""


class CandidateGone(Exception):
    """The candidate closed its end (exited, crashed or was killed) before answering."""


def encode(x, depth=0):
    """Plain builtin values to JSON-able data; anything else is a TypeError."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x if -(1 << 53) < x < (1 << 53) else {"i": hex(x)}
    if t is float:
        return x if math.isfinite(x) else {"f": repr(x)}
    if t is list:
        return [encode(v, depth + 1) for v in x]
    if t is tuple:
        return {"t": [encode(v, depth + 1) for v in x]}
    if t is dict:
        return {"d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in x.items()]}
    if t is set or t is frozenset:
        return {"s" if t is set else "fs": [encode(v, depth + 1) for v in x]}
    if t is bytes:
        return {"b": x.hex()}
    if t is complex:
        return {"c": [encode(x.real), encode(x.imag)]}
    raise TypeError(f"not a plain builtin value: {t.__name__}")


def _reject(what):
    raise ProtocolError(what)


def decode(x, depth=0):
    """The strict inverse of `encode`: builds builtin objects only, checks every shape."""
    if depth > MAX_DEPTH:
        _reject("value nested too deeply")
    t = type(x)
    if x is None or t in (bool, str, int, float):
        return x
    if t is list:
        return [decode(v, depth + 1) for v in x]
    if t is not dict or len(x) != 1 or next(iter(x)) not in TAGS:
        _reject(f"unexpected shape {t.__name__}")
    (tag, v), = x.items()
    if tag == "f" and v in ("nan", "inf", "-inf"):
        return float(v)
    if tag == "i" and type(v) is str and v.lstrip("-").startswith("0x"):
        return int(v, 16)
    if tag == "b" and type(v) is str:
        return bytes.fromhex(v)
    if type(v) is not list:
        _reject(f"bad {tag!r} value")
    items = [decode(e, depth + 1) for e in v]
    if tag == "t":
        return tuple(items)
    if tag in ("s", "fs"):
        return (set if tag == "s" else frozenset)(items)
    if tag == "c" and len(items) == 2 and all(type(e) in (int, float) for e in items):
        return complex(*items)
    if tag == "d" and all(type(e) is list and len(e) == 2 for e in items):
        return {k: val for k, val in items}
    _reject(f"bad {tag!r} value")


def _no_constant(name):
    raise ProtocolError(f"bare {name} in a reply")


def parse_reply(line, n):
    """One reply line -> ("ok", value) | ("raise", exception). Anything else: ProtocolError."""
    try:
        msg = json.loads(line, parse_constant=_no_constant)
        if type(msg) is not dict or msg.get("n") != n or type(msg.get("n")) is not int:
            _reject("reply out of sequence")
        if set(msg) == {"n", "ok"}:
            return "ok", decode(msg["ok"])
        if set(msg) == {"n", "raise", "msg"} and type(msg["raise"]) is str and type(msg["msg"]) is str:
            cls = getattr(builtins, msg["raise"], None)
            if not (isinstance(cls, type) and issubclass(cls, Exception)) or cls in UNSAFE:
                cls = RuntimeError
            return "raise", cls(f"candidate raised {msg['raise']}: {msg['msg'][:500]}")
    except ProtocolError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse failure is the candidate's fault
        raise ProtocolError(f"{type(e).__name__}: {str(e)[:200]}") from None
    _reject("unexpected reply fields")


class Channel:
    """Newline-framed JSON over two pipe fds, with a cap on what is read."""

    def __init__(self, rfd, wfd):
        self.rfd, self.wfd, self.buf = rfd, wfd, b""

    def send(self, obj):
        data = (json.dumps(obj, allow_nan=False) + "\n").encode()
        while data:
            data = data[os.write(self.wfd, data):]

    def recv_line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise ProtocolError("reply too long")
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                raise CandidateGone("the candidate ended before answering")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line


class Proxy:
    """Stands in for the candidate's function inside the judge: forwards calls, returns values."""

    def __init__(self, channel, name):
        self._channel, self._name = channel, name

    def __call__(self, *args, **kwargs):
        ch = self._channel
        ch.n = getattr(ch, "n", 0) + 1
        ch.send({"n": ch.n, "name": self._name, "args": encode(list(args)),
                 "kwargs": encode(kwargs)})
        kind, value = parse_reply(ch.recv_line(), ch.n)
        if kind == "raise":
            raise value
        return value

    def __repr__(self):
        return f"<candidate {self._name}>"


class _Globals(dict):
    """Judge globals for tests without an entry point: a free name that is not a builtin is
    the candidate's (a proxy); builtins stay the judge's own."""

    def __init__(self, channel):
        super().__init__(__name__="__main__", __builtins__=builtins)
        self.channel = channel

    def __missing__(self, name):
        if hasattr(builtins, name):
            raise KeyError(name)
        return Proxy(self.channel, name)


def _trusted(prefix):
    """The task's prompt may end in a bare signature (`def add(a, b):`); give it a body."""
    for text in (prefix, prefix + "\n    pass\n"):
        try:
            return compile(text, "<prompt>", "exec")
        except SyntaxError:
            continue
    return compile("", "<prompt>", "exec")


def judge(cfg, channel, result_fd):
    """Run the tests against the proxy; write the nonce only if they all returned."""
    import traceback

    nonce = cfg.pop("nonce").encode()
    entry = cfg.get("entry_point")
    glb = {"__name__": "__main__", "__builtins__": builtins} if entry else _Globals(channel)
    try:
        if json.loads(channel.recv_line()) != {"ready": True}:
            raise ProtocolError("no ready from the candidate")
        exec(_trusted(cfg.get("prefix") or ""), glb)  # noqa: S102 - trusted task text
        if entry:
            glb[entry] = Proxy(channel, entry)
        exec(compile(cfg["tests"], "<tests>", "exec"), glb)  # noqa: S102 - trusted tests
        if entry:
            check = dict.get(glb, "check")
            if not callable(check) or isinstance(check, Proxy):
                raise NameError("the tests define no check(candidate)")
            check(glb[entry])
    except CandidateGone as e:
        print(f"sandbox judge: {e}", file=sys.stderr, flush=True)
        os._exit(CANDIDATE_GONE)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os.write(result_fd, nonce)
    os._exit(0)


def candidate(cfg, channel):
    """Run the completion, then answer calls until the judge closes the channel."""
    import traceback

    glb = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(cfg.pop("code"), "<candidate>", "exec"), glb)  # noqa: S102 - sandboxed
        channel.send({"ready": True})
        while True:
            try:
                line = channel.recv_line()
            except CandidateGone:  # the judge is done
                break
            req = json.loads(line)
            try:
                fn = glb[req["name"]]
                value = fn(*decode(req["args"]), **decode(req["kwargs"]))
                reply = {"n": req["n"], "ok": encode(value)}
            except Exception as e:  # noqa: BLE001 - the judge decides what it means
                reply = {"n": req["n"], "raise": type(e).__name__, "msg": str(e)[:500]}
            channel.send(reply)
    except SystemExit as e:
        sys.stdout.flush()
        os._exit(e.code if isinstance(e.code, int) else 1)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)
