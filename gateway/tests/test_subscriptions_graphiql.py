"""GraphiQL at the gateway runs a subscription: headless Chromium (the Debian ``chromium``
package, driven by Playwright with ``executable_path``; no browser download) opens the bundled
page, starts a subscription, a mutation changes a thing, and the page shows the event.
"""

from __future__ import annotations

import json
import shutil

import pytest
from playwright.async_api import async_playwright

from .test_subscriptions import Stack, stack, token  # noqa: F401  (the module fixture)

CHROMIUM = shutil.which("chromium")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs the chromium package")

SET_EDITORS = """([query, headers]) => {
  const editors = [...document.querySelectorAll(".CodeMirror")].map((e) => e.CodeMirror);
  const queryEditor = document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror;
  queryEditor.setValue(query);
  const headersEditor = editors.find((e) => e.getValue().includes("Authorization"));
  headersEditor.setValue(headers);
}"""

RESPONSE = """() => {
  const el = document.querySelector(".graphiql-response .CodeMirror");
  return el ? el.CodeMirror.getValue() : "";
}"""


async def test_graphiql_runs_a_subscription(stack: Stack) -> None:  # noqa: F811
    before = await stack.stats()
    assert CHROMIUM is not None
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(stack.url)
            await page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=30_000)
            headers = json.dumps({"Authorization": f"Bearer {token('u1')}"})
            query = "subscription InBrowser { thingChanged { id name label } }"
            await page.evaluate(SET_EDITORS, [query, headers])
            # GraphiQL reads the operation name from the edited document (debounced): the tab
            # title shows it once it has.
            await page.wait_for_function(
                "() => [...document.querySelectorAll('.graphiql-tab')]"
                ".some((t) => t.textContent.includes('InBrowser'))",
                timeout=30_000,
            )
            await page.click(".graphiql-execute-button")
            await stack.wait_active(before["active"] + 1)
            await stack.change("t1", "from-the-browser")
            await page.wait_for_function(
                f"({RESPONSE})().includes('from-the-browser')", timeout=30_000
            )
            shown = json.loads(await page.evaluate(RESPONSE))
            assert shown == {
                "data": {
                    "thingChanged": {"id": "t1", "name": "from-the-browser", "label": "label-t1"}
                }
            }
            await page.click(".graphiql-execute-button")  # stop: the subscription ends
            await stack.wait_active(before["active"])
            assert not errors, errors
        finally:
            await browser.close()
