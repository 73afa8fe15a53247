"""Playwright UI: the journey's interactions as a Page Object Model for @playwright/test.

Multi-file output (`// ===== File: <path> =====` separators): `constants.ts` (BASE_URL and
credentials from `process.env`, the recorded values as defaults), one `pages/<Name>.ts`
per page URL (readonly Locator fields, a typed constructor, `goto()`, async business
methods) and `<journey>.spec.ts` (test.describe, test.beforeEach, the test body). Each
action that triggered a non-GET API call waits for its response (`page.waitForResponse` on
the glob the Cypress intercepts use) and checks its status; a later page is awaited with
`page.waitForURL()` rather than navigated to.
"""

from __future__ import annotations

from plugins.journeys.export.model import JourneyExport
from plugins.journeys.export.pom.analysis import (
    Action,
    ApiWait,
    BusinessMethod,
    MethodCall,
    PageObject,
    PomModel,
    analyze_pom,
)
from plugins.journeys.export.pom.multifile import FileEntry, join_files
from plugins.journeys.export.pom.naming import api_glob
from plugins.journeys.export.pom.selectors import Locator, playwright_locator
from plugins.journeys.export.pom.text import js_string, slug

DEFAULT_TEST_ID_ATTRIBUTE = "data-testid"


def generate(export: JourneyExport) -> str:
    model = analyze_pom(export)
    files = [FileEntry("constants.ts", constants_file(model))]
    files += [FileEntry(f"pages/{p.class_name}.ts", page_file(p, model, export.test_id_attribute)) for p in model.pages]
    files.append(FileEntry(f"{slug(model.name)}.spec.ts", spec_file(model, export.test_id_attribute)))
    return join_files(files)


def constants_file(model: PomModel) -> str:
    lines = [f"export const {c.name} = process.env.{c.name} || {js_string(c.default)};" for c in model.constants]
    return "\n".join(lines) + "\n"


def locator_code(locator: Locator) -> str:
    """The Playwright call for a chain step, on `page`."""
    exact = ", { exact: true }" if locator.exact else ""
    match locator.kind:
        case "test_id":
            code = f"page.getByTestId({js_string(locator.text)})"
        case "role":
            code = f"page.getByRole({js_string(locator.role)}, {{ name: {js_string(locator.text)} }})"
        case "label":
            code = f"page.getByLabel({js_string(locator.text)})"
        case "text":
            code = f"page.getByText({js_string(locator.text)}{exact})"
        case "css_text":
            code = f"page.locator({js_string(locator.css)}).getByText({js_string(locator.text)}{exact})"
        case "placeholder":
            code = f"page.getByPlaceholder({js_string(locator.text)})"
        case _:
            code = f"page.locator({js_string(locator.css)})"
    return code + (".first()" if locator.first else "")


def page_url_code(page: PageObject, model: PomModel) -> str:
    address, relative = page.address(model.base_url)
    return f"BASE_URL + {js_string(address)}" if relative else js_string(address)


def action_code(action: Action, target: str, value: str) -> str:
    """One awaited Playwright action on `target` (a locator expression)."""
    match action.kind:
        case "fill":
            return f"await {target}.fill({value});"
        case "select":
            return f"await {target}.selectOption({{ label: {value} }});"
        case "check":
            return f"await {target}.check();"
        case "uncheck":
            return f"await {target}.uncheck();"
        case "submit":
            return f"await {target}.evaluate((form) => (form as HTMLFormElement).requestSubmit());"
        case _:
            return f"await {target}.click();"


def value_code(action: Action) -> str:
    return action.constant or js_string(action.value)


def page_file(page: PageObject, model: PomModel, test_id_attribute: str) -> str:
    url = page_url_code(page, model)
    lines = ["import type { Locator, Page } from '@playwright/test';"]
    if url.startswith("BASE_URL"):
        lines.append("import { BASE_URL } from '../constants';")
    lines += ["", f"export class {page.class_name} {{", "  readonly page: Page;"]
    lines += [f"  readonly {e.name}: Locator;" for e in page.elements]
    lines += ["", "  constructor(page: Page) {", "    this.page = page;"]
    for element in page.elements:
        lines.append(f"    this.{element.name} = {locator_code(playwright_locator(element.target, test_id_attribute))};")
    lines += ["  }", "", "  async goto() {", f"    await this.page.goto({url});", "  }"]
    for method in page.methods:
        lines += ["", *method_code(method)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def method_code(method: BusinessMethod) -> list[str]:
    params = ", ".join(f"{p}: string" for p in method.arguments)
    lines = [f"  async {method.name}({params}) {{"]
    for param, action in zip(method.params, method.fills, strict=True):
        lines.append("    " + action_code(action, f"this.{action.element.name}", param or "''"))
    lines.append("    " + action_code(method.submit, f"this.{method.submit.element.name}", ""))
    lines.append("  }")
    return lines


def wait_url_glob(page: PageObject) -> str:
    return api_glob(page.path) if page.path != "/" else "**/"


def spec_file(model: PomModel, test_id_attribute: str) -> str:
    body: list[str] = []
    for index, visit in enumerate(model.visits):
        if index > 0:
            body += ["", f"    await page.waitForURL({js_string(wait_url_glob(visit.page))});"]
        for step in visit.steps:
            body += step_code(visit.page, step)
    waits = any(step.waits for visit in model.visits for step in visit.steps)
    uses_page = waits or len(model.visits) > 1
    constants = model.constants_in_steps()
    lines = [f"import {{ {'test, expect' if waits else 'test'} }} from '@playwright/test';"]
    lines += [f"import {{ {p.class_name} }} from './pages/{p.class_name}';" for p in model.pages]
    if constants:
        lines.append(f"import {{ {', '.join(constants)} }} from './constants';")
    lines.append("")
    if test_id_attribute != DEFAULT_TEST_ID_ATTRIBUTE:
        lines += [f"test.use({{ testIdAttribute: {js_string(test_id_attribute)} }});", ""]
    lines.append(f"test.describe({js_string(model.name)}, () => {{")
    lines += [f"  let {p.variable}: {p.class_name};" for p in model.pages]
    lines += ["", "  test.beforeEach(async ({ page }) => {"]
    lines += [f"    {p.variable} = new {p.class_name}(page);" for p in model.pages]
    if model.visits:
        lines.append(f"    await {model.visits[0].page.variable}.goto();")
    lines += ["  });", "", f"  test('follows the recorded journey', async ({'{ page }' if uses_page else ''}) => {{"]
    lines += body
    lines += ["  });", "});"]
    return "\n".join(lines) + "\n"


def step_code(page: PageObject, step: Action | MethodCall) -> list[str]:
    waits = step.waits
    lines = [f"    const {w.alias} = page.waitForResponse({js_string(w.glob)});" for w in waits]
    if isinstance(step, MethodCall):
        args = ", ".join(value_code(a) for a in step.arguments)
        lines.append(f"    await {page.variable}.{step.method.name}({args});")
    else:
        lines.append("    " + action_code(step, f"{page.variable}.{step.element.name}", value_code(step)))
    lines += [_status_check(w) for w in waits]
    return lines


def _status_check(wait: ApiWait) -> str:
    return f"    expect((await {wait.alias}).status(), {js_string(f'{wait.method} {wait.glob}')}).toBe({wait.status});"
