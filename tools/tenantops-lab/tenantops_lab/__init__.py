"""tenantops lab: what runs the controller on one machine, and what measures it; never part of the product.

- `sandbox`: real local servers on free loopback ports (Prometheus and Alertmanager, moto, SMTP, PostgreSQL)
  and the project's own stand-ins (the Kubernetes API, the workload simulator Prometheus scrapes);
- `demo`: the end-to-end demo stack behind `tenantops demo`;
- `bench`: the benchmarks behind `tenantops bench ...` (figures printed, `docs/benchmarks.md`);
- `cli`: the `demo`, `bench` and `faults` subcommands, registered with the product CLI through the
  `tenantops.commands` entry points.

The product (`tenantops`) never imports this package (an import-linter contract says so); this package
imports the product freely.
"""
