"""How much CPU the rest of the machine takes while the benchmark measures.

The machine is shared (test suites, editors), so each measurement records the CPU time spent outside
the benchmark's own processes: this process and its children (the load generator, gunicorn and its
workers, the import command) and the private PostgreSQL cluster's postmaster and its backends. A
process's reaped children count in its parent's cutime/cstime, so short-lived backends are included.
"""
import os
import time

HZ = os.sysconf("SC_CLK_TCK")


def _busy_jiffies():
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return user + nice + system + irq + softirq + steal, steal


def _disk_ticks(path):
    """Milliseconds the device holding `path` has spent doing I/O (all processes), or None."""
    try:
        device = os.stat(path).st_dev
        major, minor = os.major(device), os.minor(device)
        with open("/proc/diskstats") as stats:
            for line in stats:
                fields = line.split()
                if int(fields[0]) == major and int(fields[1]) == minor:
                    return int(fields[12])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _processes():
    """{pid: (ppid, own + reaped children's jiffies)} of every process we may read."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        # fields[0] is the state; ppid is fields[1]; utime, stime, cutime, cstime are fields[11:15].
        table[int(name)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
    return table


def tree_jiffies(root):
    """CPU jiffies of a process and its descendants (their own and their reaped children's)."""
    table = _processes()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        stack.extend(children.get(pid, ()))
    return total


class CpuMonitor:
    def __init__(self, postmaster_pid_file=None, disk_path="/"):
        self.postmaster_pid_file = postmaster_pid_file
        self.disk_path = disk_path
        self.waited = 0.0

    def _roots(self):
        roots = {os.getpid()}
        if self.postmaster_pid_file:
            try:
                with open(self.postmaster_pid_file) as pid_file:
                    roots.add(int(pid_file.readline()))
            except (OSError, ValueError):
                pass
        return roots

    def snapshot(self):
        table = _processes()
        children = {}
        for pid, (ppid, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        ours, stack = 0, list(self._roots())
        seen = set()
        while stack:
            pid = stack.pop()
            if pid in seen or pid not in table:
                continue
            seen.add(pid)
            ours += table[pid][1]
            stack.extend(children.get(pid, ()))
        busy, steal = _busy_jiffies()
        return time.monotonic(), busy, ours, steal, _disk_ticks(self.disk_path)

    @staticmethod
    def foreign(before, after):
        """(cores busy outside the benchmark, cores stolen by the hypervisor) between two snapshots."""
        seconds = after[0] - before[0]
        if seconds <= 0:
            return 0.0, 0.0
        outside = max(0, (after[1] - before[1]) - (after[2] - before[2])) / HZ / seconds
        steal = (after[3] - before[3]) / HZ / seconds
        return outside, steal

    @staticmethod
    def disk_busy(before, after):
        """The share of the time the database's disk was busy (all processes, ours included), or None."""
        seconds = after[0] - before[0]
        if seconds <= 0 or before[4] is None or after[4] is None:
            return None
        return (after[4] - before[4]) / 1000 / seconds

    def wait_quiet(self, threshold=0.25, max_wait=10.0, budget=45.0):
        """Wait (at most max_wait, and `budget` over the run) until other processes use < threshold cores."""
        started = time.monotonic()
        while self.waited < budget and time.monotonic() - started < max_wait:
            before = self.snapshot()
            time.sleep(0.5)
            if self.foreign(before, self.snapshot())[0] < threshold:
                break
        self.waited += time.monotonic() - started
