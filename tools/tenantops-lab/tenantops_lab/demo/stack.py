"""The demo's local stand-ins for a cloud account and a cluster, started and stopped as one unit.

Order matters on the way up (the simulator must exist before Prometheus can be told to scrape it; the
targets must exist before the controller looks for them) and on the way down (the simulator stops reading
replicas before the servers it reads from go away). `DemoStack.close()` stops whatever was started, in
reverse order, and is safe to call from a signal handler's aftermath or twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantops.config import Config
from tenantops.structs.naming import asg_name, namespace
from tenantops_lab.sandbox.kube_api import KubeApiServer
from tenantops_lab.sandbox.moto_server import MotoServer
from tenantops_lab.sandbox.prometheus import PrometheusServer, Series
from tenantops_lab.sandbox.smtp import SmtpServer
from tenantops_lab.sandbox.workload_sim import Key, WorkloadSimulator, WorkloadSpec

log = logging.getLogger(__name__)

AMI = "ami-12c6146b"  # an image id moto knows; the demo never boots it


@dataclass
class StackOptions:
    scrape_interval: str = "2s"
    startup_seconds: float = 2.0
    speed: float = 1.0
    asg_poll_seconds: float = 0.5
    mail_dir: Path | None = None
    history: Sequence[Series] = ()  # backfilled into Prometheus before it starts (see demo.history)
    replay: bool = True  # start the replay with the stack (False: `sim.start_replay()` later)
    # Region to create every Auto Scaling group in; None: each tenant's own, where the regional actuator looks.
    asg_region: str | None = None


@dataclass
class DemoStack:
    """Running servers plus the simulator; build with `DemoStack.start(...)`."""

    config: Config
    specs: Sequence[WorkloadSpec]
    options: StackOptions
    kube: KubeApiServer = field(init=False)
    moto: MotoServer = field(init=False)
    smtp: SmtpServer = field(init=False)
    prometheus: PrometheusServer = field(init=False)
    sim: WorkloadSimulator = field(init=False)
    _exit: ExitStack = field(default_factory=ExitStack, init=False)

    @classmethod
    def start(cls, config: Config, specs: Sequence[WorkloadSpec], options: StackOptions | None = None,
              progress: Callable[[str], None] | None = None) -> DemoStack:
        stack = cls(config, specs, options or StackOptions())
        try:
            stack._start(progress or (lambda _msg: None))
        except BaseException:
            stack.close()
            raise
        return stack

    def _start(self, progress: Callable[[str], None]) -> None:
        progress("Kubernetes API stand-in")
        # Readiness follows the simulated pods (startup delay), not the spec, as in a real cluster.
        self.kube = self._exit.enter_context(KubeApiServer(auto_ready=False))
        progress("moto (AWS)")
        self.moto = MotoServer().start()
        self._exit.callback(self.moto.stop)
        progress("SMTP server")
        self.smtp = SmtpServer(eml_dir=self.options.mail_dir).start()
        self._exit.callback(self.smtp.stop)
        progress("tenant Deployments and Auto Scaling groups")
        self._create_targets()
        progress("workload simulator")
        self.sim = WorkloadSimulator(
            self.specs, speed=self.options.speed, startup_seconds=self.options.startup_seconds,
            replicas_source=ReplicaReader(self), ready_sink=self._set_ready,
            history_every=1.0 / self.options.speed,
        )
        self.sim.start(replay=self.options.replay)
        self._exit.callback(self.sim.stop)
        self.prometheus = PrometheusServer([self.sim.target], scrape_interval=self.options.scrape_interval)
        self._exit.callback(self.prometheus.close)
        if self.options.history:
            samples = sum(len(s.samples) for s in self.options.history)
            progress(f"backfilling {samples:,} samples of history ({len(self.options.history):,} series) "
                     "with promtool")
            # The OpenMetrics file is only promtool's input: the blocks it wrote are what Prometheus reads.
            self.prometheus.backfill(self.options.history).unlink(missing_ok=True)
        progress("Prometheus")
        self.prometheus.start()
        progress("waiting for the first scrape")
        self.prometheus.wait_for_series('kube_deployment_spec_replicas{namespace=~"tenant-.+"}', timeout=30)

    def _create_targets(self) -> None:
        env = self.config.catalog.environment
        templates: set[tuple[str, str]] = set()
        for spec in self.specs:
            tenant = self.config.tenant(spec.tenant)
            if tenant.isolation == "pool":
                self.kube.add_deployment(namespace(spec.tenant), spec.workload, replicas=spec.initial_replicas,
                                         cpu=_millicores(spec.cpu_request), memory=_mebibytes(spec.memory_request),
                                         labels={"app": spec.workload, "tenant": spec.tenant})
                self.kube.set_ready(namespace(spec.tenant), spec.workload, spec.initial_replicas)
                continue
            region = self.options.asg_region or tenant.region
            ec2 = self.moto.client("ec2", region)
            autoscaling = self.moto.client("autoscaling", region)
            workload = next(w for w in tenant.workloads if w.name == spec.workload)
            template = f"{asg_name(env, spec.tenant, spec.workload)}-lt"
            if (region, template) not in templates:
                ec2.create_launch_template(LaunchTemplateName=template, LaunchTemplateData={
                    "ImageId": AMI, "InstanceType": workload.silo_instance_type})
                templates.add((region, template))
            zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
            autoscaling.create_auto_scaling_group(
                AutoScalingGroupName=asg_name(env, spec.tenant, spec.workload),
                LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
                MinSize=spec.min_replicas, MaxSize=spec.max_replicas, DesiredCapacity=spec.initial_replicas,
                AvailabilityZones=zones,
                Tags=[{"Key": "tenant", "Value": spec.tenant, "PropagateAtLaunch": True},
                      {"Key": "managed-by", "Value": "tenantops", "PropagateAtLaunch": True}],
            )

    def _set_ready(self, key: Key, ready: int) -> None:
        tenant = self.config.tenant(key[0])
        if tenant.isolation == "pool":
            self.kube.set_ready(namespace(key[0]), key[1], ready)

    def env(self) -> dict[str, str]:
        """TENANTOPS_* settings pointing the controller at this stack."""
        return {
            **self.moto.env(),
            "TENANTOPS_PROMETHEUS_URL": self.prometheus.url,
            "TENANTOPS_KUBE_URL": self.kube.url,
            "TENANTOPS_SMTP_HOST": self.smtp.host,
            "TENANTOPS_SMTP_PORT": str(self.smtp.port),
        }

    def close(self) -> None:
        self._exit.close()


class ReplicaReader:
    """The simulator's view of what the controller set: Deployment spec.replicas and ASG desired capacity.

    Auto Scaling groups are read at most every `asg_poll_seconds` with one call per region, because every
    read is an HTTP round trip through moto while the Deployment store is in memory.
    """

    def __init__(self, stack: DemoStack) -> None:
        self.stack = stack
        self._asg: dict[Key, int] = {}
        self._asg_read_at = -1e18
        self._lock = threading.Lock()
        self._regions: dict[str, dict[str, Key]] = {}
        self._clients: dict[str, Any] = {}
        env = stack.config.catalog.environment
        for spec in stack.specs:
            tenant = stack.config.tenant(spec.tenant)
            if tenant.isolation == "silo":
                region = stack.options.asg_region or tenant.region
                self._regions.setdefault(region, {})[asg_name(env, spec.tenant, spec.workload)] = spec.key

    def __call__(self) -> Mapping[Key, int | None]:
        out: dict[Key, int | None] = {}
        for spec in self.stack.specs:
            if spec.isolation == "pool":
                out[spec.key] = self.stack.kube.replicas(namespace(spec.tenant), spec.workload)
        now = time.monotonic()
        with self._lock:
            if now - self._asg_read_at >= self.stack.options.asg_poll_seconds:
                self._asg_read_at = now
                self._asg.update(self._read_asgs())
            out.update(self._asg)
        return out

    def _read_asgs(self) -> dict[Key, int]:
        found: dict[Key, int] = {}
        for region, names in self._regions.items():
            client = self._clients.get(region)
            if client is None:
                client = self._clients[region] = self.stack.moto.client("autoscaling", region)
            response = client.describe_auto_scaling_groups(AutoScalingGroupNames=list(names))
            for group in response["AutoScalingGroups"]:
                key = names.get(group["AutoScalingGroupName"])
                if key is not None:
                    found[key] = int(group["DesiredCapacity"])
        return found


def _millicores(cores: float) -> str:
    return f"{round(cores * 1000)}m"


def _mebibytes(value: float) -> str:
    return f"{round(value / 2**20)}Mi"
