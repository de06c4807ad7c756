#!/usr/bin/python3
"""Times one peer inside this interpreter, the way the service is timed inside its running JVM:
imports numpy and torch (when present) first, then runs PEER with ARGS as __main__ and prints the
seconds it took on the last line. Interpreter start and imports are left out of that figure.
usage: peer_run.py PEER.py ARGS...
       peer_run.py --versions          prints the numpy and torch versions and the BLAS they run, as
                                       threadpoolctl sees it, tab-separated, "-" for a missing one"""
import runpy, sys, time

versions = []
for name in ("numpy", "torch"):
    try:
        versions.append(__import__(name).__version__)
    except ImportError:
        versions.append("-")

if sys.argv[1] == "--versions":
    try:
        import threadpoolctl
        blas = ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture', '')}".strip()
                         for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas") or "-"
    except ImportError:
        blas = "-"
    print("\t".join(versions + [blas]))
else:
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    start = time.perf_counter()
    runpy.run_path(script, run_name="__main__")
    print(f"{time.perf_counter() - start:.6f}")
