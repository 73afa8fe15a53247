import { BASE_URL } from '../constants';

export class HomePage {
  visit() {
    cy.visit(BASE_URL + '/');
    return this;
  }

  getUsernameField() {
    return cy.get('input[data-testid="username"]');
  }

  getPasswordField() {
    return cy.get('input[data-testid="password"]');
  }

  getLoginButton() {
    return cy.get('button[data-testid="login-button"]');
  }

  login(username, password) {
    this.getUsernameField().should('be.visible').clear({ force: true }).type(username, { force: true });
    this.getUsernameField().should('have.value', username);
    this.getPasswordField().should('be.visible').clear({ force: true }).type(password, { force: true });
    this.getPasswordField().should('have.value', password);
    this.getLoginButton().should('be.visible').click({ force: true });
    return this;
  }
}
