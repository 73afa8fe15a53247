// Journey "Login and add a note" (01JEXP0RT0000000000000000J), exported by Ghost: 4 requests.
// Run: npx cypress run --spec THIS_FILE (override any constant below with --env NAME=value).
const BASE_URL = Cypress.env("BASE_URL") || "http://127.0.0.1:8080";
const PASSWORD = Cypress.env("PASSWORD") || "secret";

describe("Login and add a note", () => {
  it("answers every recorded request as it did", () => {
    let TOKEN, LOCATION;

    // Step 1 — POST /api/auth
    cy.request({
      method: "POST",
      url: BASE_URL + "/api/auth",
      headers: {"Accept": "application/json", "Content-Type": "application/json"},
      body: "{\"username\":\"alice\",\"password\":\"" + PASSWORD + "\"}",
      followRedirect: false,
    }).then((response) => {
      expect(response.status, "step 1: POST").to.eq(200);
      expect(response.body).to.include.all.keys("token");
      // TOKEN: handed out by step 1 (JSON body ["token"]), sent back by later steps
      TOKEN = String(response.body["token"]);
    });

    // Step 2 — GET /api/items
    cy.wrap(null).then(() =>
      cy.request({
        method: "GET",
        url: BASE_URL + "/api/items",
        headers: {"Accept": "application/json", "Authorization": "Bearer " + TOKEN},
        followRedirect: false,
      }),
    ).then((response) => {
      expect(response.status, "step 2: GET").to.eq(200);
      expect(response.body).to.be.an("array");
      response.body.forEach((item) => expect(item).to.include.all.keys("id", "name"));
    });

    // Step 3 — POST /api/notes
    cy.wrap(null).then(() =>
      cy.request({
        method: "POST",
        url: BASE_URL + "/api/notes",
        headers: {"Accept": "application/json", "Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
        body: "{\"title\":\"Buy milk\"}",
        followRedirect: false,
      }),
    ).then((response) => {
      expect(response.status, "step 3: POST").to.eq(201);
      expect(response.body).to.include.all.keys("id", "title");
      // LOCATION: handed out by step 3 (response header location), sent back by later steps
      LOCATION = response.headers["location"];
    });

    // Step 4 — GET {LOCATION}
    cy.wrap(null).then(() =>
      cy.request({
        method: "GET",
        url: BASE_URL + LOCATION,
        headers: {"Accept": "application/json", "Authorization": "Bearer " + TOKEN},
        followRedirect: false,
      }),
    ).then((response) => {
      expect(response.status, "step 4: GET").to.eq(200);
      expect(response.body).to.include.all.keys("id", "title");
    });
  });
});
