// Ghost's JavaScript addon prelude: runs first in every addon's own V8 context.
//
// It removes every global that is not an ECMAScript builtin, then defines `ghost`, the
// only API an addon has. The worker calls the hidden, non-enumerable `ghost.__dispatch__`
// and `ghost.__collect__` to run handlers; they return one JSON string per call.
(function () {
  'use strict';
  const G = globalThis;
  const stringify = JSON.stringify;
  const defineProperty = Object.defineProperty;
  const getOwnPropertyNames = Object.getOwnPropertyNames;
  const freeze = Object.freeze;
  const isArray = Array.isArray;
  const objectToString = Object.prototype.toString;
  const hasOwn = Object.prototype.hasOwnProperty;
  const StringC = String;
  const MapC = Map;
  const ProxyC = Proxy;
  const ErrorC = Error;
  const TypeErrorC = TypeError;
  const reflectGet = Reflect.get;
  const reflectHas = Reflect.has;
  const isInteger = Number.isInteger;

  const ECMASCRIPT_GLOBALS = [
    'globalThis', 'Infinity', 'NaN', 'undefined', 'eval', 'isFinite', 'isNaN', 'parseFloat',
    'parseInt', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape',
    'unescape', 'AggregateError', 'Array', 'ArrayBuffer', 'Atomics', 'BigInt', 'BigInt64Array',
    'BigUint64Array', 'Boolean', 'DataView', 'Date', 'Error', 'EvalError', 'FinalizationRegistry',
    'Float32Array', 'Float64Array', 'Function', 'Int8Array', 'Int16Array', 'Int32Array',
    'Iterator', 'JSON', 'Map', 'Math', 'Number', 'Object', 'Promise', 'Proxy', 'RangeError',
    'ReferenceError', 'Reflect', 'RegExp', 'Set', 'SharedArrayBuffer', 'String', 'Symbol',
    'SyntaxError', 'TypeError', 'Uint8Array', 'Uint8ClampedArray', 'Uint16Array',
    'Uint32Array', 'URIError', 'WeakMap', 'WeakRef', 'WeakSet',
  ];
  const allowed = new Set(ECMASCRIPT_GLOBALS);
  for (const name of getOwnPropertyNames(G)) {
    if (allowed.has(name)) continue;
    try { delete G[name]; } catch (e) { /* checked just below */ }
    if (hasOwn.call(G, name)) throw new ErrorC('cannot remove the global ' + name);
  }

  const MAX_LOG_LINES = 100;
  const MAX_LOG_CHARS = 10000;
  const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
  const BAD_VALUE = /[\r\n\0]/;

  const handlers = { request: [], response: [] };
  const store = new MapC();
  let logs = [];
  let dropped = 0;
  let pending = null;  // an async dispatch waiting for __collect__

  function show(value) {
    if (typeof value === 'string') return value;
    if (value === undefined) return 'undefined';
    if (typeof value === 'function') return '[function]';
    if (typeof value === 'symbol' || typeof value === 'bigint') return StringC(value);
    if (value instanceof ErrorC) return errorText(value);
    try {
      const text = stringify(value);
      return text === undefined ? StringC(value) : text;
    } catch (e) {
      return objectToString.call(value);
    }
  }

  function pushLog(level, args) {
    if (logs.length >= MAX_LOG_LINES) { dropped++; return; }
    let text = '';
    for (let i = 0; i < args.length; i++) text += (i ? ' ' : '') + show(args[i]);
    if (text.length > MAX_LOG_CHARS) text = text.slice(0, MAX_LOG_CHARS) + '... (cut)';
    logs.push([level, text]);
  }

  function takeLogs() {
    const out = logs;
    if (dropped) out.push(['warn', dropped + ' more log lines dropped (at most ' + MAX_LOG_LINES + ' per call)']);
    logs = [];
    dropped = 0;
    return out;
  }

  // "TypeError: x is not a function (line 3, column 7)", located in the addon's own code.
  function errorText(e) {
    if (e === null || (typeof e !== 'object' && typeof e !== 'function')) return StringC(e);
    let name = 'Error', message = '', stack = '';
    try { name = typeof e.name === 'string' ? e.name : name; } catch (x) { /* keep default */ }
    try { message = typeof e.message === 'string' ? e.message : objectToString.call(e); } catch (x) { /* */ }
    try { stack = typeof e.stack === 'string' ? e.stack : ''; } catch (x) { /* */ }
    const where = /addon\.js:(\d+):(\d+)/.exec(stack);
    let text = message ? name + ': ' + message : name;
    if (where) text += ' (line ' + where[1] + ', column ' + where[2] + ')';
    return text;
  }

  function checkName(name, what) {
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      throw new TypeErrorC(what + ' needs a header name made of letters, digits and !#$%&\'*+.^_`|~-, got ' + show(name));
    }
  }

  function checkStatus(status, what) {
    if (!isInteger(status) || status < 200 || status > 599) {
      throw new TypeErrorC(what + ' needs an integer status from 200 to 599, got ' + show(status));
    }
  }

  function headerText(value, what) {
    const text = StringC(value);
    if (BAD_VALUE.test(text)) throw new TypeErrorC(what + ' header values cannot contain CR, LF or NUL');
    return text;
  }

  // A header object read case-insensitively: headers['content-type'] === headers['Content-Type'].
  function makeHeaders(pairs) {
    const target = {};
    const lower = new MapC();
    for (const pair of pairs) {
      const key = lower.get(pair[0].toLowerCase());
      if (key === undefined) {
        defineProperty(target, pair[0], { value: pair[1], writable: true, enumerable: true, configurable: true });
        lower.set(pair[0].toLowerCase(), pair[0]);
      } else {
        target[key] = target[key] + ', ' + pair[1];
      }
    }
    const proxy = new ProxyC(target, {
      get(t, p, r) {
        if (typeof p === 'string' && !hasOwn.call(t, p)) {
          const key = lower.get(p.toLowerCase());
          if (key !== undefined) return t[key];
        }
        return reflectGet(t, p, r);
      },
      has(t, p) {
        return reflectHas(t, p) || (typeof p === 'string' && lower.has(p.toLowerCase()));
      },
    });
    return {
      proxy,
      set(name, value) {
        const key = lower.get(name.toLowerCase());
        if (key !== undefined) delete target[key];
        defineProperty(target, name, { value, writable: true, enumerable: true, configurable: true });
        lower.set(name.toLowerCase(), name);
      },
      remove(name) {
        const key = lower.get(name.toLowerCase());
        if (key !== undefined) { delete target[key]; lower.delete(name.toLowerCase()); }
      },
    };
  }

  function makeFlow(phase, data, answered) {
    const changes = { tags: [], headers: [], answer: null };
    const state = { open: true, answered };
    const req = data.request;
    const reqHeaders = makeHeaders(req.headers);
    const request = {
      method: req.method, url: req.url, host: req.host, path: req.path,
      headers: reqHeaders.proxy, body: req.body === undefined ? null : req.body,
    };
    let resHeaders = null;
    let response = null;
    if (data.response) {
      resHeaders = makeHeaders(data.response.headers);
      response = {
        status_code: data.response.status_code, headers: resHeaders.proxy,
        body: data.response.body === undefined ? null : data.response.body,
      };
    }
    const headers = phase === 'request' ? reqHeaders : resHeaders;
    function answer(kind, status, body, extra) {
      if (!state.open || state.answered) return false;
      state.answered = true;
      changes.answer = { kind, status, body, headers: extra };
      return true;
    }
    const flow = {
      request,
      response,
      tag(name) {
        if (typeof name !== 'string' || name.length === 0 || name.length > 100) {
          throw new TypeErrorC('flow.tag needs a string of 1 to 100 characters, got ' + show(name));
        }
        if (state.open && changes.tags.indexOf(name) < 0) changes.tags.push(name);
      },
      setHeader(name, value) {
        checkName(name, 'flow.setHeader');
        const text = headerText(value, 'flow.setHeader');
        if (!state.open) return;
        headers.set(name, text);
        changes.headers.push(['set', name, text]);
      },
      removeHeader(name) {
        checkName(name, 'flow.removeHeader');
        if (!state.open) return;
        headers.remove(name);
        changes.headers.push(['remove', name]);
      },
      block(status) {
        if (status === undefined) status = 403;
        checkStatus(status, 'flow.block');
        return answer('block', status, '', []);
      },
      respond(status, body, extra) {
        checkStatus(status, 'flow.respond');
        let text;
        const out = [];
        if (body === undefined || body === null) text = '';
        else if (typeof body === 'string') text = body;
        else {
          text = stringify(body);
          if (text === undefined) text = '';
          out.push(['Content-Type', 'application/json']);
        }
        if (extra !== undefined && extra !== null) {
          if (typeof extra !== 'object' || isArray(extra)) {
            throw new TypeErrorC('flow.respond headers must be an object of name: value, got ' + show(extra));
          }
          for (const name of getOwnPropertyNames(extra)) {
            checkName(name, 'flow.respond');
            const value = headerText(extra[name], 'flow.respond');
            if (name.toLowerCase() === 'content-type' && out.length && out[0][0] === 'Content-Type') out.shift();
            out.push([name, value]);
          }
        }
        return answer('respond', status, text, out);
      },
    };
    return { flow, changes, state };
  }

  function register(list, what) {
    return function (fn) {
      if (typeof fn !== 'function') throw new TypeErrorC(what + ' needs a function, got ' + show(fn));
      list.push(fn);
    };
  }

  // The answer when a handler changed and logged nothing (most calls): short to make, send and check.
  const UNCHANGED = '{"ok":true}';

  function finish(call, error) {
    call.state.open = false;
    if (error !== null) return stringify({ ok: false, error: error, logs: takeLogs() });
    const changes = call.changes;
    if (changes.tags.length === 0 && changes.headers.length === 0 && changes.answer === null &&
        logs.length === 0 && dropped === 0) {
      return UNCHANGED;
    }
    return stringify({ ok: true, changes: changes, logs: takeLogs() });
  }

  function dispatch(phase, data, answered) {
    const call = makeFlow(phase, data, answered);
    const list = handlers[phase];
    const label = phase === 'request' ? 'onRequest' : 'onResponse';
    const waiting = [];
    for (let i = 0; i < list.length; i++) {
      let result;
      try {
        result = list[i](call.flow);
      } catch (e) {
        return finish(call, label + ' handler threw ' + errorText(e));
      }
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        const entry = { done: false, error: null };
        waiting.push(entry);
        try {
          result.then(function () { entry.done = true; },
                      function (e) { entry.done = true; entry.error = label + ' handler rejected ' + errorText(e); });
        } catch (e) {
          return finish(call, label + ' handler returned a broken promise: ' + errorText(e));
        }
      }
    }
    if (waiting.length === 0) return finish(call, null);
    pending = { call, waiting, label };
    return stringify({ pending: true });
  }

  // Called right after an async dispatch: microtasks have run by then.
  function collect() {
    const p = pending;
    pending = null;
    if (p === null) return stringify({ ok: false, error: 'nothing to collect', logs: takeLogs() });
    for (const entry of p.waiting) {
      if (entry.error !== null) return finish(p.call, entry.error);
      if (!entry.done) {
        return finish(p.call, p.label + ' handler returned a promise that did not settle (addons have no timers or I/O to wait for)');
      }
    }
    return finish(p.call, null);
  }

  function loaded() {
    return stringify({ hooks: (handlers.request.length ? ['request'] : []).concat(handlers.response.length ? ['response'] : []), logs: takeLogs() });
  }

  const ghost = {
    onRequest: register(handlers.request, 'ghost.onRequest'),
    onResponse: register(handlers.response, 'ghost.onResponse'),
    log: function () { pushLog('info', arguments); },
    warn: function () { pushLog('warn', arguments); },
    error: function () { pushLog('error', arguments); },
    store: freeze({
      get: function (key) { return store.get(StringC(key)); },
      set: function (key, value) { store.set(StringC(key), value); },
      delete: function (key) { return store.delete(StringC(key)); },
    }),
  };
  defineProperty(ghost, '__dispatch__', { value: dispatch });
  defineProperty(ghost, '__collect__', { value: collect });
  defineProperty(ghost, '__loaded__', { value: loaded });
  defineProperty(ghost, '__error__', { value: errorText });
  freeze(ghost);
  defineProperty(G, 'ghost', { value: ghost, writable: false, enumerable: false, configurable: false });
})();
//# sourceURL=ghost-prelude.js
