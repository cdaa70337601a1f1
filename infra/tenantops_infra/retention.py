"""What happens to a tenant's data when it leaves the catalogue (the tier's `data_retention`).

`retain`: the key, the bucket and the settings that guard the bucket (encryption, versioning, public
access block, policy) are `protect`ed, so a `pulumi up` after the tenant was removed fails instead of
deleting them, and `retain_on_delete`, so that once an operator deliberately unprotects them Pulumi
forgets them without deleting them in AWS. The guards are retained with the bucket: deleting only the
public access block of a kept bucket would quietly open it.
`delete`: everything goes with the tenant (free tiers; the key still waits out its deletion window).
"""

from __future__ import annotations

import pulumi


def data_options(parent: pulumi.Resource, *, retain: bool, provider: pulumi.ProviderResource | None = None,
                 depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
    """Options for a data resource (or a guard of one) under the tenant's retention policy."""
    return pulumi.ResourceOptions(
        parent=parent, provider=provider, protect=retain, retain_on_delete=retain, depends_on=depends_on
    )
