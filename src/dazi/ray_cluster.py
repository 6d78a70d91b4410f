"""Attaching to the Ray cluster named by ``DAZI_RAY_ADDRESS`` (jobs as Ray tasks, deployments on Ray Serve)."""

from __future__ import annotations

from dazi.config import Settings


def attach(settings: Settings) -> bool:
    """Connect this process to the cluster unless it already is; True when this call started Ray here
    (then the caller shuts it down when it stops). ``local`` starts a Ray instance in this process."""
    import ray

    if ray.is_initialized():
        return False
    address = None if settings.ray_address == "local" else settings.ray_address
    ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return True
