"""gunicorn settings shared by scripts/run.sh and the load test (flags on the command line add to these).

The application and its URL configuration (views, DRF, and through the inference views torch/MONAI: ~10 s
of imports) are loaded once in the master before the workers fork: no worker keeps its first requests
waiting for imports, and the workers share those pages of memory.
"""

preload_app = True
worker_class = "gthread"
# Idle keep-alive connections wait in the poller, not in a thread. Longer than a reader's pause between
# calls (autosave every 10 s) and than a proxy's idle timeout (nginx: 60 s): otherwise the server closes a
# connection just as the client reuses it, and the request fails with "connection reset".
keepalive = 75


def when_ready(server):
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module now, in the master
