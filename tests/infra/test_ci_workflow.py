"""The infra CI workflow: previews with a read-only role, the diff commented on the pull request, dev before
prod, every preview and update with the policy pack; `pulumi up` with the deploy role from main only."""

from __future__ import annotations

from pathlib import Path

import yaml

from tenantops.cli.provision import POLICY_PACK

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_pull_requests_preview_dev_then_prod_and_main_applies_dev_then_prod() -> None:
    jobs = load("infra.yml")["jobs"]
    stack_jobs = {name: job for name, job in jobs.items() if job.get("uses") == "./.github/workflows/pulumi-stack.yml"}
    assert {n: (j["with"]["stack"], j["with"]["mode"]) for n, j in stack_jobs.items()} == {
        "preview-dev": ("dev", "preview"), "preview-prod": ("prod", "preview"),
        "up-dev": ("dev", "up"), "up-prod": ("prod", "up")}
    assert jobs["preview-dev"]["needs"] == "validate" and jobs["preview-prod"]["needs"] == "preview-dev"
    assert jobs["up-dev"]["needs"] == "validate" and jobs["up-prod"]["needs"] == "up-dev"
    for name in ("preview-dev", "preview-prod"):
        assert "pull_request" in jobs[name]["if"]
        assert jobs[name]["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    for name in ("up-dev", "up-prod"):
        assert "refs/heads/main" in jobs[name]["if"] and "push" in jobs[name]["if"]
        assert "pull-requests" not in jobs[name]["permissions"]
    assert load("infra.yml")["permissions"] == {"contents": "read"}  # nothing else unless a job asks
    validate_steps = " ".join(str(step.get("run", "")) for step in jobs["validate"]["steps"])
    assert "tests/infra" in validate_steps and "tenantops validate" in validate_steps


def test_a_preview_uses_the_read_only_role_runs_the_pack_and_comments_the_diff() -> None:
    workflow = load("pulumi-stack.yml")
    [job] = workflow["jobs"].values()
    steps = job["steps"]
    [credentials] = [s for s in steps if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")]
    role = credentials["with"]["role-to-assume"]
    assert role.index("TENANTOPS_DEPLOY_ROLE_ARN") < role.index("TENANTOPS_PREVIEW_ROLE_ARN")
    assert "inputs.mode == 'up' && vars.TENANTOPS_DEPLOY_ROLE_ARN" in role  # the deploy role only for `up`
    [preview] = [s for s in steps if s.get("with", {}).get("command") == "preview"]
    assert preview["if"] == "inputs.mode == 'preview'"
    assert preview["with"]["comment-on-pr"] is True and preview["with"]["edit-pr-comment"] is True
    assert (ROOT / preview["with"]["policyPacks"]).resolve() == POLICY_PACK.resolve()
    assert (POLICY_PACK / "PulumiPolicy.yaml").is_file()
    [up] = [s for s in steps if "tenantops provision" in str(s.get("run", ""))]
    assert up["if"] == "inputs.mode == 'up'" and "--up" in up["run"]  # provision passes the policy pack
