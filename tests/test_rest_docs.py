"""The OpenAPI document and the offline /docs page of the lab HTTP app."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import RestLab

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser")
                 if Path(p).exists()), None) or shutil.which("chromium")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_local_assets(rest_lab: RestLab, page: str) -> None:
    """/docs and /redoc load scripts and styles from the lab itself, never from a CDN."""
    html = httpx.get(rest_lab.base_url + page).text
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    urls = re.findall(r"""(?:url|openapi_url)\s*:\s*['"]([^'"]+)['"]""", html)
    assert refs, "la página no referencia ningún recurso"
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in refs + urls), refs
    for ref in refs:
        assert httpx.get(rest_lab.base_url + ref).status_code == 200, ref


def test_openapi_documents_every_pagination_parameter(rest_lab: RestLab) -> None:
    """The OpenAPI document lists the four styles' parameters with their limits."""
    spec = httpx.get(f"{rest_lab.base_url}/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/api/v1/orders"]["get"]["parameters"]}
    assert {"style", "offset", "limit", "page", "per_page", "cursor", "starting_after",
            "order"} <= set(params)
    limit = params["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 500)
    assert "/entries" in spec["paths"]
    assert "/__admin/faults" in spec["paths"]


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no hay Chromium en /usr/bin/chromium (CI lo instala)")
def test_swagger_ui_renders_operations_in_headless_chromium(rest_lab: RestLab) -> None:
    """Headless Chromium, with background networking off, renders the orders operations."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--virtual-time-budget=10000",
         "--dump-dom", f"{rest_lab.base_url}/docs"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "opblock" in result.stdout
    assert "/api/v1/orders" in result.stdout
