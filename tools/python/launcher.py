"""Starts a sandbox worker inside Linux namespaces (standard library only; run as `python -I -S launcher.py`).

With `"isolate": true` (needs root) the launcher:

1. unshares mount, pid, network, IPC and UTS namespaces and forks; the child is pid 1 of the new pid
   namespace, so when it dies the kernel kills everything the sandboxed code started;
2. builds a new root on a small tmpfs (mounted, in the private mount namespace only, on an empty directory
   of its own, so that every host path stays reachable as a bind source): the host's system directories and
   the interpreter's own directories (`ro_paths`: wherever they live, /tmp, a home directory, /opt)
   bind-mounted read-only, a synthetic /etc, a private /proc (only the sandbox's own processes), a minimal
   /dev, and a private size-limited tmpfs /tmp as the working directory. Directories created only to reach
   a bind (e.g. /root above /root/.pyenv) are traverse-only (0711), so their contents cannot be listed.
   Everything else of the host (home directories, the project's source, /etc/shadow, other processes) is
   absent;
3. chroots into it, drops to an unprivileged uid of its own with no capabilities, `no_new_privs` and a
   parent-death signal, and execs the worker.

The parent waits for the child and exits with its status. With `"isolate": false` it only starts a new
session and execs the worker (resource limits are applied by the worker itself).

Config (argv[1], JSON): isolate, python, worker_source, worker_config, uid, ro_paths, tmp_mb, probe.
"""

import ctypes
import json
import os
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_COPIES = ("ld.so.cache", "ld.so.conf", "nsswitch.conf", "localtime", "mime.types")
ETC_BINDS = ("ld.so.conf.d", "alternatives", "ssl", "python3", "python3.11", "python3.12", "python3.13")
DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source} on {target}")


def bind_readonly(source, target):
    mount(source, target, None, MS_BIND | MS_REC)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


ROOT_MOUNT_CANDIDATES = ("/tmp", "/var/tmp", "/dev/shm", "/run")
ROOT_MOUNT_NAME = ".agentgym-sandbox-root"


def _mkdirs(path, mode=0o755):
    os.makedirs(path, mode=mode, exist_ok=True)
    os.chmod(path, mode)


def _mountpoint(root, path):
    """Create root + path for a bind; ancestors that do not exist yet become traverse-only (0711)."""
    current = root
    for part in path.strip("/").split("/"):
        current += "/" + part
        if not os.path.isdir(current):
            os.mkdir(current)
            os.chmod(current, 0o711)
    os.chmod(current, 0o755)


def _root_mount():
    """An empty directory to mount the new root on (on the host's file system; the mount itself is private)."""
    for base in ROOT_MOUNT_CANDIDATES:
        path = base + "/" + ROOT_MOUNT_NAME
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
            return path
        except OSError:
            continue
    raise OSError("no writable directory for the sandbox root mount point (tried "
                  + ", ".join(ROOT_MOUNT_CANDIDATES) + ")")


def _covered(path, roots):
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def build_root(root, cfg):
    uid = int(cfg["uid"])
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    bound = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            os.symlink(os.readlink(d), root + d)
        elif os.path.isdir(d):
            _mkdirs(root + d)
            bind_readonly(d, root + d)
            bound.append(d)
    # the private /tmp first, so that interpreter directories under the host's /tmp are bound inside it;
    # root-owned and sticky, so the sandbox cannot move those binds away
    _mkdirs(root + "/tmp", 0o1777)
    mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(cfg.get('tmp_mb', 256))}m,mode=1777")
    for d in cfg.get("ro_paths", []):
        d = os.path.realpath(d)
        if not os.path.isdir(d) or _covered(d, bound) or _covered(d, ["/proc", "/dev", "/sys", "/etc"]):
            continue
        _mountpoint(root, d)
        bind_readonly(d, root + d)
        bound.append(d)
    etc = root + "/etc"
    _mkdirs(etc)
    for name in ETC_COPIES:
        src = "/etc/" + name
        if os.path.islink(src):
            os.symlink(os.readlink(src), etc + "/" + name)
        elif os.path.isfile(src):
            with open(src, "rb") as f:
                data = f.read()
            with open(etc + "/" + name, "wb") as f:
                f.write(data)
            os.chmod(etc + "/" + name, 0o644)
    for name in ETC_BINDS:
        src = "/etc/" + name
        if os.path.isdir(src) and not os.path.islink(src):
            _mkdirs(etc + "/" + name)
            bind_readonly(src, etc + "/" + name)
    _write(etc + "/passwd", f"root:x:0:0:root:/root:/bin/sh\nsandbox:x:{uid}:{uid}:sandbox:/tmp:/bin/sh\n")
    _write(etc + "/group", f"root:x:0:\nsandbox:x:{uid}:\n")
    _write(etc + "/hosts", "127.0.0.1 localhost sandbox\n::1 localhost\n")
    _write(etc + "/hostname", "sandbox\n")
    _write(etc + "/resolv.conf", "")
    _mkdirs(root + "/proc")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    dev = root + "/dev"
    _mkdirs(dev)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for name in DEVICES:
        open(dev + "/" + name, "w").close()
        mount("/dev/" + name, dev + "/" + name, None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, dev + "/" + name)
    _mkdirs(dev + "/shm", 0o1777)
    mount("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for d in ("/root", "/home", "/var", "/run", "/sys", "/opt", "/mnt", "/srv"):
        if not os.path.exists(root + d):
            _mkdirs(root + d)


def child(cfg):
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = _root_mount()
    build_root(root, cfg)
    os.chroot(root)
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
    try:
        _libc.sethostname(b"sandbox", 7)
    except OSError:
        pass
    uid = int(cfg["uid"])
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    os.chdir("/tmp")


def exec_worker(cfg):
    python = cfg["python"]
    argv = [python, "-I", "-c", cfg["worker_source"], json.dumps(cfg["worker_config"])]
    os.execve(python, argv, dict(os.environ))


def run_isolated(cfg):
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    pid = os.fork()
    if pid == 0:
        try:
            child(cfg)
            if cfg.get("probe"):
                os._exit(0)
            exec_worker(cfg)
        except BaseException as e:
            os.write(2, (f"agentgym launcher: {type(e).__name__}: {e}\n").encode())
            os._exit(71)
    # the parent keeps no copy of the protocol pipes, so the host sees EOF as soon as the worker dies
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, f: os.kill(pid, signal.SIGKILL))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code & 0xFF)  # death by signal N exits 128 + N, like a shell


def main():
    cfg = json.loads(sys.argv[1])
    if cfg.get("isolate"):
        run_isolated(cfg)
    else:
        exec_worker(cfg)


if __name__ == "__main__":
    main()
