export const BASE_URL = Cypress.env('BASE_URL') || 'http://127.0.0.1:8080';
export const USERNAME = Cypress.env('USERNAME') || 'alice';
export const PASSWORD = Cypress.env('PASSWORD') || 'secret';
