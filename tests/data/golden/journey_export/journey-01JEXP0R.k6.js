// Journey "Login and add a note" (01JEXP0RT0000000000000000J), exported by Ghost: 4 requests.
// Run: k6 run THIS_FILE (override any constant below with -e NAME=value).
import http from "k6/http";
import { check, sleep } from "k6";

export const options = {
  vus: 1,
  iterations: 1,
  maxRedirects: 0, // each recorded status is checked as it was, redirects included
  thresholds: { checks: ["rate==1.0"] }, // a failed status check fails the run
};

const BASE_URL = __ENV.BASE_URL || "http://127.0.0.1:8080";
const PASSWORD = __ENV.PASSWORD || "secret";

function header(res, name) {
  for (const key in res.headers) {
    if (key.toLowerCase() === name) return res.headers[key];
  }
  return undefined;
}

// The JSON keys the recorded response had (of the body, or of each element when each is true).
function hasKeys(res, keys, each) {
  let body;
  try {
    body = res.json();
  } catch (e) {
    return false;
  }
  const objects = each ? body : [body];
  return Array.isArray(objects) && (each || !Array.isArray(body)) &&
    objects.every((o) => o !== null && typeof o === "object" && keys.every((k) => k in o));
}

export default function () {
  let res;
  let TOKEN, LOCATION;

  // Step 1 — POST /api/auth
  res = http.post(BASE_URL + "/api/auth", "{\"username\":\"alice\",\"password\":\"" + PASSWORD + "\"}", { headers: {"Accept": "application/json", "Content-Type": "application/json"} });
  check(res, {
    "step 1: POST status is 200": (r) => r.status === 200,
    "step 1: body has keys token": (r) => hasKeys(r, ["token"], false),
  });
  // TOKEN: handed out by step 1 (JSON body ["token"]), sent back by later steps
  TOKEN = res.json()["token"];
  sleep(1);

  // Step 2 — GET /api/items
  res = http.get(BASE_URL + "/api/items", { headers: {"Accept": "application/json", "Authorization": "Bearer " + TOKEN} });
  check(res, {
    "step 2: GET status is 200": (r) => r.status === 200,
    "step 2: body has keys id, name in each element": (r) => hasKeys(r, ["id", "name"], true),
  });
  sleep(1);

  // Step 3 — POST /api/notes
  res = http.post(BASE_URL + "/api/notes", "{\"title\":\"Buy milk\"}", { headers: {"Accept": "application/json", "Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"} });
  check(res, {
    "step 3: POST status is 201": (r) => r.status === 201,
    "step 3: body has keys id, title": (r) => hasKeys(r, ["id", "title"], false),
  });
  // LOCATION: handed out by step 3 (response header location), sent back by later steps
  LOCATION = header(res, "location");
  sleep(1);

  // Step 4 — GET {LOCATION}
  res = http.get(BASE_URL + LOCATION, { headers: {"Accept": "application/json", "Authorization": "Bearer " + TOKEN} });
  check(res, {
    "step 4: GET status is 200": (r) => r.status === 200,
    "step 4: body has keys id, title": (r) => hasKeys(r, ["id", "title"], false),
  });
}
