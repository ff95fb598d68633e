"""python -m bench.baseline_service: the bare machinery's HTTP, for comparison.

A Nameko service with one plain `http` entrypoint that answers a constant: the
same eventlet hub, WSGI server and worker pool as the product's services, with
no token check, no database and no presentation. BENCH_BASELINE_PORT sets the
port; XJCERT_MAX_WORKERS the workers, as for the services.
"""

import os
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

from nameko.runners import ServiceRunner  # noqa: E402
from nameko.web.handlers import http  # noqa: E402

CONSTANT = '{"certificates": [], "notice": null}'


class ConstantService:
    name = "bench_baseline"

    @http("GET", "/v1/constant")
    def constant(self, request):
        return 200, {"Content-Type": "application/json"}, CONSTANT


def main() -> None:
    port = os.environ["BENCH_BASELINE_PORT"]
    runner = ServiceRunner(
        {
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
            "max_workers": int(os.environ.get("XJCERT_MAX_WORKERS", "10")),
        }
    )
    runner.add_service(ConstantService)
    runner.start()
    runner.wait()


if __name__ == "__main__":
    main()
