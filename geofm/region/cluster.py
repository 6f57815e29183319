"""Where chunks run: a Dask ``LocalCluster`` of worker processes, or an existing scheduler by address.

Each worker process loads its model once, through a worker plugin that gets only the model name, the
weights folder (a path on the worker's disk) and the device; no weights travel through the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout

import torch
from distributed import Client, LocalCluster
from distributed.comm import connect
from distributed.comm.addressing import parse_address, parse_host_port
from distributed.diagnostics.plugin import WorkerPlugin

from geofm.config import REGION
from geofm.data.net import keep_fetched_blocks
from geofm.errors import InputError, ServiceError
from geofm.pipeline import get_model
from geofm.region.job import worker_device

log = logging.getLogger(__name__)


def default_workers() -> int:
    """One worker per GPU, else one per two cores."""

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return gpus if gpus else max(1, (os.cpu_count() or 1) // REGION.cores_per_worker)


class ModelPlugin(WorkerPlugin):
    """Worker plugin: set the worker's torch threads and load the model once into the process cache."""

    name = "geofm-model"

    def __init__(self, model: str, weights_dir: str | None, device: str, threads: int | None) -> None:
        self.model, self.weights_dir, self.device, self.threads = model, weights_dir, device, threads
        self.client_pid = os.getpid()  # workers in the client's own process (threads) leave its reads alone

    def setup(self, worker: object) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)
        if os.getpid() != self.client_pid:  # a worker process: neighbouring chunks share their halo blocks
            keep_fetched_blocks(REGION.worker_block_cache_mb)
        try:
            get_model(self.model, weights_dir=self.weights_dir, device=worker_device(self.device))
        except Exception as err:  # noqa: BLE001 - the chunk job reports the same error as the chunk's reason
            log.warning("model preload on worker failed: %s", err)


def check_scheduler_address(address: str) -> str:
    """``address`` as a Dask address (``tcp://HOST:PORT``, ``tls://…``, ``HOST:PORT``); InputError otherwise."""

    try:
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls", "ucx", "ws", "wss"):
            host, port = parse_host_port(location)
            if not host or not port:
                raise ValueError("no host or port")
    except (ValueError, TypeError):
        raise InputError(f"--scheduler {address!r} is not a Dask scheduler address; give one like "
                         "tcp://10.0.0.5:8786.") from None
    return address


async def _identity(address: str, timeout_s: float) -> object:
    comm = await connect(address, timeout=timeout_s)  # connection + Dask handshake
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def probe_scheduler(address: str, timeout_s: float = REGION.scheduler_timeout_s) -> None:
    """Check, within ``timeout_s`` in all (connection, handshake and answer), that a Dask scheduler answers
    at ``address``; ServiceError otherwise. (``distributed`` bounds only the connection: a live port that does
    not speak Dask keeps its handshake waiting for ever.)"""

    async def bounded() -> object:
        return await asyncio.wait_for(_identity(address, timeout_s), timeout_s)

    pool = ThreadPoolExecutor(1, thread_name_prefix="geofm-scheduler-probe")  # its own event loop
    try:
        info = pool.submit(asyncio.run, bounded()).result(timeout_s + 5)
    except (OSError, asyncio.TimeoutError, FutureTimeout, EOFError) as err:
        log.warning("cannot reach the Dask scheduler %s: %r", address, err)
        raise ServiceError(f"No Dask scheduler answered at {address} within {timeout_s:g} s.",
                           hint="Check the address and that the scheduler is running.") from None
    except Exception as err:  # noqa: BLE001 - a peer that speaks something else: its bytes do not decode
        log.warning("the peer at %s does not speak Dask: %r", address, err)
        info = None
    finally:
        pool.shutdown(wait=False)
    if not isinstance(info, dict) or info.get("type") != "Scheduler":
        raise ServiceError(f"{address} answers, but not as a Dask scheduler.",
                           hint="Give the scheduler's address (usually port 8786), not a worker's or a web page's.")


@contextlib.contextmanager
def open_client(*, workers: int | None, scheduler: str | None, processes: bool = True,
                plugin: ModelPlugin | None = None, on_dashboard=None) -> Iterator[object]:
    """A ``distributed.Client``: to ``scheduler`` when given, else to a new LocalCluster of ``workers``."""

    cluster = None
    if scheduler:
        probe_scheduler(check_scheduler_address(scheduler), REGION.scheduler_timeout_s)
        try:
            client = Client(scheduler, timeout=f"{REGION.scheduler_timeout_s:g}s")
        except (OSError, TimeoutError) as err:
            log.warning("cannot reach the Dask scheduler %s: %s", scheduler, err)
            raise ServiceError(f"Cannot reach the Dask scheduler at {scheduler}.",
                               hint="Check the address and that the scheduler is running.") from None
    else:
        n = workers or default_workers()
        if n < 1:
            raise InputError(f"--workers must be at least 1; got {n}.")
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes, dashboard_address=":0",
                               silence_logs=logging.ERROR)
        client = Client(cluster)
        if plugin is not None and plugin.threads is None:
            plugin.threads = max(1, (os.cpu_count() or 1) // n) if processes else None
    try:
        if on_dashboard is not None:
            on_dashboard(client.dashboard_link)
        if plugin is not None:
            client.register_plugin(plugin)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
