"""Profile one single-run backfill with pyinstrument: where does Finks spend its time?

``python -m bench.profile --tickers 50 --days 63 [--out docs/benchmarks-profile.txt]``
(``make bench-profile``). The dbt step runs in a child process, so its own internals show as
time spent waiting on it; everything Finks does in Python is visible.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.scenarios import session_window
from bench.worker import tickers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--days", type=int, default=63)
    parser.add_argument("--out", help="write the text profile here (default: stdout)")
    parser.add_argument("--html", help="also write an HTML profile here")
    args = parser.parse_args(argv)

    import dagster as dg
    from pyinstrument import Profiler

    from finks_assets.cli.main import run_range
    from finks_assets.lib.settings import FinksSettings

    window = session_window(args.days)
    with tempfile.TemporaryDirectory(prefix="finks-profile-") as tmp:
        settings = FinksSettings.from_env(
            {"FINKS_DATA_DIR": tmp, "FINKS_UNIVERSE": ",".join(tickers(args.tickers))}
        )
        profiler = Profiler(interval=0.005)
        with dg.DagsterInstance.ephemeral() as instance:
            profiler.start()
            result = run_range(settings, window[0].isoformat(), window[-1].isoformat(),
                               instance=instance)
            profiler.stop()
        if not result.success:
            raise SystemExit("profiled run failed")
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    header = f"# {args.tickers} tickers x {args.days} sessions ({window[0]}..{window[-1]})\n"
    if args.out:
        Path(args.out).write_text(header + text)
    else:
        print(header + text)
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
