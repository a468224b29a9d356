"""A WSGI application that answers with the id of the worker process serving the request.

`/thread` answers with the process and the thread; `/cpus` with the process and the CPUs the serving
thread may run on; `/slow?S` sleeps S seconds first; `/broken` fails after its headers went out
(gunicorn then closes the socket itself).
"""

import os
import threading
import time


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/slow":
        time.sleep(float(environ.get("QUERY_STRING") or "0.5"))
    if environ.get("PATH_INFO") == "/broken":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
        return _broken()
    body = str(os.getpid()).encode()
    if environ.get("PATH_INFO") == "/thread":
        body += f":{threading.get_ident()}".encode()
    if environ.get("PATH_INFO") == "/cpus":
        body += (":" + ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(0)))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _broken():
    yield b"partial"
    raise RuntimeError("the application failed after its headers went out")
