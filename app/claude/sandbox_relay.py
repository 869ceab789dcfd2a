"""Inside the sandbox: a loopback port for the CLI that leads to the proxy's Unix socket.

The sandbox has a network of its own with nothing on it (no Redis, no metadata service, no
internet); the CLI still needs an HTTP base URL. This relay listens on 127.0.0.1:PORT in there,
carries each connection to the credential proxy's socket (bind-mounted in), runs the command
after ``--`` with the relay's own stdin/stdout/stderr, and exits with its status.

Standard library only: it runs under ``python -I -S`` in a sandbox that has no site-packages.

    python -I -S sandbox_relay.py PORT SOCKET -- claude --verbose ... -p
"""

import contextlib
import signal
import socket
import subprocess
import sys
import threading

CHUNK = 65536


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(CHUNK)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            with contextlib.suppress(OSError):
                sock.shutdown(how)


def _serve(listener: socket.socket, path: str) -> None:
    while True:
        client, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(path)
        except OSError:
            client.close()
            upstream.close()
            continue
        threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()


def main(argv: list[str]) -> int:
    port, path, sep, *command = argv
    if sep != "--" or not command:
        sys.stderr.write("usage: sandbox_relay.py PORT SOCKET -- COMMAND...\n")
        return 2
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(port)))
    listener.listen(64)
    threading.Thread(target=_serve, args=(listener, path), daemon=True).start()
    child = subprocess.Popen(command)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: child.send_signal(signum))
    code = child.wait()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
