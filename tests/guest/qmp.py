"""A minimal QMP client (standard library only) for kvm-bt's tests and tools."""
import json
import socket
import time


class QMP:
    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.file = self.sock.makefile("rw")
        self.greeting = json.loads(self.file.readline())
        self.events = []
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.file.write(json.dumps(msg) + "\n")
        self.file.flush()
        while True:
            resp = self._read()
            if "event" in resp:
                continue
            if "error" in resp:
                raise RuntimeError(f"{name}: {resp['error']['desc']}")
            return resp["return"]

    def _read(self):
        """One message; events are also kept in self.events."""
        line = self.file.readline()
        if not line:
            raise ConnectionError("QMP connection closed")
        resp = json.loads(line)
        if "event" in resp:
            self.events.append(resp)
        return resp

    def wait_event(self, name, timeout):
        deadline = time.monotonic() + timeout
        while not any(e["event"] == name for e in self.events):
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            self._read()
            if time.monotonic() > deadline:
                raise TimeoutError(name)

    def close(self):
        self.sock.close()
