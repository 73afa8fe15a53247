import { BASE_URL } from '../constants';

export class DashboardPage {
  visit() {
    cy.visit(BASE_URL + '/dashboard');
    return this;
  }

  getAddNoteButton() {
    return cy.get('button[data-testid="add-note"]');
  }

  getToggleDetailsButton() {
    return cy.get('button[data-testid="toggle-details"]');
  }
}
