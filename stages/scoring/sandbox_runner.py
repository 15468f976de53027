"""The sandbox's trusted side on the far end of a socket: `python -I -S -c <this file> <fd>`.

A long-lived "zygote" (one per pool worker) that never runs untrusted code itself. Once, it
enters a network namespace with no interface up, a private mount namespace whose root is a
minimal read-only tree (stages/scoring/sandbox_fs.py), plus a user namespace mapping it to
root when the host user is not root. Per request (a JSON config plus the write ends of
stdout, stderr and a result pipe, and for a judged run the judge's spec in a memfd, passed
over a Unix socket) it forks a child that starts a new session (the caller kills it all with
one `killpg`), wires the pipes and forks the sandbox of a plain program, or for a judged run
first the judge (trusted tests, in the zygote's namespaces, its own uid) and then the
candidate's sandbox (see stages/scoring/sandbox_judge.py). A program's sandbox:
1. enters its own mount, pid and SysV IPC namespaces (`unshare(2)`), mounts a fresh tmpfs on
   /tmp (the only writable place; /dev/shm links to it) and, from pid 1, a fresh /proc that
   shows only its own processes;
2. pid 1 sets the rlimits (soft = hard), drops to its own unprivileged uid (when root: the
   bounding set emptied first) or every capability (user namespace), sets no-new-privs (a
   setuid binary gains nothing), re-arms the parent-death signal and runs its role. A plain
   program writes the nonce to the result pipe only if `exec` returned normally; a judged
   run's judge writes it when `check` returned.
When pid 1 exits the kernel kills everything left in its namespace.
The zygote reports `{"pid": <host pid>}` at the fork, `{"status": <exit code>}` at the end.
Forking a warm interpreter instead of starting one per program is what makes it fast.
Standard library only (`-S`): it may run under a system interpreter the sandbox uid can read.
"""
import ctypes
import json
import os
import resource
import socket
import sys

MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
CLONE_NEWIPC = 0x08000000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS = 1, 4, 24, 28
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
SECBITS_LOCKED_NOROOT = 0x2F  # NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED and their locks
LIBC = ctypes.CDLL(None, use_errno=True)
fs = judge = None  # stages/scoring/sandbox_fs.py and sandbox_judge.py, loaded in __main__


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"sandbox: {what}: {os.strerror(err)}")


def _enter_base_namespaces(userns):
    """Once per zygote: a network namespace with no interface up, a private mount tree with
    only the minimal read-only root in it (+ a user namespace mapping us to root, when the
    host user is not root). Programs run one at a time per zygote, and none outlives its
    run, so they can share these."""
    uid, gid = os.getuid(), os.getgid()
    prefixes = {sys.base_prefix, sys.base_exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    _check(LIBC.unshare(CLONE_NEWNET | CLONE_NEWNS | (CLONE_NEWUSER if userns else 0)), "unshare")
    if userns:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    fs.enter_minimal_root(prefixes)


def _enter_program_namespaces(cfg):
    """Per program tree: its own mount (fresh tmpfs dirs), pid and SysV IPC namespaces."""
    _check(LIBC.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
    for d in cfg["private_tmp"]:
        if os.path.isdir(d):
            fs.mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, f"size={cfg['tmp_size_mb']}m,mode=1777")


def _capset_zero():
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()                 # effective, permitted, inheritable: all 0
    _check(LIBC.capset(header, data), "capset")


def _drop_bounding_set():
    for cap in range(64):
        LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the last capability: fine
    LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


def _drop_capabilities():
    """uid 0 of a user namespace, minus every capability: it cannot unmount the fresh /proc,
    touch the network setup or regain privileges by exec."""
    _drop_bounding_set()
    _check(LIBC.prctl(PR_SET_SECUREBITS, SECBITS_LOCKED_NOROOT, 0, 0, 0), "securebits")
    _capset_zero()


def _drop_to_uid(uid):
    """Root on the host: empty the bounding set first (it needs CAP_SETPCAP), then become the
    sandbox uid, which clears every capability; with no-new-privs (set after) a setuid-root
    binary such as `su` cannot give any back."""
    _drop_bounding_set()
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _capset_zero()


def _guard(event, args):
    """Audit hook for hosts without namespaces: no sockets, no new programs (a guard only)."""
    if event.startswith(("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn",
                         "os.system", "ctypes.dlopen")):
        raise PermissionError(f"sandbox: {event} is not allowed")


def _program(cfg, result_fd):
    """The untrusted program; writes the nonce only if it ran to its end."""
    import traceback

    if cfg["socket_guard"]:
        sys.addaudithook(_guard)
    code, nonce = cfg.pop("code"), cfg.pop("nonce").encode()
    glb = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(code, "<program>", "exec"), glb)  # noqa: S102 - sandboxed
    except SystemExit as e:  # the program chose to exit: keep its code, never a success mark
        sys.stdout.flush()
        os._exit(e.code if isinstance(e.code, int) else (0 if e.code is None else 1))
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(result_fd, nonce)
    os._exit(0)


def _init(cfg, role, fds, parent, fresh):
    """pid 1 of a sandbox (`fresh`: of its new namespaces): limits, uid, work dir, then its
    role itself (one process fewer per run; as pid 1 it also reaps any orphans, and its exit
    ends the namespace). The judge runs trusted tests and is not `fresh`: it lives in the
    zygote's namespaces, which the candidate's namespaces cannot see into."""
    LIBC.prctl(PR_SET_PDEATHSIG, 9)
    if os.getppid() != (0 if fresh else parent):  # the parent is already gone: die too
        os._exit(125)
    if fresh:
        fs.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    workdir = cfg["workdir"]
    if not os.path.isdir(workdir):
        os.makedirs(workdir, mode=0o700)
        if cfg["uid"] is not None:
            os.chown(workdir, cfg["uid"], cfg["uid"])
    for name, value in cfg["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if cfg["uid"] is not None:
        _drop_to_uid(cfg["uid"])
    elif cfg["namespaces"]:
        _drop_capabilities()
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if role == "judge":  # no ptrace, no /proc/<pid>/mem, fd or environ for anyone else
        LIBC.prctl(PR_SET_DUMPABLE, 0)
    LIBC.prctl(PR_SET_PDEATHSIG, 9)  # setuid cleared it; die with our parent
    os.chdir(workdir)
    os.environ.clear()
    os.environ.update(cfg["env"])
    if role == "program":
        _program(cfg, fds["result"])  # never returns
    channel = judge.Channel(*fds["channel"])
    if role == "candidate":
        if cfg["socket_guard"]:
            sys.addaudithook(_guard)
        judge.candidate(cfg, channel)
    spec = _read_all(fds["spec"])
    judge.judge(json.loads(spec), channel, fds["result"])


def _read_all(fd):
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _spawn(cfg, role, fds, fresh):
    """Fork pid 1 of a sandbox; `fresh`: the caller just entered new namespaces for it."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _init(cfg, role, fds, parent, fresh)
    return pid


def _exit_code(pid):
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return code if code >= 0 else 128 - code


def _child(cfg, fds, sock):
    """Forked per request: session, pipes, then one sandbox (a program) or two (a judged run:
    the judge, forked first, then the candidate in fresh namespaces; two pipes join them)."""
    try:
        os.setsid()
        sock.close()
        LIBC.prctl(PR_SET_DUMPABLE, 0)  # it holds the judge's fds until the judge is forked
        out, err, result_fd, *spec = fds
        null = os.open(os.devnull, os.O_RDONLY)
        for src, dst in ((null, 0), (out, 1), (err, 2)):
            os.dup2(src, dst)
        for fd in (null, out, err):
            os.close(fd)
        ns = cfg["namespaces"]
        if "judge" not in cfg:
            if ns:
                _enter_program_namespaces(cfg)
            pid = _spawn(cfg, "program", {"result": result_fd}, ns)
            os.close(result_fd)
            os._exit(_exit_code(pid))
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        judge_fds = {"channel": (resp_r, req_w), "result": result_fd, "spec": spec[0]}
        jpid = os.fork()
        if jpid == 0:
            os.close(req_r)
            os.close(resp_w)
            _init(dict(cfg, **cfg["judge"]), "judge", judge_fds, os.getppid(), False)
        for fd in (result_fd, *spec, req_w, resp_r):  # the candidate never holds these
            os.close(fd)
        if ns:
            _enter_program_namespaces(cfg)
        cand = _spawn(cfg, "candidate", {"channel": (req_r, resp_w)}, ns)
        os.close(req_r)
        os.close(resp_w)
        code = _exit_code(jpid)
        os.kill(cand, 9)
        os.waitpid(cand, 0)
        os._exit(code)
    except BaseException as e:  # noqa: BLE001 - report and never return into the server loop
        os.write(2, f"sandbox setup failed: {e!r}\n".encode())
        os._exit(125)


def _send(sock, obj):
    sock.sendall(json.dumps(obj).encode() + b"\n")


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _receive(sock):
    """One request: an 8-byte length carrying the pipe fds (stdout, stderr, result and, for a
    judged run, the judge's spec), then that many bytes of JSON."""
    head, fds, _, _ = socket.recv_fds(sock, 8, 4)
    if not head:
        return None, []
    head += _recv_exact(sock, 8 - len(head))
    return json.loads(_recv_exact(sock, int.from_bytes(head, "big"))), fds


def serve(fd, mode):
    """Say hello, then requests in, one at a time: `{"pid"}` when forked, `{"status"}` at the end.

    `mode`: "none" (no namespaces), "root" or "userns" (which base namespaces to enter).
    """
    sock = socket.socket(fileno=fd)
    error = None
    if mode != "none":
        try:
            _enter_base_namespaces(mode == "userns")
        except OSError as e:
            error = str(e)
    _send(sock, {"namespaces": mode != "none" and error is None, "error": error})
    while True:
        try:
            cfg, fds = _receive(sock)
        except EOFError:
            return
        if cfg is None:
            return
        pid = os.fork()
        if pid == 0:
            _child(cfg, fds, sock)
        for f in fds:
            os.close(f)
        _send(sock, {"pid": pid})
        if not _wait(sock, pid):
            return
        _, status = os.waitpid(pid, 0)
        _send(sock, {"status": os.waitstatus_to_exitcode(status)})


def _wait(sock, pid):
    """Wait for the program; if the evaluator goes away meanwhile, kill it and say so."""
    import select

    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([sock, pidfd], [], [])
            if pidfd in ready:  # exited, not yet reaped: its group id cannot be reused yet
                try:
                    os.killpg(pid, 9)  # stragglers left in its process group
                except OSError:
                    pass
                return True
            if not sock.recv(1, socket.MSG_PEEK):  # EOF: the evaluator died
                os.killpg(pid, 9)
                os.waitpid(pid, 0)
                return False
    finally:
        os.close(pidfd)


def _load(name, source):
    import types

    module = types.ModuleType(name)
    exec(compile(source, f"{name}.py", "exec"), module.__dict__)  # noqa: S102 - our own files
    return module


if __name__ == "__main__":
    _sources = json.loads(sys.argv[3])
    fs, judge = _load("sandbox_fs", _sources["fs"]), _load("sandbox_judge", _sources["judge"])
    import collections, copy, functools, itertools, math, random, re, string, traceback, typing  # noqa: E401,F401 - warm for every fork
    serve(int(sys.argv[1]), sys.argv[2])
