// Runs a cypress-api export against a live app without Cypress (its binary cannot be
// downloaded here): the few Cypress commands that export uses, with Cypress's semantics.
//
// - Commands are queued while the test body runs and run one after the other afterwards;
//   commands queued inside a `.then()` callback run before the chain goes on, and the
//   callback's returned chain (or its last queued command) yields the next subject.
// - `cy.request({method, url, headers, body, followRedirect, failOnStatusCode})` sends the
//   request with fetch: a JSON response body is parsed, header names are lowercase, a
//   status outside 2xx/3xx fails the test unless `failOnStatusCode: false`, and
//   `followRedirect: false` leaves a 3xx as it is.
// - `cy.wrap(value)`, `Cypress.env(name)` (from CYPRESS_<name>, as Cypress reads it),
//   `Cypress.Buffer`, chai's `expect`, `describe` and `it`.
//
// Usage: node run_cypress_api.mjs FILE
// Prints "passed: <test>" or "failed: <test>: <error>" per test; exits 1 when one failed.

import { readFileSync } from "node:fs";
import vm from "node:vm";
import { expect } from "chai";

class Chain {
  constructor(first) {
    this.links = [first];
  }

  then(callback) {
    this.links.push((subject) => runCallback(callback, subject));
    return this;
  }

  async run() {
    let subject;
    for (const link of this.links) subject = await link(subject);
    return subject;
  }
}

let queue = null; // the chains queued by the code running now

function enqueue(chain) {
  if (queue === null) throw new Error("a Cypress command was called outside a test");
  queue.push(chain);
  return chain;
}

async function runQueued(body) {
  const outer = queue;
  queue = [];
  let returned;
  let chains;
  try {
    returned = body();
  } finally {
    chains = queue;
    queue = outer;
  }
  let last;
  for (const chain of chains) last = await chain.run();
  return { returned, last, queued: chains.length };
}

async function runCallback(callback, subject) {
  const { returned, last, queued } = await runQueued(() => callback(subject));
  if (returned instanceof Chain) return last; // the returned chain was queued: its yield
  if (returned !== undefined) return returned;
  return queued ? last : subject;
}

async function request(options) {
  const init = { method: options.method ?? "GET", headers: options.headers ?? {},
                 redirect: options.followRedirect === false ? "manual" : "follow" };
  if (options.body !== undefined) init.body = options.body;
  const response = await fetch(options.url, init);
  const headers = {};
  response.headers.forEach((value, name) => { headers[name.toLowerCase()] = value; });
  const text = await response.text();
  let body = text;
  if ((headers["content-type"] ?? "").includes("json") && text) body = JSON.parse(text);
  if (options.failOnStatusCode !== false && (response.status < 200 || response.status >= 400)) {
    throw new Error(`cy.request() failed: ${init.method} ${options.url} answered ${response.status}`);
  }
  return { status: response.status, headers, body };
}

const tests = [];
const cy = {
  request: (options) => enqueue(new Chain(() => request(options))),
  wrap: (value) => enqueue(new Chain(() => value)),
};
const Cypress = {
  env: (name) => process.env[`CYPRESS_${name}`],
  Buffer,
};
const sandbox = {
  cy, Cypress, expect, Buffer, String, console,
  describe: (name, body) => body(),
  it: (name, body) => tests.push({ name, body }),
};

const file = process.argv[2];
vm.runInNewContext(readFileSync(file, "utf8"), sandbox, { filename: file });
let failed = 0;
for (const test of tests) {
  try {
    await runQueued(test.body);
    console.log(`passed: ${test.name}`);
  } catch (error) {
    failed += 1;
    console.log(`failed: ${test.name}: ${error.message}`);
  }
}
process.exit(failed || !tests.length ? 1 : 0);
