"""Components of the tenantops Pulumi program: one concept per module, composed by `infra/__main__.py`.

`documents` and `tags` are pure (strings in, dicts out) so that the isolation guarantees can be checked
without Pulumi; the component modules only wire those documents to cloud resources.
"""
