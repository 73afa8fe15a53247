// Loaded by `scripts/ghost run` (NODE_OPTIONS=--require) so Node's fetch goes through Ghost.
// Node 24.5+ and 22.21+ do it themselves with NODE_USE_ENV_PROXY=1; older ones (Node 20)
// ignore HTTP(S)_PROXY in fetch. There this gives fetch's own undici Agent a connector that
// opens a CONNECT tunnel through the proxy (with the client name from the proxy URL's user),
// and TLS inside it; Ghost's CA comes from NODE_EXTRA_CA_CERTS as usual.
"use strict";

const [major, minor] = process.versions.node.split(".").map(Number);
const nativeEnvProxy = major > 24 || (major === 24 && minor >= 5) || (major === 22 && minor >= 21);
const proxyUrl = process.env.HTTPS_PROXY || process.env.https_proxy || "";

if (!nativeEnvProxy && proxyUrl && typeof fetch === "function") {
  const http = require("node:http");
  const net = require("node:net");
  const tls = require("node:tls");

  const proxy = new URL(proxyUrl);
  const authorization = proxy.username
    ? "Basic " + Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`)
      .toString("base64")
    : "";
  const noProxy = (process.env.NO_PROXY || process.env.no_proxy || "")
    .split(",").map((entry) => entry.trim().toLowerCase()).filter(Boolean);
  const bypassed = (host) => noProxy.some((entry) => entry === "*" || host === entry.replace(/^\./, "") ||
    host.endsWith(entry.startsWith(".") ? entry : `.${entry}`));

  function secure(socket, opts, callback) {
    const secured = tls.connect({ socket, servername: opts.servername || opts.hostname, ALPNProtocols: ["http/1.1"] });
    secured.once("secureConnect", () => callback(null, secured));
    secured.once("error", callback);
  }

  function connect(opts, callback) {
    const port = Number(opts.port) || (opts.protocol === "https:" ? 443 : 80);
    if (bypassed(opts.hostname.toLowerCase())) {
      const socket = net.connect(port, opts.hostname);
      socket.once("error", callback);
      socket.once("connect", () => (opts.protocol === "https:" ? secure(socket, opts, callback) : callback(null, socket)));
      return;
    }
    const target = `${opts.hostname.includes(":") ? `[${opts.hostname}]` : opts.hostname}:${port}`;
    const request = http.request({
      host: proxy.hostname, port: Number(proxy.port) || 80, method: "CONNECT", path: target,
      headers: { Host: target, ...(authorization ? { "Proxy-Authorization": authorization } : {}) },
    });
    request.once("connect", (response, socket) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        callback(new Error(`the proxy ${proxy.host} refused CONNECT ${target}: ${response.statusCode}`));
      } else if (opts.protocol === "https:") {
        secure(socket, opts, callback);
      } else {
        callback(null, socket);
      }
    });
    request.once("error", callback);
    request.end();
  }

  const key = Symbol.for("undici.globalDispatcher.1");
  fetch("data:,").catch(() => {}); // makes fetch's global Agent, whose class is reused here
  const Agent = globalThis[key] && globalThis[key].constructor;
  if (typeof Agent === "function") globalThis[key] = new Agent({ connect });
}
