// Journey "Login and add a note" (01JEXP0RT0000000000000000J), exported by Ghost: 4 requests.
// Run: npx playwright test THIS_FILE (override any constant below from the environment).
import { test, expect } from "@playwright/test";

const BASE_URL = process.env.BASE_URL || "http://127.0.0.1:8080";
const PASSWORD = process.env.PASSWORD || "secret";

test("Login and add a note", async ({ request }) => {
  let TOKEN: string, LOCATION: string;

  // Step 1 — POST /api/auth
  const response1 = await request.post(BASE_URL + "/api/auth", { headers: {"Accept": "application/json", "Content-Type": "application/json"}, data: "{\"username\":\"alice\",\"password\":\"" + PASSWORD + "\"}", maxRedirects: 0 });
  expect(response1.status(), "step 1: POST").toBe(200);
  expect(Object.keys(await response1.json()), "step 1: body keys").toEqual(expect.arrayContaining(["token"]));
  // TOKEN: handed out by step 1 (JSON body ["token"]), sent back by later steps
  TOKEN = String((await response1.json())["token"]);

  // Step 2 — GET /api/items
  const response2 = await request.get(BASE_URL + "/api/items", { headers: {"Accept": "application/json", "Authorization": "Bearer " + TOKEN}, maxRedirects: 0 });
  expect(response2.status(), "step 2: GET").toBe(200);
  for (const item of await response2.json()) {
    expect(Object.keys(item), "step 2: body keys").toEqual(expect.arrayContaining(["id", "name"]));
  }

  // Step 3 — POST /api/notes
  const response3 = await request.post(BASE_URL + "/api/notes", { headers: {"Accept": "application/json", "Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}, data: "{\"title\":\"Buy milk\"}", maxRedirects: 0 });
  expect(response3.status(), "step 3: POST").toBe(201);
  expect(Object.keys(await response3.json()), "step 3: body keys").toEqual(expect.arrayContaining(["id", "title"]));
  // LOCATION: handed out by step 3 (response header location), sent back by later steps
  LOCATION = response3.headers()["location"];

  // Step 4 — GET {LOCATION}
  const response4 = await request.get(BASE_URL + LOCATION, { headers: {"Accept": "application/json", "Authorization": "Bearer " + TOKEN}, maxRedirects: 0 });
  expect(response4.status(), "step 4: GET").toBe(200);
  expect(Object.keys(await response4.json()), "step 4: body keys").toEqual(expect.arrayContaining(["id", "title"]));
});
