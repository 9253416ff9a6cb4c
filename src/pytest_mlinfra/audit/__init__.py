"""Cost-tag audit: the same policy checked on Terraform source, on a plan/state, and on live AWS.

Plain library objects (no pytest needed); ``mlinfra-audit`` (:mod:`.cli`) is the nightly command.
"""

from pytest_mlinfra.audit.findings import Finding
from pytest_mlinfra.audit.live import audit_live
from pytest_mlinfra.audit.plan import audit_plan
from pytest_mlinfra.audit.policy import Policy
from pytest_mlinfra.audit.render import render
from pytest_mlinfra.audit.static import audit_hcl
from pytest_mlinfra.audit.taggable import load_taggable

__all__ = ["Finding", "Policy", "audit_hcl", "audit_live", "audit_plan", "load_taggable", "render"]
