"""tenantops: the control plane that lets a multi-tenant SaaS grow its customers without growing its ops team."""

__version__ = "0.1.0"
