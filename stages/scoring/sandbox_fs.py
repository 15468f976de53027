"""What a sandboxed program can see of the filesystem: a minimal, read-only root.

Why: a read-only view of the whole host still lets a program read world-readable files (the
repo, /etc/passwd), the host user's own 0600 files (tokens on a laptop or a CI runner) and
connect to Unix sockets by path (a read-only mount does not stop `connect`). So each zygote,
once, in its private mount namespace, builds a fresh tmpfs root holding only:
- the system dirs Python and its shared libraries live in (/usr, /lib*, /bin, /sbin: the
  host's own symlinks where the host has them), and the interpreter's prefix when it lives
  elsewhere (e.g. a pyenv build under /root), bind-mounted read-only, nosuid, nodev;
- /etc with ld.so.cache only (no passwd, hosts, ssl keys, ...);
- /dev with null, zero, full, random, urandom, fd links; an empty /tmp for the per-program
  tmpfs (/dev/shm links to it: one mount per program, not two);
- /proc (the host's, needed so a user namespace may mount a fresh one; every program mounts
  its own, showing only its own processes, over it),
then `pivot_root`s into it and detaches the old root: the host tree is no longer reachable
from the zygote or anything it forks. Runs inside the zygote (standard library only).
"""
import ctypes
import os

LIBC = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_REC, MS_PRIVATE, MS_RELATIME = 16384, 1 << 18, 1 << 21
ST_TO_MS = {2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: 1024, 2048: 2048, 4096: MS_RELATIME}
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
DEVICES = ("null", "zero", "full", "random", "urandom")
ETC = ("ld.so.cache",)
NEW_ROOT = "/tmp"  # in the zygote's private mount namespace only; the host's /tmp is untouched


def check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"sandbox: {what}: {os.strerror(err)}")


def mount(src, target, fstype, flags, data=None):
    check(LIBC.mount(src and src.encode(), target.encode(), fstype and fstype.encode(), flags,
                     data and data.encode()), f"mount {fstype or src or ''} on {target}")


def _bind(src, dst, read_only=True):
    """Bind `src` at `dst`; read-only, nosuid, nodev, keeping the flags the source has locked."""
    mount(src, dst, None, MS_BIND | MS_REC)
    if read_only:
        kept = 0
        for st, ms in ST_TO_MS.items():
            if os.statvfs(src).f_flag & st:
                kept |= ms
        mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)


def _touch(path):
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def _covered(path, bound):
    return any(path == b or path.startswith(b.rstrip("/") + "/") for b in bound)


def build_root(prefixes):
    """Mount the minimal tree at NEW_ROOT; `prefixes`: the interpreter's installation dirs."""
    if any(_covered(os.path.realpath(p), [NEW_ROOT]) for p in prefixes):
        raise OSError(f"sandbox: the interpreter lives under {NEW_ROOT}; install it elsewhere")
    mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    bound = []
    for d in SYSTEM:
        if os.path.islink(d):
            os.symlink(os.readlink(d), NEW_ROOT + d)
        elif os.path.isdir(d):
            os.mkdir(NEW_ROOT + d)
            _bind(d, NEW_ROOT + d)
            bound.append(d)
    for p in sorted({os.path.realpath(p) for p in prefixes}):
        if os.path.isdir(p) and not _covered(p, bound):
            os.makedirs(NEW_ROOT + p, mode=0o755)
            _bind(p, NEW_ROOT + p)
            bound.append(p)
    for d in ("etc", "dev", "proc", "tmp"):
        os.mkdir(f"{NEW_ROOT}/{d}", 0o1777 if d == "tmp" else 0o755)
    for name in ETC:
        if os.path.isfile(f"/etc/{name}"):
            _touch(f"{NEW_ROOT}/etc/{name}")
            _bind(f"/etc/{name}", f"{NEW_ROOT}/etc/{name}")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            _touch(f"{NEW_ROOT}/dev/{name}")
            mount(f"/dev/{name}", f"{NEW_ROOT}/dev/{name}", None, MS_BIND)
    for name, target in (("shm", "/tmp"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{NEW_ROOT}/dev/{name}")
    mount("/proc", f"{NEW_ROOT}/proc", None, MS_BIND | MS_REC)


def pivot():
    """Make NEW_ROOT the root, detach the old one, then make the new root itself read-only."""
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(f"sandbox: pivot_root on {os.uname().machine} is not supported")
    os.chdir(NEW_ROOT)
    check(LIBC.syscall(number, b".", b"."), "pivot_root")  # old root now stacked under "."
    check(LIBC.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def enter_minimal_root(prefixes):
    """Once per zygote, after unshare(CLONE_NEWNS): the host tree is gone after this."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the host
    build_root(prefixes)
    pivot()
