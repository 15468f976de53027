"""The bootstrap that runs *inside* the sandbox: `python -I -S -c <this file's text>`.

It is the only trusted code in the sandboxed process tree. Started (as root of its own net,
pid and mount namespaces when the host allows) with a JSON config on stdin, it:
1. mounts private tmpfs over the world-writable dirs (/tmp, /var/tmp, /dev/shm, /run/lock),
   so "outside the work dir" has nowhere writable left;
2. sets the rlimits (soft = hard, so the program cannot raise them back);
3. drops to an unprivileged uid (when started as root) and re-arms the parent-death signal;
4. forks: the child runs the program with `exec` and, only if it returns normally, writes
   the run's nonce to a private pipe; the parent (pid 1 of the namespace when there is one) waits and
   exits with the child's status. `sys.exit(0)` / `os._exit(0)` before the tests finish
   therefore never look like success.
Standard library only (`-S`): it may run under a system interpreter the sandbox uid can read.
"""
import ctypes
import json
import os
import resource
import sys

MS_NOSUID, MS_NODEV = 2, 4
PR_SET_PDEATHSIG = 1


def _mount_private_tmp(dirs, size_mb):
    libc = ctypes.CDLL(None, use_errno=True)
    opts = f"size={size_mb}m,mode=1777".encode()
    for d in dirs:
        if os.path.isdir(d) and libc.mount(b"tmpfs", d.encode(), b"tmpfs",
                                           MS_NOSUID | MS_NODEV, opts) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"sandbox: mount tmpfs on {d}: {os.strerror(err)}")


def _socket_guard(event, args):
    """Audit hook for hosts without a network namespace: no sockets, no new programs."""
    if event.startswith(("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn",
                         "os.system", "ctypes.dlopen")):
        raise PermissionError(f"sandbox: {event} is not allowed")


def _run_child(cfg):
    """Run the program; write the nonce only if it ran to the end."""
    import traceback

    if cfg["socket_guard"]:
        sys.addaudithook(_socket_guard)
    glb = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(cfg.pop("code"), "<program>", "exec"), glb)  # noqa: S102 - sandboxed
    except SystemExit as e:  # the program chose to exit: keep its code, never a success mark
        sys.stdout.flush()
        os._exit(e.code if isinstance(e.code, int) else (0 if e.code is None else 1))
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(cfg["result_fd"], cfg["nonce"].encode())
    os._exit(0)


def main():
    cfg = json.loads(sys.stdin.buffer.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    if cfg["private_tmp"]:
        _mount_private_tmp(cfg["private_tmp"], cfg["tmp_size_mb"])
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
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, 9)  # setuid cleared it; die with our parent
    os.chdir(workdir)
    pid = os.fork()
    if pid == 0:
        _run_child(cfg)
    os.close(cfg["result_fd"])
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
