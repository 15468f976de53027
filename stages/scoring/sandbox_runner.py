"""The sandbox's trusted side on the far end of a socket: `python -I -S -c <this file> <fd>`.

A long-lived "zygote" (one per pool worker) that never runs untrusted code itself. Per
request (a JSON config plus the write ends of stdout, stderr and a result pipe, passed over
a Unix socket) it forks, and the child:
1. starts a new session (the caller kills the tree with one `killpg`), wires the pipes;
2. enters its own mount and pid namespaces (`unshare(2)`), mounts fresh tmpfs on /tmp and
   /dev/shm (the only writable places: the zygote made every other mount read-only) and a
   fresh /proc that shows only the sandbox's own processes. (The zygote itself entered,
   once, a network namespace with no interface up and a private, read-only mount tree, plus
   a user namespace mapping it to root when the host user is not root.)
3. forks pid 1 of the new pid namespace, which sets the rlimits (soft = hard), drops to the
   request's unprivileged uid (when root) or every capability (user namespace), re-arms
   the parent-death signal, and runs the program: `exec` of the code; only if it returns
   normally is the nonce written to the result pipe, so `sys.exit(0)` / `os._exit(0)` before
   the tests end never read as success.
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

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_REC, MS_PRIVATE = 16384, 1 << 18
KEEP_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": 1024,
              "nodiratime": 2048, "relatime": 1 << 21}  # must be restated on a bind remount
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 24, 28, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SECBITS_LOCKED_NOROOT = 0x2F  # NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED and their locks
LIBC = ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"sandbox: {what}: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None):
    _check(LIBC.mount(src and src.encode(), target.encode(), fstype and fstype.encode(), flags,
                      data and data.encode()), f"mount {fstype or ''} on {target}")


def _enter_base_namespaces(userns):
    """Once per zygote: a network namespace with no interface up, a private mount tree
    (+ a user namespace mapping us to root, when the host user is not root). Programs run
    one at a time per zygote, and none outlives its run, so they can share these."""
    uid, gid = os.getuid(), os.getgid()
    _check(LIBC.unshare(CLONE_NEWNET | CLONE_NEWNS | (CLONE_NEWUSER if userns else 0)), "unshare")
    if userns:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the host
    _read_only_everywhere()


def _read_only_everywhere():
    """Bind-remount every mount read-only: the repo, $HOME and every other directory the
    sandbox uid could write are out of reach; the per-program tmpfs dirs come after, writable.
    (/proc, /sys and /dev entries that refuse are left: the program gets its own /proc and
    holds no capability over the others.)"""
    import re

    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        for opt in fields[5].split(","):
            flags |= KEEP_FLAGS.get(opt, 0)
        if LIBC.mount(None, target.encode(), None, flags, None) != 0 and \
                not target.startswith(("/proc", "/sys", "/dev")):
            _check(-1, f"read-only remount of {target}")


def _enter_program_namespaces(cfg):
    """Per program: its own mount namespace (fresh tmpfs dirs) and pid namespace."""
    _check(LIBC.unshare(CLONE_NEWNS | CLONE_NEWPID), "unshare")
    for d in cfg["private_tmp"]:
        if os.path.isdir(d):
            _mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, f"size={cfg['tmp_size_mb']}m,mode=1777")


def _drop_capabilities():
    """uid 0 of a user namespace, minus every capability: it cannot unmount the fresh /proc,
    touch the network setup or regain privileges by exec."""
    for cap in range(64):
        LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the last capability: fine
    LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    _check(LIBC.prctl(PR_SET_SECUREBITS, SECBITS_LOCKED_NOROOT, 0, 0, 0), "securebits")
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()                 # effective, permitted, inheritable: all 0
    _check(LIBC.capset(header, data), "capset")
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


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


def _init(cfg, result_fd):
    """pid 1 of the sandbox: limits, uid, work dir, then the program itself (one process
    fewer per run; as pid 1 it also reaps any orphans, and its exit ends the namespace)."""
    if cfg["namespaces"]:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    workdir = cfg["workdir"]
    os.makedirs(workdir, mode=0o700, exist_ok=True)
    if cfg["uid"] is not None:
        os.chown(workdir, cfg["uid"], cfg["uid"])
    for name, value in cfg["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if cfg["uid"] is not None:
        os.setgroups([])
        os.setgid(cfg["uid"])
        os.setuid(cfg["uid"])
    elif cfg["namespaces"]:
        _drop_capabilities()
    LIBC.prctl(PR_SET_PDEATHSIG, 9)  # setuid cleared it; die with our parent
    os.chdir(workdir)
    os.environ.clear()
    os.environ.update(cfg["env"])
    _program(cfg, result_fd)  # never returns


def _child(cfg, fds, sock):
    """Forked per program: session, pipes, namespaces; then pid 1 of the new pid namespace."""
    try:
        os.setsid()
        sock.close()
        out, err, result_fd = fds
        null = os.open(os.devnull, os.O_RDONLY)
        for src, dst in ((null, 0), (out, 1), (err, 2)):
            os.dup2(src, dst)
        for fd in (null, out, err):
            os.close(fd)
        if cfg["namespaces"]:
            _enter_program_namespaces(cfg)
        pid = os.fork()
        if pid == 0:
            _init(cfg, result_fd)
        os.close(result_fd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
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
    """One request: an 8-byte length carrying the 3 pipe fds, then that many bytes of JSON."""
    head, fds, _, _ = socket.recv_fds(sock, 8, 3)
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


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
