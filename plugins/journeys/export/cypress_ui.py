"""Cypress UI: the journey's interactions as a Page Object Model for Cypress.

Multi-file output (`// ===== File: <path> =====` separators): `constants.js` (BASE_URL and
credentials from `Cypress.env()`, the recorded values as defaults), one `pages/<Name>.js`
per page URL (a getter method per element, `visit()`, business methods returning `this`)
and `<journey>.cy.js`. Every action asserts visibility first and uses `{ force: true }`;
every fill asserts the value typed. An action that triggered a non-GET API call registers
`cy.intercept()` before it and `cy.wait('@alias')` on the status after it. Only the first
page is visited; later ones are awaited with `cy.url().should('include', path)`.
"""

from __future__ import annotations

import re

from plugins.journeys.export.model import JourneyExport
from plugins.journeys.export.pom.analysis import (
    Action,
    BusinessMethod,
    MethodCall,
    PageObject,
    PomModel,
    analyze_pom,
)
from plugins.journeys.export.pom.multifile import FileEntry, join_files
from plugins.journeys.export.pom.naming import is_id_segment
from plugins.journeys.export.pom.selectors import Locator, cypress_locator
from plugins.journeys.export.pom.text import js_string, slug

RENDER_PAUSE_MS = 1000  # the spec's pause after API waits, for the app to re-render


def generate(export: JourneyExport) -> str:
    model = analyze_pom(export)
    files = [FileEntry("constants.js", constants_file(model))]
    files += [FileEntry(f"pages/{p.class_name}.js", page_file(p, model)) for p in model.pages]
    files.append(FileEntry(f"{slug(model.name)}.cy.js", spec_file(model)))
    return join_files(files)


def constants_file(model: PomModel) -> str:
    lines = [f"export const {c.name} = Cypress.env({js_string(c.name)}) || {js_string(c.default)};"
             for c in model.constants]
    return "\n".join(lines) + "\n"


def locator_code(locator: Locator) -> str:
    match locator.kind:
        case "get_contains":
            code = f"cy.get({js_string(locator.css)}).contains({js_string(locator.text)})"
        case "contains" if locator.tag:
            code = f"cy.contains({js_string(locator.tag)}, {js_string(locator.text)})"
        case "contains":
            code = f"cy.contains({js_string(locator.text)})"
        case _:
            code = f"cy.get({js_string(locator.css)})"
    return code + (".first()" if locator.first else "")


def getter(name: str) -> str:
    return "get" + name[:1].upper() + name[1:]


def page_url_code(page: PageObject, model: PomModel) -> str:
    address, relative = page.address(model.base_url)
    return f"BASE_URL + {js_string(address)}" if relative else js_string(address)


def type_options(value: str) -> str:
    """`{` starts a key sequence ({enter}) for cy.type(); a recorded value is typed as it is."""
    return "{ force: true, parseSpecialCharSequences: false }" if "{" in value else "{ force: true }"


def action_lines(action: Action, element: str, value: str, recorded: str) -> list[str]:
    """The chained commands of one action on `element` (a getter call), with its assertions."""
    visible = f"{element}.should('be.visible')"
    match action.kind:
        case "fill" if recorded == "":
            return [f"{visible}.clear({{ force: true }});", f"{element}.should('have.value', '');"]
        case "fill":
            return [f"{visible}.clear({{ force: true }}).type({value}, {type_options(recorded)});",
                    f"{element}.should('have.value', {value});"]
        case "select":
            return [f"{visible}.select({value}, {{ force: true }});",
                    f"{element}.find('option:selected').should('have.text', {value});"]
        case "check":
            return [f"{visible}.check({{ force: true }});", f"{element}.should('be.checked');"]
        case "uncheck":
            return [f"{visible}.uncheck({{ force: true }});", f"{element}.should('not.be.checked');"]
        case "submit":
            return [f"{element}.submit();"]
        case _:
            return [f"{visible}.click({{ force: true }});"]


def page_file(page: PageObject, model: PomModel) -> str:
    url = page_url_code(page, model)
    lines = ["import { BASE_URL } from '../constants';", ""] if url.startswith("BASE_URL") else []
    lines += [f"export class {page.class_name} {{", "  visit() {", f"    cy.visit({url});", "    return this;", "  }"]
    for element in page.elements:
        lines += ["", f"  {getter(element.name)}() {{",
                  f"    return {locator_code(cypress_locator(element.target))};", "  }"]
    for method in page.methods:
        lines += ["", *method_code(method)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def method_code(method: BusinessMethod) -> list[str]:
    lines = [f"  {method.name}({', '.join(method.arguments)}) {{"]
    for param, action in zip(method.params, method.fills, strict=True):
        # A field the run empties is cleared (cy.type('') is an error); `action.value` says
        # whether the recorded value needs parseSpecialCharSequences off.
        lines += ["    " + line for line in action_lines(action, f"this.{getter(action.element.name)}()",
                                                           param or "''", action.value)]
    lines += ["    " + line for line in action_lines(method.submit, f"this.{getter(method.submit.element.name)}()", "", "")]
    lines += ["    return this;", "  }"]
    return lines


def spec_file(model: PomModel) -> str:
    body: list[str] = []
    for index, visit in enumerate(model.visits):
        if index == 0:
            body.append(f"    {visit.page.variable}.visit();")
        else:
            body += ["", f"    {url_check(visit.page.path)}"]
        for step in visit.steps:
            body += step_lines(visit.page, step)
    constants = model.constants_in_steps()
    lines = [f"import {{ {p.class_name} }} from './pages/{p.class_name}';" for p in model.pages]
    if constants:
        lines.append(f"import {{ {', '.join(constants)} }} from './constants';")
    lines += ["", f"describe({js_string(model.name)}, () => {{"]
    lines += [f"  const {p.variable} = new {p.class_name}();" for p in model.pages]
    lines += ["", "  it('follows the recorded journey', () => {", *body, "  });", "});"]
    return "\n".join(lines) + "\n"


def url_check(path: str) -> str:
    """Wait for a later page: its path, or a pattern when the path holds record ids (another
    id on replay)."""
    segments = path.split("/")
    if not any(s and is_id_segment(s) for s in segments):
        return f"cy.url().should('include', {js_string(path)});"
    pattern = "\\/".join("[^/]+" if s and is_id_segment(s) else re.escape(s) for s in segments)
    return f"cy.location('pathname').should('match', /^{pattern}$/);"


def value_code(action: Action) -> str:
    return action.constant or js_string(action.value)


def step_lines(page: PageObject, step: Action | MethodCall) -> list[str]:
    waits = step.waits
    lines = [f"    cy.intercept({js_string(w.method)}, {js_string(w.glob)}).as({js_string(w.alias)});" for w in waits]
    if isinstance(step, MethodCall):
        args = ", ".join(value_code(a) for a in step.arguments)
        lines.append(f"    {page.variable}.{step.method.name}({args});")
    else:
        element = f"{page.variable}.{getter(step.element.name)}()"
        lines += ["    " + line for line in action_lines(step, element, value_code(step), step.value)]
    for wait in waits:
        lines.append(f"    cy.wait({js_string('@' + wait.alias)}).its('response.statusCode').should('eq', {wait.status});")
    if waits:
        lines += ["    // Let the app render what the API answered (the spec's pause after API waits)",
                  "    // eslint-disable-next-line cypress/no-unnecessary-waiting",
                  f"    cy.wait({RENDER_PAUSE_MS});"]
    return lines
